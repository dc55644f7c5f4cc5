// dummynet's show commands, printed as FreeBSD prints them, from picowire's status (a pure function
// of the profile in force and its counters, src/agent/status.ts):
//   ipfw pipe show [N...], dnctl pipe show   each pipe: its link line (bandwidth, delay, burst), its
//                                            internal flowset line (q131072+N), its scheduler line
//                                            (sched 65536+N), the mask and one line per instance
//   ipfw queue show [N...], dnctl queue show each queue: its flowset line (qN), the mask, its instances
//   ipfw sched show [N...], dnctl sched show each pipe a scheduler serves: link, scheduler, children
//   ipfw show                                each rule: number, packets, bytes, rule text, then the
//                                            default rule 65535
// The layouts are dummynet's userland's (list_pipes, list_flow, print_flowset_parms, print_mask and
// show_static_rule in FreeBSD's sbin/ipfw), so scripts that parse them read picowire's too. What
// differs, because picowire's model differs: each direction of a pipe is its own link (instances of
// port a's and port b's are listed together, an instance number each); an instance's "BKT" is its
// instance number; a key picowire hashed (an IPv6 key over nft's 16 bytes) shows as its hash in the
// flow-id column; queued bytes are tc's backlog; and the default rule's counters are 0 (the nft
// chain's policy counts nothing). docs/dummynet-keywords.md has the table.
import { keyLayout, type Family } from '../agent/plan.ts';
import type { PipeStatus, QueueStatus, Status } from '../agent/status.ts';
import { IP6_MASK_FIELDS, type MaskField, type QueueSize, type ResolvedMask, type ResolvedPipe } from '../profile/resolve.ts';
import type { Profile } from '../profile/schema.ts';
import { resolve } from '../profile/validate.ts';
import { formatIpfw, ipfwNumbers } from './format.ts';

export type ShowWhat = 'rules' | 'pipe' | 'queue' | 'sched';

/** dummynet's object numbers: pipe N's own flowset is q(131072+N), its own scheduler 65536+N (DN_MAX_ID 65536). */
const DN_MAX_ID = 65536;

/** Which show an ipfw or dnctl command line asks for (`show`, `pipe show`, `pipe 1 show`, `queue show 1 2`, ...), and the numbers it names; undefined when it is no show. */
export function showCommand(program: 'ipfw' | 'dnctl', args: string[]): { what: ShowWhat; numbers: number[] } | undefined {
  const words = args.filter((w) => !/^-[a-zA-Z]+$/.test(w)); // ipfw -a show, -t, -d: the same listing here
  if (program === 'ipfw' && words[0] === 'show') return { what: 'rules', numbers: numbersOf(words.slice(1)) };
  const kind = words[0];
  if (kind !== 'pipe' && kind !== 'queue' && kind !== 'sched') return undefined;
  const verb = words.findIndex((w) => w === 'show' || w === 'list');
  if (verb < 1) return undefined;
  const numbers = numbersOf([...words.slice(1, verb), ...words.slice(verb + 1)]);
  return numbers.length === words.length - 2 ? { what: kind, numbers } : undefined;
}

const numbersOf = (words: string[]) => words.filter((w) => /^\d{1,5}$/.test(w)).map(Number);

/** The show's text, ending with a newline (empty when there is nothing to list, as dummynet prints nothing). */
export function formatShow(what: ShowWhat, profile: Profile | null, status: Status, numbers: number[] = []): string {
  if (!profile) return what === 'rules' ? `${dummynetDefault('allow')}\n` : '';
  const wanted = (n: number) => numbers.length === 0 || numbers.includes(n);
  const lines = what === 'rules' ? showRules(profile, status, wanted) : what === 'queue' ? showQueues(profile, status, wanted) : showPipes(profile, status, wanted, what === 'sched');
  return lines.length ? `${lines.join('\n')}\n` : '';
}

// ---- ipfw show ----------------------------------------------------------------------------------

const dummynetDefault = (action: 'allow' | 'deny') => `65535 0 0 ${action} ip from any to any`;

/** `ipfw show`: `NNNNN packets bytes text`, the counters right-aligned to their widest. */
function showRules(profile: Profile, status: Status, wanted: (n: number) => boolean): string[] {
  // the rule texts as formatIpfw writes them, in the order rules run (by number, stable: as resolve sorts them)
  const texts = formatIpfw(profile)
    .split('\n')
    .flatMap((line) => {
      const m = /^ipfw add (\d+) (.*)$/.exec(line);
      return m && !(Number(m[1]) === 65535 && m[2] === 'deny ip from any to any') ? [{ number: Number(m[1]), text: m[2]! }] : [];
    })
    .map((r, i) => ({ ...r, i }))
    .sort((x, y) => x.number - y.number || x.i - y.i);
  // the status lists the rules in the same order, with their counters (none yet: 0)
  const rows = texts.map((r, i) => ({ number: r.number, packets: status.rules[i]?.packets ?? 0, bytes: status.rules[i]?.bytes ?? 0, text: r.text }));
  rows.push({ number: 65535, packets: 0, bytes: 0, text: `${profile.default === 'deny' ? 'deny' : 'allow'} ip from any to any` });
  const shown = rows.filter((r) => wanted(r.number));
  const pw = Math.max(...shown.map((r) => String(r.packets).length), 1);
  const bw = Math.max(...shown.map((r) => String(r.bytes).length), 1);
  return shown.map((r) => `${String(r.number).padStart(5, '0')} ${String(r.packets).padStart(pw)} ${String(r.bytes).padStart(bw)} ${r.text}`);
}

// ---- pipe, queue and sched show -----------------------------------------------------------------

/** dummynet's bandwidth column: `%7.3f Mbit/s`, Kbit/s or bit/s, or unlimited. */
function bandwidth(bw: number | undefined): string {
  if (!bw) return 'unlimited     ';
  if (bw >= 1e6) return `${(bw / 1e6).toFixed(3).padStart(7)} Mbit/s`;
  if (bw >= 1e3) return `${(bw / 1e3).toFixed(3).padStart(7)} Kbit/s`;
  return `${bw.toFixed(3).padStart(7)} bit/s `;
}

/** A burst as humanize_number writes it into dummynet's 12 characters: bytes, or K, M, G (1024). */
function burstText(bytes: number): string {
  let v = bytes;
  let unit = 0;
  while (v >= 100_000 && unit < 3) {
    v = Math.round(v / 1024);
    unit++;
  }
  return `${v}${['', 'K', 'M', 'G'][unit]}`;
}

/** The queue size as print_flowset_parms writes it: `%3d sl.`, or KB from 8 KB, or B. */
function queueText(q: QueueSize): string {
  if ('packets' in q) return `${String(q.packets).padStart(3)} sl.`;
  return q.bytes >= 8192 ? `${Math.floor(q.bytes / 1024)} KB` : `${q.bytes} B`;
}

const plrText = (plr: number) => (plr > 0 ? `plr ${plr.toFixed(6)}` : '');

/** FreeBSD's names of the scheduler types. */
const SCHED_NAMES: Record<string, string> = { fifo: 'FIFO', 'wf2q+': 'WF2Q+', rr: 'RR', drr: 'RR', prio: 'PRIO', qfq: 'QFQ', fq_codel: 'FQ_CODEL' };

const hex = (n: number, width: number) => `0x${n.toString(16).padStart(width, '0')}`;

/** An IPv6 prefix length as the address print_mask writes (inet_ntop of the mask). */
function ip6MaskText(length: number | undefined): string {
  if (!length) return '::';
  const groups = Array.from({ length: 8 }, (_, i) => {
    const ones = Math.max(0, Math.min(16, length - 16 * i));
    return ones === 0 ? 0 : (0xffff << (16 - ones)) & 0xffff;
  });
  let last = 7;
  while (last >= 0 && groups[last] === 0) last--;
  const head = groups.slice(0, last + 1).map((g) => g.toString(16)).join(':');
  return last === 7 ? head : `${head}::`;
}

/** Whether dummynet would print a mask in its IPv6 form (a mask of IPv6 fields and no IPv4 address). */
const isIp6Mask = (m: ResolvedMask) => IP6_MASK_FIELDS.some((f) => m[f] !== undefined) && m.srcIp === undefined && m.dstIp === undefined;

/** print_mask: `    mask:  0xPP 0xSRC/0xSPRT -> 0xDST/0xDPRT`, or the IPv6 form. */
function maskLine(m: ResolvedMask): string {
  const p = hex(m.proto ?? 0, 2);
  if (!isIp6Mask(m)) return `    mask:  ${p} ${hex(m.srcIp ?? 0, 8)}/${hex(m.srcPort ?? 0, 4)} -> ${hex(m.dstIp ?? 0, 8)}/${hex(m.dstPort ?? 0, 4)}`;
  return `\n        mask: proto: ${p}, flow_id: ${hex(m.flowId ?? 0, 8)},  ${ip6MaskText(m.srcIp6)}/${hex(m.srcPort ?? 0, 4)} -> ${ip6MaskText(m.dstIp6)}/${hex(m.dstPort ?? 0, 4)}`;
}

const HEADER_4 = 'BKT Prot ___Source IP/port____ ____Dest. IP/port____ Tot_pkt/bytes Pkt/Byte Drp';
const HEADER_6 = 'BKT ___Prot___ _flow-id_ ______________Source IPv6/port_______________ _______________Dest. IPv6/port_______________ Tot_pkt/bytes Pkt/Byte Drp';

/** A flow's identity as dummynet's flow id holds it: masked fields from the key, the others 0. */
interface FlowId {
  family: Family;
  proto: number | string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flowId: number;
}

const PROTO_NAMES: Record<string, string> = { '0': 'ip', '1': 'icmp', '6': 'tcp', '17': 'udp', '58': 'ipv6-icmp', '132': 'sctp', '136': 'udplite', '47': 'gre', '50': 'esp', '51': 'ah' };

/** Reads one map key (as status lists it: fields joined by " . ") back into a flow id, by the mask's key layout. */
function flowOf(key: string | undefined, mask: ResolvedMask | undefined): FlowId {
  const zero = (family: Family): FlowId => ({ family, proto: 'ip', src: family === 'ip' ? '0.0.0.0' : '::', dst: family === 'ip' ? '0.0.0.0' : '::', sport: 0, dport: 0, flowId: 0 });
  if (key === undefined || !mask) return zero(mask && isIp6Mask(mask) ? 'ip6' : 'ip');
  if (key === 'ip' || key === 'ip6') return zero(key); // the one key of a family none of whose fields are masked
  const parts = key.split(' . ');
  // the family whose layout the key fits: an IPv6 address, or a hash where IPv4 has no single number
  const fits = (family: Family) => {
    const layout = keyLayout(mask, family);
    if (layout.hashed) return parts.length === 1 && /^\d+$/.test(parts[0]!) ? layout : undefined;
    if (layout.fields.length !== parts.length) return undefined;
    const ok = layout.fields.every((f, i) => (f === 'srcIp' || f === 'dstIp' ? /^\d+\.\d+\.\d+\.\d+$/.test(parts[i]!) : f === 'srcIp6' || f === 'dstIp6' ? parts[i]!.includes(':') : true));
    return ok ? layout : undefined;
  };
  const v6 = keyLayout(mask, 'ip6');
  const family: Family = !v6.hashed && fits('ip6') && parts.some((p) => p.includes(':')) ? 'ip6' : fits('ip') ? 'ip' : fits('ip6') ? 'ip6' : 'ip';
  const layout = keyLayout(mask, family);
  const flow = zero(family);
  if (layout.hashed) return { ...flow, flowId: Number(parts[0]) };
  layout.fields.forEach((f: MaskField | 'ports', i) => {
    const v = parts[i]!;
    const n = Number(v);
    if (f === 'srcIp' || f === 'srcIp6') flow.src = v;
    else if (f === 'dstIp' || f === 'dstIp6') flow.dst = v;
    else if (f === 'srcPort') flow.sport = n;
    else if (f === 'dstPort') flow.dport = n;
    else if (f === 'ports') {
      flow.sport = Math.floor(n / 65536);
      flow.dport = n % 65536;
    } else if (f === 'proto') flow.proto = PROTO_NAMES[v] ?? v;
    else if (f === 'flowId') flow.flowId = n;
  });
  return flow;
}

/** list_flow: one instance's line. */
function flowLine(bucket: number, flow: FlowId, c: { packets: number; bytes: number; backlog: { packets: number; bytes: number }; drops: number }): string {
  const head = `${String(bucket & 0xff).padStart(3)} `;
  const counters = `${String(c.packets).padStart(4)} ${String(c.bytes).padStart(8)} ${String(c.backlog.packets).padStart(2)} ${String(c.backlog.bytes).padStart(4)} ${String(c.drops).padStart(3)}`;
  if (flow.family === 'ip') {
    return `${head}${String(flow.proto).padEnd(4)} ${`${flow.src.padStart(15)}/${String(flow.sport).padEnd(5)}`} ${`${flow.dst.padStart(15)}/${String(flow.dport).padEnd(5)}`} ${counters}`;
  }
  return `${head}${String(flow.proto).padStart(9)} ${String(flow.flowId).padStart(7)}  ${flow.src.padStart(39)}/${String(flow.sport).padEnd(5)}  ${flow.dst.padStart(39)}/${String(flow.dport).padEnd(5)} ${counters}`;
}

/** The instances' lines under a header of the first one's family. */
function flowLines(instances: { instance: number; keys?: string[]; packets: number; bytes: number; backlog: { packets: number; bytes: number }; drops: number }[], mask: ResolvedMask | undefined): string[] {
  const lines: string[] = [];
  let header: string | undefined;
  for (const i of instances) {
    const keys = i.keys?.length ? i.keys : [undefined];
    keys.forEach((key, k) => {
      const flow = flowOf(key, mask);
      const h = flow.family === 'ip' ? HEADER_4 : HEADER_6;
      if (h !== header) lines.push((header = h));
      // an instance several keys share (more keys than buckets) counts once, on its first key
      lines.push(flowLine(i.instance, flow, k === 0 ? i : { packets: 0, bytes: 0, backlog: { packets: 0, bytes: 0 }, drops: 0 }));
    });
  }
  return lines;
}

/** The link line: `NNNNN: bandwidth delay ms burst B`. */
function linkLine(n: number, pipe: ResolvedPipe): string {
  return `${String(n % DN_MAX_ID).padStart(5, '0')}: ${bandwidth(pipe.bw)} ${String(Math.round(pipe.delay / 1000)).padStart(4)} ms burst ${burstText(pipe.burst ?? 0)}`;
}

/** `ipfw pipe show` (and `sched show`, which lists the schedulers pipes have). */
function showPipes(profile: Profile, status: Status, wanted: (n: number) => boolean, sched: boolean): string[] {
  const resolved = resolve(profile);
  const numbers = ipfwNumbers(profile);
  const lines: string[] = [];
  const pipes = Object.entries(resolved.pipes).sort(([a], [b]) => numbers.pipes.get(a)! - numbers.pipes.get(b)!);
  for (const [name, pipe] of pipes) {
    const n = numbers.pipes.get(name)!;
    const queues = Object.entries(resolved.queues).filter(([, q]) => q.pipe === name);
    if (!wanted(n) || (sched && pipe.scheduler === undefined && queues.length === 0)) continue;
    const instances = status.pipes.filter((p) => p.pipe === name);
    const active = new Set(instances.map((p) => p.instance)).size;
    const flags = hex(pipe.mask ? 1 : 0, 1);
    lines.push(linkLine(n, pipe));
    if (sched) {
      lines.push(` sched ${n} type ${SCHED_NAMES[pipe.scheduler ?? 'wf2q+']} flags ${flags} ${pipe.mask ? pipe.buckets : 0} buckets ${active} active`);
      if (pipe.mask) lines.push(maskLine(pipe.mask));
      const children = queues.map(([q]) => numbers.queues.get(q)!).sort((a, b) => b - a);
      if (children.length) lines.push(`   Children flowsets: ${children.join(' ')} `);
    } else {
      const queue = pipe.queue ?? { packets: 50 };
      lines.push(`q${String(2 * DN_MAX_ID + n).padStart(5, '0')} ${queueText(queue)}${plrText(pipe.plr)} ${active} flows (${pipe.buckets} buckets) sched ${DN_MAX_ID + n} weight 0 lmax 0 pri 0 droptail`);
      lines.push(` sched ${DN_MAX_ID + n} type FIFO flags ${flags} ${pipe.mask ? pipe.buckets : 0} buckets ${active} active`);
      if (pipe.mask) lines.push(maskLine(pipe.mask));
    }
    if (instances.length) lines.push(...flowLines(instances.map(pipeCounters), pipe.mask));
  }
  return lines;
}

const pipeCounters = (p: PipeStatus) => ({ ...p, drops: p.randomDrops + p.overflowDrops });

/** `ipfw queue show`: each queue's flowset line, its mask and its instances on every pipe instance. */
function showQueues(profile: Profile, status: Status, wanted: (n: number) => boolean): string[] {
  const resolved = resolve(profile);
  const numbers = ipfwNumbers(profile);
  const lines: string[] = [];
  const queues = Object.entries(resolved.queues).sort(([a], [b]) => numbers.queues.get(a)! - numbers.queues.get(b)!);
  for (const [name, queue] of queues) {
    const n = numbers.queues.get(name)!;
    if (!wanted(n)) continue;
    // as dummynet lists the flows that exist: an instance that never carried a packet has none
    const instances: (QueueStatus & { drops: number })[] = status.pipes
      .flatMap((p) => p.queues.filter((q) => q.queue === name && (q.packets > 0 || (q.keys?.length ?? 0) > 0 || q.overflowDrops > 0)))
      .map((q) => ({ ...q, drops: q.overflowDrops }));
    lines.push(`q${String(n).padStart(5, '0')} ${queueText(queue.queue)} ${new Set(instances.map((q) => q.instance)).size} flows (${queue.buckets} buckets) sched ${numbers.pipes.get(queue.pipe)} weight ${queue.weight} lmax 0 pri 0 droptail`);
    if (queue.mask) lines.push(maskLine(queue.mask));
    if (instances.length) lines.push(...flowLines(instances, queue.mask));
  }
  return lines;
}
