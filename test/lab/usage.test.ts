// What `make lab` prints: how to use the two hosts, and how to reach the box's API when it has a management NIC.
import test from 'ava';
import type { Lab, TestHost } from '../../src/lab/hosts.ts';
import { usage } from '../../src/lab/lab.ts';

const host = (name: string, address: string) => ({ name, address, netns: `pw-${name}` }) as TestHost;
const lab = { left: host('left', '198.18.0.1'), right: host('right', '198.18.0.2') } as Lab;

test('the lab prints curl lines with its token and forwarded address for every endpoint it names', (t) => {
  const text = usage(lab, { url: 'http://127.0.0.1:40123', token: 'lab-token-0123456789' });
  for (const path of ['/api/v1/status', '/api/v1/profile', '/api/v1/ipfw', '/api/v1/events', '/metrics']) {
    t.true(text.includes(`curl -H 'Authorization: Bearer lab-token-0123456789'`) && text.includes(`http://127.0.0.1:40123${path}`), path);
  }
  t.regex(text, /management NIC 198\.19\.0\.15/);
  t.true(text.includes('open http://127.0.0.1:40123/ in a browser on this machine and log in with the token lab-token-0123456789'), 'the web page');
});

test('with the user keys handed over, the lab prints the ssh line to its forwarded port; without, none', (t) => {
  t.true(usage(lab, { url: 'http://127.0.0.1:40123', token: 'lab-token-0123456789', sshPort: 40222 }).includes('ssh -p 40222 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1 picowire status'));
  t.notRegex(usage(lab, { url: 'http://127.0.0.1:40123', token: 'lab-token-0123456789' }), /ssh -p/);
});

test('without a management NIC the lab prints no API lines', (t) => {
  const text = usage(lab);
  t.notRegex(text, /curl|Bearer|browser/);
  t.regex(text, /ip netns exec pw-left ping 198\.18\.0\.2/);
});
