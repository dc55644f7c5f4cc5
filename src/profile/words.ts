// The closed word lists of the profile language, as values. The schema (schema.ts) is built from
// them with TypeBox at build time; the agent and the ipfw parser need only the lists, so the
// agent's bundle carries no schema builder (it checks profiles with a validator compiled ahead of
// time, compile.ts).
export const DISTRIBUTIONS = ['uniform', 'normal', 'pareto', 'paretonormal'] as const;
export const SCHEDULERS = ['fifo', 'rr', 'drr', 'prio', 'qfq', 'wf2q+', 'fq_codel'] as const;
export const PROTOCOLS = ['ip', 'all', 'tcp', 'udp', 'icmp', 'ipv6-icmp', 'sctp', 'udplite', 'gre', 'esp', 'ah'] as const;
export const ACTIONS = ['pipe', 'queue', 'allow', 'deny'] as const;
export const ENGINES = ['tc', 'dummynet'] as const;
