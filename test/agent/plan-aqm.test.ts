// Planner snapshots for queue management (issue 19): a pipe's or queue's aqm becomes the qdisc that
// holds its packets under the pipe's tbf or scheduler, with every parameter written (a replace keeps
// what a line leaves out); fq_codel and fq_pie take their flows' codel or pie. And what the tc engine
// cannot honour is refused, naming the field and why (docs/profiles.md#aqm).
import test from 'ava';
import { plan, type KernelState } from '../../src/agent/plan.ts';
import { stateAfter } from '../../src/agent/apply.ts';
import { redBurst, tcRedWlog, RED_AVPKT } from '../../src/agent/aqm.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { validateProfile } from '../../src/profile/validate.ts';

const profile = (value: unknown): Profile => {
  const r = validateProfile(value);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.value;
};
const errorsOf = (value: unknown): string[] => {
  const r = validateProfile(value);
  return r.ok ? [] : r.errors;
};
const fresh: KernelState = { qdiscs: [] };
const onePipe = (pipe: object) => profile({ name: 'f', pipes: { p: pipe }, rules: [{ from: 'a', pipe: 'p' }] });
const portB = (p: Profile, state: KernelState = fresh) => plan(p, state).tc.filter((l) => / dev b /.test(l) && !/1:ffff|root handle/.test(l));

const cases: [string, Profile][] = [
  ['red on a pipe: thresholds in packets as full-size frames, w_q as tc\'s burst', onePipe({ bw: '500Kbit/s', queue: 100, aqm: { type: 'red', wq: 0.002, minTh: 30, maxTh: 80, maxP: 0.1 } })],
  ['red with ecn on a queue in bytes', onePipe({ bw: '10Mbit/s', queue: '150KB', aqm: { type: 'red', wq: 0.01, minTh: 20000, maxTh: 100000, maxP: 0.05, ecn: true } })],
  ['codel on a pipe, dummynet\'s defaults', onePipe({ bw: '1Mbit/s', aqm: { type: 'codel' } })],
  ['codel with target, interval and ecn', onePipe({ bw: '1Mbit/s', queue: 200, aqm: { type: 'codel', target: '8ms', interval: '160ms', ecn: true } })],
  ['pie on a pipe, dummynet\'s defaults (departure rate estimation)', onePipe({ bw: '1Mbit/s', aqm: { type: 'pie' } })],
  ['pie with target, tupdate, alpha, beta, timestamps and ecn', onePipe({ bw: '1Mbit/s', aqm: { type: 'pie', target: '20ms', tupdate: '30ms', alpha: 0.25, beta: 1.5, estimator: 'ts', ecn: true } })],
  ['droptail is the plain pipe', onePipe({ bw: '1Mbit/s', aqm: { type: 'droptail' } })],
  ['codel on a queue and on the pipe\'s own queue under wf2q+', profile({ name: 'q', pipes: { p: { bw: '1Mbit/s', aqm: { type: 'pie' } } }, queues: { q: { pipe: 'p', weight: 10, aqm: { type: 'codel', target: '8ms', interval: '160ms', ecn: true } } }, rules: [{ from: 'a', proto: 'udp', queue: 'q' }, { from: 'a', pipe: 'p' }] })],
  ['fq_codel with its flows\' codel and quantum, limit, flows', onePipe({ bw: '1Mbit/s', scheduler: 'fq_codel', aqm: { type: 'codel', target: '10ms', ecn: false }, fq: { quantum: 3000, limit: 5000, flows: 256 } })],
  ['fq_pie, dummynet\'s defaults (timestamps, ecn_prob 10 %)', onePipe({ bw: '1Mbit/s', scheduler: 'fq_pie' })],
  ['fq_pie with ecn and max_ecnth', onePipe({ bw: '1Mbit/s', scheduler: 'fq_pie', aqm: { type: 'pie', ecn: true, maxEcnth: 0.25, target: '5ms' } })],
];
for (const [what, p] of cases) {
  test(`planner: ${what}`, (t) => {
    t.snapshot(portB(p).join('\n'), 'tc lines for port b');
  });
}

test('RED: the burst given to tc makes it choose the wlog nearest w_q (tc_red_eval_ewma)', (t) => {
  for (const [minTh, wq, wlog] of [[30, 0.002, 9], [5, 0.002, 9], [1, 0.5, 1], [2, 1 / 4096, 12], [50, 0.1, 3], [10, 2 ** -24, 24]] as const) {
    const qmin = minTh * 1514;
    const burst = redBurst(qmin, RED_AVPKT, wlog);
    t.is(tcRedWlog(qmin, burst, RED_AVPKT), wlog, `min ${minTh} packets, w_q ${wq}: burst ${burst}`);
    t.true(tcRedWlog(qmin, burst - 1, RED_AVPKT) < wlog, 'the smallest such burst');
  }
});

test('fq_codel keeps its flows when the kernel has them, and is made again when flows change', (t) => {
  const p = onePipe({ bw: '1Mbit/s', scheduler: 'fq_codel', fq: { flows: 256 } });
  const have = (flows: number): KernelState => ({ qdiscs: [{ dev: 'b', kind: 'fq_codel', handle: '8000:', parent: '4000:1', options: { flows } }, { dev: 'b', kind: 'tbf', handle: '4000:', parent: '10:1' }, { dev: 'b', kind: 'netem', handle: '10:', parent: '1:10' }] });
  const same = portB(p, have(256)).filter((l) => l.includes('8000:'));
  t.deepEqual(same.length, 1);
  t.notRegex(same[0]!, / flows /, 'no flows for a scheduler that has them (Linux refuses to change them)');
  const changed = portB(p, have(1024)).filter((l) => l.includes('8000:'));
  t.deepEqual(changed[0], 'qdisc del dev b parent 4000:1 handle 8000:');
  t.regex(changed[1]!, /fq_codel limit \d+ flows 256 /);
  // the agent's model of what it applied remembers the flows, so a later change of flows alone remakes it too
  const first = plan(p, fresh);
  const model = stateAfter(fresh, first);
  t.is(model.qdiscs.find((q) => q.handle === '8000:' && q.dev === 'b')?.options?.flows, 256);
  const next = plan(onePipe({ bw: '1Mbit/s', scheduler: 'fq_codel', fq: { flows: 1024 } }), model).tc.filter((l) => / dev b .*8000:/.test(l));
  t.deepEqual(next[0], 'qdisc del dev b parent 4000:1 handle 8000:');
});

test('what the tc engine cannot honour is refused, naming the field and why', (t) => {
  const pipeErrors = (aqm: object, extra: object = {}) => errorsOf({ name: 'x', pipes: { p: { bw: '1Mbit/s', ...extra, aqm } }, rules: [] });
  t.regex(pipeErrors({ type: 'gred', wq: 0.002, minTh: 5, maxTh: 10, maxP: 0.1 }).join(), /profile\.pipes\.p\.aqm\.type: "gred" \(gentle RED\) cannot be honoured by the tc engine: Linux's red qdisc has no gentle mode/);
  t.regex(pipeErrors({ type: 'pie', maxBurst: '100ms' }).join(), /aqm\.maxBurst: "100ms" cannot be honoured by the tc engine: Linux's pie lets a queue grow for 150 ms/);
  t.regex(pipeErrors({ type: 'pie', alpha: 3 }).join(), /aqm\.alpha: 3 is beyond what the tc engine can honour: Linux's pie takes alpha from 0 to 2/);
  t.regex(pipeErrors({ type: 'pie', onoff: true }).join(), /aqm\.onoff: true cannot be honoured/);
  t.regex(pipeErrors({ type: 'pie', capdrop: false }).join(), /aqm\.capdrop: false cannot be honoured/);
  t.regex(pipeErrors({ type: 'pie', derand: false }).join(), /aqm\.derand: false cannot be honoured/);
  t.regex(pipeErrors({ type: 'pie', maxEcnth: 0.2 }).join(), /aqm\.maxEcnth: 0\.2 cannot be honoured by the tc engine: Linux's pie marks ECN packets up to a drop probability of 0\.1/);
  t.deepEqual(pipeErrors({ type: 'pie', maxEcnth: 0.2 }, { scheduler: 'fq_pie' }), [], 'fq_pie takes max_ecnth (ecn_prob)');
  t.regex(pipeErrors({ type: 'codel', tupdate: '5ms' }).join(), /aqm\.tupdate: codel has no tupdate \(it is pie's\)/);
  t.regex(pipeErrors({ type: 'red', wq: 0.002, minTh: 30 }).join(), /aqm: red needs maxTh, maxP/);
  t.regex(pipeErrors({ type: 'red', wq: 0.002, minTh: 30, maxTh: 20, maxP: 0.1 }).join(), /aqm\.maxTh: 20 must be above minTh \(30\)/);
  t.regex(pipeErrors({ type: 'red', wq: 0.002, minTh: 30, maxTh: 80, maxP: 0.1 }, { queue: 50 }).join(), /aqm\.maxTh: 80 is beyond the queue \(50 packets\)/);
  t.regex(pipeErrors({ type: 'pie' }, { scheduler: 'fq_codel' }).join(), /aqm\.type: "pie" cannot manage the flows of an fq_codel scheduler; allowed: codel/);
  t.regex(errorsOf({ name: 'x', pipes: { p: { bw: '1Mbit/s', fq: { flows: 8 } } }, rules: [] }).join(), /pipes\.p\.fq: quantum, limit and flows belong to an fq_codel or fq_pie scheduler/);
  t.regex(errorsOf({ name: 'x', pipes: { p: { delay: 5, aqm: { type: 'codel' } } }, rules: [] }).join(), /pipes\.p\.aqm: queue management needs a queue, and a queue a bottleneck: add "bw"/);
});
