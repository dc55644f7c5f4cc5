// The HTTP API on the real image (issue 15): the lab box gets a third NIC on QEMU's user network
// (198.19.0.0/24, restrict=on), whose port 80 QEMU forwards to a port of 127.0.0.1; the test reaches
// the API there only. Every endpoint and the token; a PUT that changes the link, measured by ping
// between the lab's hosts, and a bad one that does not; nothing reaches the box from the bridge
// ports; and a bounded fuzz of hostile requests that neither crashes the agent nor changes the link.
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { runOnConsole } from '../../src/lab/console.ts';
import type { TestHost } from '../../src/lab/hosts.ts';
import { MANAGEMENT_ADDRESS, withLab, type ManagementAccess } from '../../src/lab/lab.ts';
import { pingRtt } from '../../src/lab/measure.ts';
import type { Vm } from '../../src/lab/qemu.ts';
import { median } from '../../src/lab/stats.ts';
import { IMAGES, testNeeding } from '../helpers/env.ts';
import { random } from '../helpers/random.ts';

const PXE = join(IMAGES, 'default-pxe');
const NEEDS = ['root', 'qemu', 'image'] as const;
const TOKEN = 'vm-test-token-2f8a9c1d7e3b4a50';
/** one way's delay of each profile: the ping RTT is twice it */
const profile = (name: string, delay: string) => ({ name, pipes: { up: { delay }, down: { delay } }, rules: [{ from: 'a', pipe: 'up' }, { from: 'b', pipe: 'down' }] });
const slow = profile('slow', '10ms');
const slower = profile('slower', '40ms');
const boot = (fn: (lab: { left: TestHost; right: TestHost }, vm: Vm, api: ManagementAccess) => Promise<void>) =>
  withLab(PXE, 'direct', JSON.stringify(slow), async (lab, vm, api) => {
    await runOnConsole(vm, 'dmesg -n 1', 30_000);
    // the API starts once the agent is ready and the lease has come
    await vm.waitFor(/picowire: API on http:\/\/198\.19\.0\.15\/ \(management NIC \S+\)/, 60_000);
    await fn(lab, vm, api!);
  }, { management: true, qemu: { fwCfg: { token: TOKEN } } });

/** One request to the lab box's API through QEMU's forward; `token` null sends none. */
async function call(api: ManagementAccess, method: string, path: string, opts: { token?: string | null; body?: string; type?: string } = {}) {
  const token = opts.token === undefined ? TOKEN : opts.token;
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { ...(token !== null && { authorization: `Bearer ${token}` }), ...(opts.type && { 'content-type': opts.type }) },
    body: opts.body,
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> & { errors: string[] } };
}

/** Median ping RTT from left to right, in ms. */
async function rtt(lab: { left: TestHost; right: TestHost }): Promise<number> {
  return median((await pingRtt(lab.left, lab.right, { count: 20, intervalS: 0.05 })).rttsMs);
}

/** Asserts an RTT is twice the one-way delay, with what TCG adds on top (0-15 ms in these runs). */
function near(t: ExecutionContext, measured: number, oneWayMs: number, what: string): void {
  t.log(`${what}: RTT median ${measured.toFixed(1)} ms, the profile says ${2 * oneWayMs} ms`);
  t.true(measured >= 2 * oneWayMs && measured < 2 * oneWayMs + 15, `${what}: RTT ${measured} ms is not ${2 * oneWayMs} ms (+ up to 15 ms)`);
}

testNeeding([...NEEDS], 'the API on the management NIC: every endpoint, the token, a PUT measured on the wire, a bad PUT that changes nothing, and nothing from the bridge ports', async (t) => {
  await boot(async (lab, vm, api) => {
    // health without a token; everything else refuses a missing or wrong one
    const health = await call(api, 'GET', '/healthz', { token: null });
    t.is(health.status, 200);
    t.deepEqual(health.json(), { inForce: true });
    for (const [method, path] of [['GET', '/api/v1/status'], ['GET', '/api/v1/profile'], ['PUT', '/api/v1/profile'], ['GET', '/api/v1/ipfw'], ['POST', '/api/v1/ipfw'], ['GET', '/api/v1/events'], ['GET', '/metrics']]) {
      const body = method === 'GET' ? {} : { body: JSON.stringify(slower), type: method === 'PUT' ? 'application/json' : 'text/plain' };
      const none = await call(api, method!, path!, { token: null, ...body });
      t.is(none.status, 401, `${method} ${path} without a token`);
      t.is(none.headers.get('www-authenticate'), 'Bearer realm="picowire"');
      const wrong = await call(api, method!, path!, { token: `${TOKEN.slice(0, -1)}x`, ...body });
      t.is(wrong.status, 401, `${method} ${path} with a wrong token`);
    }

    // status, profile and metrics of what booted
    const status = await call(api, 'GET', '/api/v1/status');
    t.is(status.status, 200);
    t.is(status.json().profile, 'slow');
    t.like((await call(api, 'GET', '/api/v1/profile')).json(), slow);
    near(t, await rtt(lab), 10, 'booted with slow');
    const metrics = await call(api, 'GET', '/metrics');
    t.is(metrics.status, 200);
    t.regex(metrics.text, /^picowire_profile_info\{name="slow"\} 1$/m);
    t.regex(metrics.text, /^picowire_profile_applied_timestamp_seconds \d+(\.\d+)?$/m);
    const upPackets = Number(/^picowire_pipe_packets_total\{pipe="up",instance="0",port="b"\} (\d+)$/m.exec(metrics.text)?.[1]);
    t.true(upPackets >= 20, `the up pipe counted the 20 pings (${upPackets})`);
    t.regex(metrics.text, /^picowire_rule_packets_total\{rule="100",action="pipe",target="up"\} \d+$/m);

    // the event stream: counters at once and every second, and the change the PUT below makes
    const events: { event: string; data: Record<string, unknown> }[] = [];
    const stream = new AbortController();
    const reading = (async () => {
      const res = await fetch(`${api.url}/api/v1/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: stream.signal });
      t.is(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      let buffer = '';
      for await (const chunk of res.body!) {
        buffer += Buffer.from(chunk).toString();
        for (let end; (end = buffer.indexOf('\n\n')) !== -1; buffer = buffer.slice(end + 2)) {
          const block = buffer.slice(0, end);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
      }
    })().catch(() => undefined);
    await sleep(3000);

    // a PUT changes the link, as ping between the hosts measures it
    const put = await call(api, 'PUT', '/api/v1/profile', { body: JSON.stringify(slower), type: 'application/json' });
    t.is(put.status, 200, put.text);
    t.is(put.json().applied, 'slower');
    near(t, await rtt(lab), 40, 'after PUT slower');
    t.regex(vm.console, /picowire: profile from the API \(PUT \/api\/v1\/profile from [\d.]+:\d+\)\r?\n/);

    await sleep(2500);
    stream.abort();
    await reading;
    const counters = events.filter((e) => e.event === 'counters');
    t.log(`event stream: ${counters.length} counter events in about 5.5 s, then ${events.filter((e) => e.event === 'profile').length} profile event(s)`);
    t.true(counters.length >= 4, `counters at least once a second (${counters.length} in ~5.5 s)`);
    t.is(counters[0]!.data.profile, 'slow');
    t.is(counters.at(-1)!.data.profile, 'slower');
    t.like(events.find((e) => e.event === 'profile')?.data ?? {}, { kind: 'applied', name: 'slower' });

    // a bad PUT: 422 with every error, and the link stays as it was
    const bad = await call(api, 'PUT', '/api/v1/profile', { body: JSON.stringify({ name: 'bad', pipes: { up: { delay: '1ms', bw: '9 parsecs', plr: 7 } }, rules: [{ from: 'z', pipe: 'up' }] }), type: 'application/json' });
    t.is(bad.status, 422);
    const errors = bad.json().errors;
    t.true(errors.some((e) => e.includes('profile.pipes.up.bw') && e.includes('"9 parsecs"') && e.includes('allowed')), errors.join('\n'));
    t.true(errors.some((e) => e.includes('profile.pipes.up.plr')), errors.join('\n'));
    t.true(errors.some((e) => e.includes('profile.rules[0].from')), errors.join('\n'));
    t.is((await call(api, 'PUT', '/api/v1/profile', { body: '{"name": "x",', type: 'application/json' })).status, 400);
    t.is((await call(api, 'PUT', '/api/v1/profile', { body: JSON.stringify(slow), type: 'text/plain' })).status, 415);
    t.is((await call(api, 'PUT', '/api/v1/profile', { body: 'x'.repeat(1024 * 1024 + 1), type: 'application/json' })).status, 413);
    t.is((await call(api, 'DELETE', '/api/v1/profile')).status, 405);
    t.is((await call(api, 'GET', '/api/v1/nothing')).status, 404);
    t.is((await call(api, 'GET', '/api/v1/profile')).json().name, 'slower', 'the previous profile stays in force');
    near(t, await rtt(lab), 40, 'after the bad PUTs');

    // ipfw: one command amends the profile in force, as `picowire ipfw` does; the link follows
    const ipfw = await call(api, 'POST', '/api/v1/ipfw', { body: 'pipe 1 config delay 20ms', type: 'text/plain' });
    t.is(ipfw.status, 200, ipfw.text);
    const shown = await call(api, 'GET', '/api/v1/ipfw');
    t.regex(shown.text, /pipe 1 config delay 20ms/);
    const inForce = (await call(api, 'GET', '/api/v1/profile')).json() as unknown as { pipes: Record<string, { delay: string }> };
    const oneWay = Object.values(inForce.pipes).reduce((sum, p) => sum + parseFloat(p.delay), 0);
    near(t, await rtt(lab), oneWay / 2, `after ipfw (pipes ${JSON.stringify(inForce.pipes)})`);
    await call(api, 'PUT', '/api/v1/profile', { body: JSON.stringify(slower), type: 'application/json' });

    // nothing reaches the box from the bridge ports: no address on them, a listener on the
    // management address only, no ARP answer for it on the wire, and a host that sends to the
    // bridge's MAC anyway is dropped before the box's IP stack sees it
    const addrs = await runOnConsole(vm, '/sbin/ip -o addr show; busybox netstat -ltn', 30_000);
    t.log(addrs);
    t.notRegex(addrs, /^\d+: (a|b|br0) +inet /m, 'no IPv4 address on the bridge or its ports');
    t.notRegex(addrs, /^\d+: (a|b|br0) +inet6/m, 'no IPv6 address on the bridge or its ports');
    t.regex(addrs, new RegExp(`tcp +\\d+ +\\d+ ${MANAGEMENT_ADDRESS.replace(/\./g, '\\.')}:80 `), 'the API listens on the management address');
    t.notRegex(addrs, /0\.0\.0\.0:80 |:::80 /, 'and not on a wildcard address');
    const left = lab.left;
    await left.exec(['ip', 'route', 'replace', `${MANAGEMENT_ADDRESS}/32`, 'dev', left.ifname]);
    await left.exec(['ping', '-c', '3', '-i', '0.2', '-W', '1', MANAGEMENT_ADDRESS], { timeoutMs: 10_000 });
    const neigh = (await left.exec(['ip', 'neigh', 'show', MANAGEMENT_ADDRESS, 'dev', left.ifname])).stdout.trim();
    t.log(`left host's neighbour entry for ${MANAGEMENT_ADDRESS}: ${neigh || '(none)'}`);
    t.notRegex(neigh, /lladdr/, 'no ARP answer for the management address on the wire');
    const before = await guardDrops(vm);
    // the bridge's MAC is port a's (the lower): a host that knows it sends straight to the box
    await left.exec(['ip', 'neigh', 'replace', MANAGEMENT_ADDRESS, 'lladdr', '52:54:00:70:77:0a', 'dev', left.ifname, 'nud', 'permanent']);
    const curl = await left.exec(['curl', '-s', '-m', '3', '-o', '/dev/null', '-w', '%{http_code}', `http://${MANAGEMENT_ADDRESS}/healthz`], { timeoutMs: 10_000 });
    t.not(curl.exitCode, 0, `a host on the wire got an HTTP answer: ${curl.stdout}`);
    const after = await guardDrops(vm);
    t.log(`the bridge input chain dropped ${after - before} frames of the curl (SYN and its retries)`);
    t.true(after > before, 'the frames reached the box and were dropped at the bridge, before IP');
    t.is((await call(api, 'GET', '/healthz', { token: null })).status, 200, 'the API still answers on the management NIC');

    // an address the management NIC gets (a new lease) is served within a second or two; one it loses is no longer
    await runOnConsole(vm, '/sbin/ip addr add 198.19.0.99/24 dev $(ls /sys/class/net | grep -v -e ^a$ -e ^b$ -e br0 -e lo | head -1)', 30_000);
    await vm.waitFor(/picowire: API on http:\/\/198\.19\.0\.99\/ \(management NIC \S+\)/, 10_000);
    t.regex(await runOnConsole(vm, 'busybox netstat -ltn', 30_000), /198\.19\.0\.99:80 /);
    await runOnConsole(vm, '/sbin/ip addr del 198.19.0.99/24 dev $(ls /sys/class/net | grep -v -e ^a$ -e ^b$ -e br0 -e lo | head -1)', 30_000);
    await vm.waitFor(/picowire: API no longer on http:\/\/198\.19\.0\.99\/: the address went away/, 10_000);
    t.notRegex(await runOnConsole(vm, 'busybox netstat -ltn', 30_000), /198\.19\.0\.99:80 /);
    t.is((await call(api, 'GET', '/healthz', { token: null })).status, 200, 'the lease address is still served');
  });
});

/** Frames the bridge's input chain has dropped so far (guard.ts), from its counter. */
async function guardDrops(vm: Vm): Promise<number> {
  const out = await runOnConsole(vm, '/usr/sbin/nft list table bridge picowire_guard', 30_000);
  const m = /counter packets (\d+) bytes \d+ drop/.exec(out);
  if (!m) throw new Error(`no counter in the guard table:\n${out}`);
  return Number(m[1]);
}

// ---- fuzz -------------------------------------------------------------------------------------

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'get', 'PUT ', 'G\u0000T', 'PROPFIND', ''];
const PATHS = [
  '/healthz', '/api/v1/status', '/api/v1/profile', '/api/v1/ipfw', '/api/v1/ipfw?replace=2', '/api/v1/events', '/metrics', '/', '*', '/api/v1/../../../etc/passwd',
  '/%2e%2e/%2e%2e/etc/passwd', '/api/v1/profile%00', '/api/v1/profile/..%2f..%2f', '//api/v1/status', 'http://198.19.0.15/api/v1/status', '/api/v1/status?' + 'a=1&'.repeat(500),
  `/${'x'.repeat(9000)}`, '/api/v1/\u00e9t\u00e9', '/api/v1/profile;jsessionid=1', '/API/V1/PROFILE', '/api/v1/profile#frag', '\\api\\v1\\status', '/api/v1/%',
];
const TYPES = ['application/json', 'text/plain', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', '', 'application/json\r\nX-Injected: 1', '*/*'];

/** One hostile request as raw bytes; the right token goes only with bodies that cannot be a profile. */
function hostileRequest(rnd: () => number): Buffer {
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)]!;
  const method = pick(METHODS);
  const path = pick(PATHS);
  const auth = pick([undefined, 'Bearer wrong-token-0000000000', `Bearer ${TOKEN}`, `Bearer ${TOKEN}x`, `Basic ${Buffer.from(`root:${TOKEN}`).toString('base64')}`, `Bearer ${'A'.repeat(5000)}`, 'Bearer', `bearer  ${TOKEN}`]);
  const bodies: (() => Buffer)[] = [
    () => Buffer.alloc(0),
    () => Buffer.from(JSON.stringify({ [String(rnd())]: rnd() })),
    () => Buffer.from('{"name": "x", "pipes": {"p": {"delay": '),
    () => Buffer.from('['.repeat(50_000) + ']'.repeat(50_000)),
    () => Buffer.from(JSON.stringify({ name: 'fuzz', pipes: { p: { delay: -1, bw: 'lots' } }, rules: [{ pipe: 'q' }] })),
    () => Buffer.from('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "name": 1}'),
    () => Buffer.from(Array.from({ length: 64 + Math.floor(rnd() * 512) }, () => Math.floor(rnd() * 256))),
    () => Buffer.from('pipe 1 config bw ' + 'x'.repeat(200)),
    () => Buffer.from('add 100 pipe 99999999999 ip from any to any\u0000\u0007'),
    () => Buffer.alloc(1024 * 1024 + 100, 0x7b), // over the 1 MiB limit
  ];
  const huge = rnd() < 0.01;
  const body = huge ? bodies[9]!() : pick(bodies.slice(0, 9))();
  // two in five are well-formed requests with the token, so the hostile bodies reach the body checks and validation
  if (rnd() < 0.4) {
    const [target, type] = pick([['PUT /api/v1/profile', 'application/json'], ['POST /api/v1/ipfw', 'text/plain']] as const);
    return Buffer.concat([Buffer.from(`${target} HTTP/1.1\r\nHost: box\r\nConnection: close\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
  }
  const headers = [`${method} ${path} HTTP/1.1`, 'Host: box', 'Connection: close'];
  if (auth) headers.push(`Authorization: ${auth}`);
  const type = pick(TYPES);
  if (type) headers.push(`Content-Type: ${type}`);
  const framing = rnd();
  if (framing < 0.7) headers.push(`Content-Length: ${body.length}`);
  else if (framing < 0.8) headers.push(`Content-Length: ${pick(['-1', 'abc', '99999999999999999999', `${body.length}, ${body.length + 1}`])}`);
  else if (framing < 0.9) return Buffer.concat([Buffer.from(headers.concat('Transfer-Encoding: chunked', '', '').join('\r\n')), Buffer.from(`${pick(['zz', '-5', 'ffffffffffffffff', body.length.toString(16)])}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
  else if (framing < 0.92) headers.push(`Content-Length: ${body.length + 1000}`); // a body that never all comes: the server's timeout ends it
  else if (framing < 0.95) headers.push(...Array.from({ length: 200 }, (_, i) => `X-Many-${i}: ${'v'.repeat(100)}`));
  return Buffer.concat([Buffer.from(headers.concat('', '').join('\r\n')), body]);
}

/** Sends raw bytes and returns the status code answered, or 0 when the server closed without one (or said nothing within the client's patience). */
function rawCall(port: number, bytes: Buffer, patienceMs: number): Promise<number> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    let said = '';
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      done(Number(/^HTTP\/1\.[01] (\d{3})/.exec(said)?.[1] ?? 0));
    };
    const timer = setTimeout(finish, patienceMs);
    socket.on('connect', () => socket.write(bytes, () => undefined));
    socket.on('data', (d) => {
      said += d.toString('latin1');
      if (/^HTTP\/1\.[01] \d{3}/.test(said) && said.includes('\r\n\r\n')) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
  });
}

const FUZZ_REQUESTS = 3000;

testNeeding([...NEEDS], `a fuzz of ${FUZZ_REQUESTS} hostile requests to the API crashes nothing and leaves the profile in force as it was`, async (t) => {
  await boot(async (lab, vm, api) => {
    const profileBefore = (await call(api, 'GET', '/api/v1/profile')).json();
    const appliedBefore = /^picowire_profile_applied_timestamp_seconds (\S+)$/m.exec((await call(api, 'GET', '/metrics')).text)?.[1];
    const readyLines = () => vm.console.match(/picowire: ready \d+ ms after node started/g)?.length ?? 0;
    const booted = readyLines();
    const rnd = random(15_2026);
    const requests = Array.from({ length: FUZZ_REQUESTS }, () => hostileRequest(rnd));
    const counts = new Map<number, number>();
    const started = Date.now();
    let next = 0;
    // four clients at once; bounded by count, and each request by the client's patience
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < requests.length && Date.now() - started < 8 * 60_000) {
          const code = await rawCall(api.port, requests[next++]!, 5000);
          counts.set(code, (counts.get(code) ?? 0) + 1);
        }
      }),
    );
    const sent = [...counts.values()].reduce((a, b) => a + b, 0);
    t.log(`${sent} requests in ${((Date.now() - started) / 1000).toFixed(0)} s; answers: ${[...counts].sort(([a], [b]) => a - b).map(([c, n]) => `${c || 'none'} ×${n}`).join(', ')}`);
    t.is(sent, FUZZ_REQUESTS, 'every request was sent within the time bound');
    t.false(counts.has(500), 'no request found a bug (500)');
    for (const code of [400, 401, 404, 405, 413, 422]) t.true((counts.get(code) ?? 0) > 0, `the fuzz reached the check that answers ${code}`);
    t.is(readyLines(), booted, 'the agent never restarted');
    t.notRegex(vm.console, /picowire: failed:/);
    t.is((await call(api, 'GET', '/healthz', { token: null })).status, 200, 'the API still answers');
    t.deepEqual((await call(api, 'GET', '/api/v1/profile')).json(), profileBefore, 'the profile in force is the one before');
    t.is(/^picowire_profile_applied_timestamp_seconds (\S+)$/m.exec((await call(api, 'GET', '/metrics')).text)?.[1], appliedBefore, 'and was not applied again');
    near(t, await rtt(lab), 10, 'after the fuzz');
  });
});

testNeeding([...NEEDS], 'with no token given, the box makes one, prints it, saves it on the PICOWIRE partition, and the API takes it (and a respawned agent keeps it)', async (t) => {
  await withLab(
    join(IMAGES, 'default.img'),
    'bios-disk',
    JSON.stringify(slow),
    async (_lab, vm, api) => {
      const { match } = await vm.waitFor(/picowire: API token \(none was given, so this box made one; (.*)\): (\S+)\r?\n/, 120_000);
      const [, kept, token] = match as unknown as [string, string, string];
      t.regex(kept, /^saved as token on the PICOWIRE partition \(\/dev\/\S+\)$/);
      await vm.waitFor(/picowire: API on http:\/\/198\.19\.0\.15\//, 60_000);
      t.is((await call(api!, 'GET', '/api/v1/status', { token })).status, 200, 'the printed token opens the API');
      t.is((await call(api!, 'GET', '/api/v1/status', { token: TOKEN })).status, 401, 'another does not');
      await runOnConsole(vm, 'dmesg -n 1', 30_000);
      const onDisk = await runOnConsole(vm, 'mkdir -p /mnt/p && mount -t vfat -o ro,iocharset=utf8 $(findfs LABEL=PICOWIRE) /mnt/p && cat /mnt/p/token; umount /mnt/p', 30_000);
      t.is(onDisk.trim(), token, 'the partition holds the token for the next boot');
      // init respawns a killed agent: it finds this boot's token and makes no other
      const before = vm.console.match(/picowire: API on http:\/\/198\.19\.0\.15\//g)!.length;
      vm.send('kill -9 $(pidof node)\n');
      const deadline = Date.now() + 120_000;
      while (vm.console.match(/picowire: API on http:\/\/198\.19\.0\.15\//g)!.length === before && Date.now() < deadline) await sleep(500);
      t.is(vm.console.match(/picowire: API token \(none was given/g)?.length, 1, 'no second token was made');
      t.is((await call(api!, 'GET', '/api/v1/status', { token })).status, 200, 'the respawned agent serves with the same token');
    },
    { management: true },
  );
});
