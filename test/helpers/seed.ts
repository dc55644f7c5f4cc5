// The seed's ipfw examples, copied verbatim from /work/shared/seeds/rizzo-2014-portable-packet-processing-modules.md
// (sections 2.2 and 2.3), run-together lines and all. The seed prints the queue line of 2.3 as a
// markdown heading ("#### ipfw queue 1 ..."); the command text is what follows the "#### ".
export const SEED_2_2_PIPES = `ipfw pipe 10 config bw 256 Kbit/s delay 20ms
ipfw pipe 11 config bw 4 Mbit/s delay 5ms`;
export const SEED_2_2_RULES = 'ipfw add 100 pipe 10 out dst-port 2000-3000 ipfw add 200 pipe 11 in src-port 2000-3000';
export const SEED_2_2_BYPASS = 'ipfw add 300 allow ip from any to any';
export const SEED_2_3_PIPE = 'ipfw pipe 5 config sched qfq mask src-ip 0xffffff00 bw 1 Mbit/s';
export const SEED_2_3_QUEUES = 'ipfw queue 1 config pipe 5 weight 10 mask src-ip 0xfffffff ipfw queue 2 config pipe 5 weight 4 mask src-ip 0xffffffff';
export const SEED_2_3_RULES = 'ipfw add 100 queue 1 in dst-port 22,53 ipfw add 200 queue 2 in dst-port any';

/** Section 2.2, the asymmetric link: its pipes, rules and bypass, one after another. */
export const SEED_2_2 = [SEED_2_2_PIPES, SEED_2_2_RULES, SEED_2_2_BYPASS].join('\n');
/** Section 2.3, the per-/24 shaper with two weighted queues per host. */
export const SEED_2_3 = [SEED_2_3_PIPE, SEED_2_3_QUEUES, SEED_2_3_RULES].join('\n');
