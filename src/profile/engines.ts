// What each engine can carry out of a resolved profile. The tc engine (the default) takes every
// field the schema has; the dummynet engine (FreeBSD's ipfw and dummynet in userspace on netmap:
// netmap-ipfw's kipfw) takes what dummynet itself knows, and what it does not is an error naming
// the field and the engine, before anything is applied, so a profile never half-works on it.
import { IP6_MASK_FIELDS, keyPath, ROOT, type ResolvedMask, type ResolvedProfile } from './resolve.ts';
import type { ResolvedSchedule } from './timed.ts';

/** Rule numbers the dummynet engine keeps for itself: 65534 for what the profile's default lets through, 65535 is ipfw's default rule. */
export const DUMMYNET_RESERVED_RULES = 65534;
/** dummynet keeps a bandwidth in a signed 32-bit int of bit/s (ipfw says "bandwidth too large" above it) */
const DUMMYNET_MAX_BW = 2 ** 31 - 1;
/** dummynet's delay is whole milliseconds, at most 10 s */
const DUMMYNET_MAX_DELAY_MS = 10_000;
/** the schedulers netmap-ipfw's dummynet has, by picowire's names (its "rr" is deficit round robin) */
export const DUMMYNET_SCHEDULERS: Record<string, string> = { fifo: 'fifo', 'wf2q+': 'wf2q+', rr: 'rr', drr: 'rr', qfq: 'qfq', prio: 'prio' };

const ENGINE = 'the dummynet engine';

/** Every field of a resolved profile its engine cannot carry out, one line each (`profile.path: ...`); none for tc. */
export function engineProblems(profile: ResolvedProfile): string[] {
  return profile.engine === 'dummynet' ? dummynetProblems(profile) : [];
}

function dummynetProblems(profile: ResolvedProfile): string[] {
  const errors: string[] = [];
  const no = (at: string, what: string, instead: string) => errors.push(`${at}: ${ENGINE} (FreeBSD's dummynet) has no ${what}; ${instead}`);
  for (const [name, pipe] of Object.entries(profile.pipes)) {
    const at = keyPath(`${ROOT}.pipes`, name);
    if (pipe.jitter) no(`${at}.jitter`, 'jitter (a netem delay distribution)', 'use "engine": "tc", or leave jitter out');
    // dummynet draws a profile's delay as time the link is busy at the pipe's bw (extra_bits): without one it adds none
    if (pipe.delayTable && pipe.bw === undefined) no(`${at}.delayProfile`, 'delay profile on a pipe without "bw" (it draws the extra delay as time the link is busy at the pipe\'s bw, so without one it adds none)', 'give the pipe a "bw", or use "engine": "tc"');
    if (pipe.loss) no(`${at}.loss`, 'Gilbert-Elliott loss', 'use "plr" (independent random loss) or "engine": "tc"');
    if (pipe.duplicate > 0) no(`${at}.duplicate`, 'duplication', 'use "engine": "tc"');
    if (pipe.corrupt > 0) no(`${at}.corrupt`, 'corruption', 'use "engine": "tc"');
    if (pipe.reorder) no(`${at}.reorder`, 'reordering', 'use "engine": "tc"');
    if (pipe.overhead !== 0) no(`${at}.overhead`, 'per-packet overhead', 'use "engine": "tc", or fold it into "bw"');
    if (pipe.schedule) errors.push(...scheduleProblems(`${at}.schedule`, pipe.schedule));
    if (pipe.trace) no(`${at}.trace`, 'trace replay: its runner changes a pipe through one ipfw run each (0.1-0.25 s under QEMU TCG, docs/schedules.md), slower than a trace\'s windows', 'use "engine": "tc", or a schedule of steps');
    // an fq_codel or fq_pie scheduler's flows' AQM: the scheduler's own error says it
    if (pipe.aqm && !pipe.scheduler?.startsWith('fq_')) no(`${at}.aqm`, 'AQM in netmap-ipfw (it predates FreeBSD 11\'s codel, pie and red for dummynet)', 'leave "aqm" out (droptail) or use "engine": "tc"');
    ip6Mask(`${at}.mask`, pipe.mask);
    if (pipe.scheduler && !(pipe.scheduler in DUMMYNET_SCHEDULERS)) {
      no(`${at}.scheduler`, `"${pipe.scheduler}" scheduler`, `allowed: ${Object.keys(DUMMYNET_SCHEDULERS).join(', ')}`);
    }
    if (pipe.bw !== undefined && pipe.bw > DUMMYNET_MAX_BW) errors.push(`${at}.bw: ${pipe.bw} bit/s is more than ${ENGINE} can say; allowed: at most ${DUMMYNET_MAX_BW} bit/s`);
    if (pipe.delay % 1000 !== 0 || pipe.delay / 1000 > DUMMYNET_MAX_DELAY_MS) {
      errors.push(`${at}.delay: ${pipe.delay / 1000} ms; ${ENGINE} delays by whole milliseconds; allowed: 0 to ${DUMMYNET_MAX_DELAY_MS} ms in whole ms`);
    }
  }
  for (const [name, queue] of Object.entries(profile.queues)) {
    const at = keyPath(`${ROOT}.queues`, name);
    if (queue.aqm) no(`${at}.aqm`, 'AQM in netmap-ipfw (it predates FreeBSD 11\'s codel, pie and red for dummynet)', 'leave "aqm" out (droptail) or use "engine": "tc"');
    ip6Mask(`${at}.mask`, queue.mask);
  }
  profile.rules.forEach((rule, i) => {
    const at = `${ROOT}.rules[${i}]`;
    if (rule.number >= DUMMYNET_RESERVED_RULES) errors.push(`${at}.number: ${rule.number} is kept by ${ENGINE} (65534 for the profile's default, 65535 is ipfw's own); allowed: 1 to 65533`);
    for (const side of ['src', 'dst'] as const) {
      if (rule[side]?.v6.length) no(`${at}.${side}`, 'IPv6 addresses (netmap-ipfw is built for IPv4)', 'use "engine": "tc" for IPv6 matches');
    }
    if (rule.family) no(`${at}.family`, 'ip4/ip6 rules (netmap-ipfw is built for IPv4: its rules see IPv4 only)', 'use "engine": "tc"');
    for (const field of ['dstMac', 'srcMac', 'macType'] as const) if (rule[field]) no(`${at}.${field}`, 'Ethernet conditions wired up yet', 'use "engine": "tc"');
  });
  return errors;

  // a schedule's steps as dummynet can set them (src/agent/schedule/dummynet.ts): no outage that holds packets, delays in whole ms
  function scheduleProblems(at: string, schedule: ResolvedSchedule): string[] {
    const out: string[] = [];
    schedule.steps.forEach((step, i) => {
      if (step.outage && !step.outage.drop) {
        out.push(`${at}.steps[${i}].outage: ${ENGINE} cannot hold packets through an outage (dummynet's bw 0 means unlimited, and a tiny rate leaves its link's timer set past the outage); allowed: "drop": true on the step (arrivals and what is queued are dropped), or "engine": "tc"`);
      }
      if (step.delay !== undefined && step.delay % 1000 !== 0) out.push(`${at}.steps[${i}].delay: ${step.delay / 1000} ms; ${ENGINE} delays by whole milliseconds; allowed: whole ms`);
      if (step.bw !== undefined && step.bw > DUMMYNET_MAX_BW) out.push(`${at}.steps[${i}].bw: ${step.bw} bit/s is more than ${ENGINE} can say; allowed: at most ${DUMMYNET_MAX_BW} bit/s`);
    });
    return out;
  }

  // netmap-ipfw keys instances by IPv4 fields only: an IPv6 field is refused, except in `mask all` (every IPv4 field too), where IPv6 packets share an instance
  function ip6Mask(at: string, mask: ResolvedMask | undefined): void {
    if (!mask || !IP6_MASK_FIELDS.some((f) => mask[f] !== undefined)) return;
    if (['srcIp', 'dstIp', 'srcPort', 'dstPort', 'proto'].every((f) => mask[f as keyof ResolvedMask] !== undefined)) return;
    no(at, 'IPv6 mask fields (srcIp6, dstIp6, flowId: netmap-ipfw is built for IPv4)', 'mask IPv4 fields, or use "engine": "tc"');
  }
}
