// The closed word lists of the profile language, as values. The schema (schema.ts) is built from
// them with TypeBox at build time; the agent and the ipfw parser need only the lists, so the
// agent's bundle carries no schema builder (it checks profiles with a validator compiled ahead of
// time, compile.ts).
export const DISTRIBUTIONS = ['uniform', 'normal', 'pareto', 'paretonormal'] as const;
export const SCHEDULERS = ['fifo', 'rr', 'drr', 'prio', 'qfq', 'wf2q+', 'fq_codel', 'fq_pie'] as const;
/** The schedulers that hash flows into queues of their own (a codel's or pie's each): the profile's queues do not feed them as classes. */
export function flowScheduler(s: string | undefined): s is 'fq_codel' | 'fq_pie' {
  return s === 'fq_codel' || s === 'fq_pie';
}
/** Whether a pipe's queues are classes of its scheduler: every scheduler but fifo and the flow schedulers. */
export function takesClasses(s: string | undefined): boolean {
  return s !== undefined && s !== 'fifo' && !flowScheduler(s);
}
/** Active queue management of a pipe's or queue's queue, as ipfw/dnctl name them (FreeBSD 11 on). */
export const AQMS = ['droptail', 'red', 'gred', 'codel', 'pie'] as const;
export const PROTOCOLS = ['ip', 'all', 'tcp', 'udp', 'icmp', 'ipv6-icmp', 'icmp6', 'sctp', 'udplite', 'gre', 'esp', 'ah'] as const;
export const ACTIONS = ['pipe', 'queue', 'allow', 'deny'] as const;
/** ipfw's `ip4`/`ip6`: a rule that takes one address family's packets only. */
export const FAMILIES = ['ip4', 'ip6'] as const;
export const ENGINES = ['tc', 'dummynet'] as const;
