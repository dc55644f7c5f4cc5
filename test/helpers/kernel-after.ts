// The qdiscs a tc plan leaves in the kernel, as `tc -s -j qdisc show` would report them, for host
// tests of what is read back from them (status, dummynet's show listings).
import { plan } from '../../src/agent/plan.ts';
import type { QdiscStats } from '../../src/agent/status.ts';
import type { Profile } from '../../src/profile/schema.ts';

/** The qdiscs a plan creates, with counters from `stats` by `dev handle`. */
export function kernelAfter(p: Profile, stats: Record<string, Partial<QdiscStats>> = {}): QdiscStats[] {
  return plan(p, { qdiscs: [] }).tc.flatMap((line) => {
    const m = /^qdisc replace dev (\S+) (?:parent (\S+)|root) handle (\S+) (\S+)/.exec(line);
    if (!m) return [];
    const q: QdiscStats = { dev: m[1]!, handle: m[3]!, kind: m[4]!, ...(m[2] && { parent: m[2] }), packets: 0, bytes: 0, drops: 0, backlog: 0, qlen: 0 };
    return [{ ...q, ...stats[`${q.dev} ${q.handle}`] }];
  });
}
