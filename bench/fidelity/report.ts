// bench/report.md and bench/charts/*.svg from the fidelity results: a summary of the targets (met,
// or missed by how much), a table per group with the wrappers beside picowire, and the charts.
import { mkdir, writeFile } from 'node:fs/promises';
import { writeReadmeBlock } from '../readme.ts';
import { join } from 'node:path';
import { AQM_FULL_MS } from './aqm.ts';
import { BDP_IDEAL_BPS } from './bdp.ts';
import { DELAYS_MS, delayTarget, JITTER, NORMAL_IQR } from './delay.ts';
import { QUEUE_BOUND_MS } from './queue.ts';
import type { FidelityResults } from './results.ts';
import { renderChart, type Point, type Series } from './svg.ts';

const mbit = (bps: number) => (bps >= 1e6 ? `${(bps / 1e6).toFixed(bps >= 1e8 ? 1 : 2)} Mbit/s` : `${(bps / 1e3).toFixed(1)} kbit/s`);
const rateName = (bps: number) => (bps >= 1e6 ? `${bps / 1e6} Mbit/s` : `${bps / 1e3} Kbit/s`);
const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)} %`;
const signed = (x: number, digits = 2) => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
const yes = (met: boolean, miss = '') => (met ? 'yes' : `**no**${miss ? `: ${miss}` : ''}`);
const code = (cmds?: string[]) => (cmds ?? []).map((c) => `\`${c}\``).join('<br>');
const table = (head: string[], rows: (string | number)[][]) => [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

interface Target {
  what: string;
  measured: string;
  met: boolean;
  miss?: string;
}

/** Every target of the issue, judged on picowire's own figures. */
function targets(r: FidelityResults): Target[] {
  const out: Target[] = [];
  if (r.delay?.length) {
    const misses = r.delay.filter((d) => !d.met);
    out.push({
      what: 'RTT error at the median ≤ 0.5 ms + 1 % of the delay',
      measured: r.delay.map((d) => `${d.delayMs} ms: ${signed(d.errorMedianMs)}`).join('; ') + ' ms',
      met: misses.length === 0,
      miss: misses.map((d) => `${d.delayMs} ms off by ${(Math.abs(d.errorMedianMs) - d.targetMs).toFixed(2)} ms over the ${d.targetMs.toFixed(2)} ms allowed${d.received < d.pings ? ` (${d.pings - d.received} replies missing)` : ''}`).join('; '),
    });
  }
  const formula = r.formula?.filter((f) => f.how === 'picowire') ?? [];
  if (formula.length) {
    const misses = formula.filter((f) => !f.met);
    out.push({ what: 'one-way time within 5 % of L/B + delay', measured: formula.map((f) => `${f.size} B: ${signed(f.errorPct, 1)} %`).join('; '), met: misses.length === 0, miss: misses.map((f) => `${f.size} B off by ${(Math.abs(f.errorPct) - 5).toFixed(1)} points`).join('; ') });
  }
  const rate = r.rate?.filter((x) => x.how === 'picowire') ?? [];
  if (rate.length) {
    const tcpMiss = rate.filter((x) => !x.tcpMet);
    out.push({ what: 'TCP goodput ≥ 97 % of the ideal (1448/1514 of the rate)', measured: rate.map((x) => `${rateName(x.rateBps)}: ${pct(x.tcpRatio)}`).join('; '), met: tcpMiss.length === 0, miss: tcpMiss.map((x) => `${rateName(x.rateBps)} short by ${((0.97 - x.tcpRatio) * 100).toFixed(1)} points`).join('; ') });
    const udp = rate.filter((x) => x.udpRatio !== undefined);
    const udpMiss = udp.filter((x) => !x.udpMet);
    out.push({ what: 'UDP delivered within 1 % of the rate (offered at 2×)', measured: udp.map((x) => `${rateName(x.rateBps)}: ${pct(x.udpRatio!, 2)}`).join('; '), met: udpMiss.length === 0, miss: udpMiss.map((x) => `${rateName(x.rateBps)} off by ${(Math.abs(x.udpRatio! - 1) * 100 - 1).toFixed(2)} points`).join('; ') });
  }
  if (r.loss?.length) {
    const misses = r.loss.filter((l) => !l.met);
    out.push({ what: 'every loss rate inside its 99 % binomial interval', measured: r.loss.map((l) => `${l.plr}: ${l.lost}/${l.sent} = ${l.observed}`).join('; '), met: misses.length === 0, miss: misses.map((l) => `plr ${l.plr}: ${l.lost} lost, interval [${l.intervalLost.join(', ')}]${l.randomDrops >= l.intervalLost[0] && l.randomDrops <= l.intervalLost[1] ? `; the pipe's own random drops (${l.randomDrops}) are inside it, and ${l.lost - l.randomDrops - l.overflowDrops} datagrams went missing without the pipe dropping them (where was not measured)` : ''}`).join('; ') });
  }
  if (r.change) {
    const c = r.change;
    out.push({ what: 'zero unexplained losses during profile changes', measured: `${c.unexplained} of ${c.probeSent} (${c.probeLost} lost, ${c.pipeDrops} dropped by the profile; ${c.applied}/${c.changes} changes)`, met: c.met.glitch, miss: `${c.unexplained} unexplained` });
    out.push({ what: 'apply latency p99 ≤ 100 ms', measured: `p50 ${c.latencyP50Ms} ms, p99 ${c.latencyP99Ms.toFixed(0)} ms`, met: c.met.latency, miss: `p99 over by ${(c.latencyP99Ms - 100).toFixed(0)} ms (${(c.latencyP99Ms / 100).toFixed(1)}×)` });
  }
  if (r.cost) {
    out.push({ what: 'emulation cost: picowire / plain bridge throughput ≥ 0.9', measured: `${r.cost.ratio} (${mbit(r.cost.picowireMedianBps)} / ${mbit(r.cost.plainMedianBps)})`, met: r.cost.met, miss: `short by ${(0.9 - r.cost.ratio).toFixed(3)}` });
  }
  return out;
}

/** The figures where the wrappers' defaults and picowire part, side by side. */
function beside(r: FidelityResults): string[] {
  const rows: string[][] = [];
  const f = (how: string, size: number) => r.formula?.find((x) => x.how === how && x.size === size);
  for (const size of [64, 1472]) {
    const cells = ['picowire', 'netem delay + rate', 'netem delay + tbf'].map((how) => f(how, size)).map((x) => (x ? `${x.measuredMs} ms (${signed(x.errorPct, 1)} %)` : ''));
    if (cells.some(Boolean)) rows.push([`one-way time, ${size}-byte ping at 1 Mbit/s + 10 ms (formula ${f('picowire', size)?.expectedMs ?? ''} ms)`, cells[0]!, cells[1]!, cells[2]!]);
  }
  const rate = (how: string, bps: number) => r.rate?.find((x) => x.how === how && x.rateBps === bps);
  for (const bps of [256e3, 100e6]) {
    const cells = ['picowire', 'netem rate', 'tbf'].map((how) => rate(how, bps)).map((x) => (x ? pct(x.tcpRatio) : ''));
    if (cells.some(Boolean)) rows.push([`TCP goodput at ${rateName(bps)}, % of ideal`, cells[0]!, cells[1]!, cells[2]!]);
  }
  const q = (how: string) => r.queue?.find((x) => x.how.startsWith(how));
  if (r.queue?.length) rows.push([`largest queueing delay at 1 Mbit/s under overload (asked: 20 packets = ${QUEUE_BOUND_MS.toFixed(0)} ms)`, ...['picowire', 'netem', 'tbf'].map((how) => (q(how) ? `${q(how)!.queueingMaxMs.toFixed(0)} ms` : ''))]);
  const b = (how: string) => r.bdp?.find((x) => x.how === how);
  const pw = b('picowire, default queue');
  const ne = b('netem delay + rate');
  if (pw || ne) rows.push(['TCP goodput at 100 Mbit/s + 100 ms each way, % of ideal', pw ? pct(pw.ratio) : '', ne ? pct(ne.ratio) : '', '']);
  const j = r.jitter;
  if (j?.length) rows.push(['jitter 20 ± 5 ms normal: IQR (normal 6.74 ms), replies reordered', `${j[0]!.iqrMs} ms, ${j[0]!.reordered}`, j[1] ? `${j[1].iqrMs} ms, ${j[1].reordered}` : '', '']);
  if (!rows.length) return [];
  return ['## Beside the wrappers', '', 'The same targets configured as common tc wrappers do by default, in the same VM (details and commands in each section below).', '', table(['figure', 'picowire', 'netem (default limit 1000)', 'tbf (burst 32kbit, latency 400ms)'], rows), ''];
}

function sections(r: FidelityResults): string[] {
  const s: string[] = [];
  const plainNote = r.plainBaselineMs !== undefined ? ` The wrappers shape the whole port, so their baseline is the plain bridge's median RTT, ${r.plainBaselineMs} ms, measured in the same run.` : '';

  if (r.delay?.length) {
    s.push('## Delay', '', 'A pipe with only `delay`, one way (right → left host). RTT error = RTT − configured delay − median RTT of the unshaped address pinged at the same time (the baseline). iputils prints RTTs ≥ 100 ms to the whole millisecond, so errors at 100 and 500 ms are ±0.5 ms grained.', '');
    s.push(table(['one-way delay', 'pings', 'baseline median (ms)', 'RTT median (ms)', 'error median (ms)', 'error p99 (ms)', 'target (ms)', 'met'], r.delay.map((d) => [`${d.delayMs} ms`, `${d.received}/${d.pings}`, d.baselineMedianMs, d.rttMedianMs, signed(d.errorMedianMs), signed(d.errorP99Ms), `≤ ${d.targetMs.toFixed(2)}`, yes(d.met)])));
    s.push('', '![configured against measured delay](charts/delay.svg)', '', '![delay error](charts/delay-error.svg)', '', 'netem `delay` alone is the qdisc picowire uses for its delay line, so a wrapper would measure the same; it has no column of its own here.', '');
  }

  if (r.jitter?.length) {
    s.push('## Jitter', '', `${JITTER.delayMs} ms ± ${JITTER.spreadMs} ms ${JITTER.distribution}, one way, pings 25 ms apart. A normal σ = 5 ms has IQR ${(NORMAL_IQR * JITTER.spreadMs).toFixed(2)} ms. picowire's delay line keeps packets in order (a rate of 100 Gbit/s on the netem), netem's jitter alone reorders them.${plainNote}`, '');
    s.push(table(['configuration', 'replies', 'median over baseline (ms)', 'IQR (ms)', 'stddev (ms)', 'reordered replies'], r.jitter.map((j) => [j.commands ? code(j.commands) : 'picowire', `${j.received}/${j.pings}`, j.medianMs, j.iqrMs, j.stddevMs, j.reordered])));
    s.push('', '![RTT distribution against the configured jitter](charts/jitter.svg)', '');
  }

  if (r.formula?.length) {
    s.push('## The formula ΔT = (Q + L)/B + t_PD', '', `Pings (ICMP payload 64, 512, 1472 bytes) through 1 Mbit/s and 10 ms, 50 ms apart (Q = 0). L is the Ethernet frame without FCS (IP length + 14 = payload + 42 bytes). Measured one-way time = RTT median − the same size's baseline median.${plainNote} Target: within 5 % of L/B + delay.`, '');
    s.push(table(['configuration', 'ping payload', 'frame L (bytes)', 'L/B + delay (ms)', 'measured (ms)', 'error', 'within 5 %'], r.formula.map((f) => [f.commands ? code(f.commands) : 'picowire', f.size, f.frameBytes, f.expectedMs, f.measuredMs, `${signed(f.errorPct, 1)} %`, yes(f.met)])));
    s.push('', '![one-way time against frame size](charts/formula.svg)', '', 'tbf lets a packet through at once while its bucket holds enough tokens (32 kbit here): a ping arriving at an idle link skips its own transmission time, so large pings come out up to L/B early. netem `rate` and picowire (netem `rate` as the bottleneck) make every packet pay L/B.', '');
  }

  if (r.rate?.length) {
    s.push('## Rate', '', 'A pipe with only `bw`. TCP: one flow (right → left), the receiver\'s one-second intervals after slow start, less the first and the last; ideal = 1448/1514 of the rate. UDP: 1472-byte datagrams offered at twice the rate; delivered = received payload × 1514/1472 (frame bits) against the rate. Wrappers: TCP only.', '');
    s.push(table(['configuration', 'rate', 'TCP runs', 'TCP median', '% of ideal', '≥ 97 %', 'bytes per packet at the bottleneck (TCP)', 'UDP offered', 'UDP delivered', '% of rate', 'within 1 %'], r.rate.map((x) => [x.commands ? code(x.commands) : x.how, rateName(x.rateBps), x.tcpBps.map(mbit).join(', '), mbit(x.tcpMedianBps), pct(x.tcpRatio), yes(x.tcpMet), x.meanPacketBytes ?? '', x.udpOfferedBps ? x.udpOfferedBps.map(mbit).join(', ') : '', x.udpMedianBps ? mbit(x.udpMedianBps) : '', x.udpRatio !== undefined ? pct(x.udpRatio, 2) : '', x.udpMet === undefined ? '' : yes(x.udpMet)])));
    s.push('', '![configured against measured rate](charts/rate.svg)', '');
    const lumps = r.rate.filter((x) => (x.meanPacketBytes ?? 0) > 1600);
    s.push(
      lumps.length
        ? `**TCP crossed the pipes in lumps**: up to ${Math.max(...lumps.map((x) => x.meanPacketBytes!))} bytes per packet at the bottleneck (tc's bytes ÷ packets), where a frame is at most 1514. A port's receive offload is on: the agent turns gro, gso, tso, lro and rx-gro-hw off so that every frame crosses a pipe on its own.`
        : "Every packet at the bottleneck is a frame (tc's bytes ÷ packets at most 1514): the agent turns the ports' receive offloads off, virtio-net's rx-gro-hw included, which would otherwise hand over the host's TSO segments as 64 KB lumps that limits and loss count as one packet.",
      '',
    );
    if (r.cost) s.push(`The unshaped bridge carries ${mbit(r.cost.picowireMedianBps)} through picowire and ${mbit(r.cost.plainMedianBps)} plain (Emulation cost below): where a 100 Mbit/s figure falls short, compare it with that ceiling, since QEMU TCG forwards every packet in software on the same 2 cores as the hosts.`, '');
  }

  if (r.loss?.length) {
    s.push('## Loss', '', 'A pipe with only `plr`; UDP, 64-byte datagrams at 5000/s. The interval is the 99 % equal-tailed binomial acceptance region for the lost count. Random and overflow drops are the pipe\'s counters from `picowire status --json`.', '');
    s.push(table(['plr', 'sent', 'lost', 'observed rate', '99 % interval (rate)', 'status: random / overflow', 'inside'], r.loss.map((l) => [l.plr, l.sent, l.lost, l.observed, `[${l.intervalRate.join(', ')}]`, `${l.randomDrops} / ${l.overflowDrops}`, yes(l.met)])));
    s.push('', '![loss rates with their intervals](charts/loss.svg)', '', "netem's `loss random` is the code picowire configures too, so wrappers would measure the same.", '');
  }

  if (r.queue?.length) {
    s.push('## Queue under overload', '', `1 Mbit/s, UDP of 1200-byte datagrams (1242-byte frames) offered at 2 Mbit/s, pings through the same queue 20 ms apart from 1.5 s in. Queueing delay = RTT − baseline − the ping's own 0.78 ms. A 20-packet queue can hold a packet at most 20 × L / B = ${QUEUE_BOUND_MS.toFixed(1)} ms.${plainNote}`, '');
    s.push(table(['configuration', 'queue (1242-byte frames)', 'queueing median (ms)', 'p99 (ms)', 'max (ms)', 'max / 20 × L/B', 'UDP lost', 'pings lost', 'status: overflow / random'], r.queue.map((q) => [q.commands ? code(q.commands) : 'picowire `{ bw: 1Mbit/s, queue: 20 }`', q.queueFrames, q.queueingMedianMs, q.queueingP99Ms, q.queueingMaxMs, (q.queueingMaxMs / QUEUE_BOUND_MS).toFixed(2), `${q.udpLost}/${q.udpSent}`, `${q.pingsSent - q.pingsReceived}/${q.pingsSent}`, q.overflowDrops !== undefined ? `${q.overflowDrops} / ${q.randomDrops}` : ''])));
    const pw = r.queue.find((q) => q.overflowDrops !== undefined);
    if (pw) s.push('', `picowire's overflow drops (${pw.overflowDrops}) against what went missing (${pw.udpLost} datagrams + ${pw.pingsSent - pw.pingsReceived} pings = ${pw.udpLost + pw.pingsSent - pw.pingsReceived}; iperf3's own control packets cross the queue too), and ${pw.randomDrops} random drops: the loss is the queue's, counted as such.`);
    s.push('', '![queueing delay under overload](charts/queue.svg)', '', "netem's default limit of 1000 packets is 9.9 s of queue at 1 Mbit/s: under overload the delay grows for as long as the overload lasts. tbf's `latency 400ms` bounds it, but in bytes (rate × latency + burst), not in the packets asked for.", '');
  }

  if (r.bdp?.length) {
    s.push('## Large bandwidth-delay product', '', `100 Mbit/s with 100 ms each way (RTT 200 ms, BDP 2.5 MB ≈ 1650 frames). One TCP flow (right → left), steady intervals after 4 s; ideal ${mbit(BDP_IDEAL_BPS)}. The hosts' TCP buffers go up to 32 MB for this step (Linux's default 4 MB send buffer holds less than the path's 2.5 MB in flight: the sender, not the link, would set the pace).`, '');
    const ceiling = r.rate?.find((x) => x.how === 'picowire' && x.rateBps === 100e6);
    s.push(table(['configuration', 'what bounds the bottleneck', 'TCP runs', 'median', '% of ideal', ...(ceiling ? ['% of 100 Mbit/s without delay'] : []), 'retransmits', "frames the pipe's queue dropped (all runs, slow start included)"], r.bdp.map((b) => [b.commands ? code(b.commands) : b.how, b.queue, b.tcpBps.map(mbit).join(', '), mbit(b.medianBps), pct(b.ratio), ...(ceiling ? [pct(b.medianBps / ceiling.tcpMedianBps)] : []), b.retransmits.join(', '), b.overflowDrops === undefined ? '' : String(b.overflowDrops)])));
    s.push('', "netem counts the packets in its delay line against its limit: with 100 ms at 100 Mbit/s about 825 frames of netem's 1000 are in flight, leaving ~175 frames of queue. picowire's bottleneck and delay line are separate qdiscs, and the default queue is sized from bw × delay.", '');
    if (Math.max(...r.bdp.map((b) => b.ratio)) < 0.9) s.push(`Every configuration stays at ${Math.round(Math.min(...r.bdp.map((b) => b.ratio)) * 100)}–${Math.round(Math.max(...r.bdp.map((b) => b.ratio)) * 100)} % of the ideal, picowire's BDP-sized queue included. Compare the retransmits with the frames the pipe's queue dropped: where the queue accounts for them, the loss is the link asked for (a tail-drop queue overflowing in slow start); where it does not, frames were lost on the way (the virtio and tap path, which under TCG takes line-rate bursts one frame at a time).`, '');
  }

  if (r.change) {
    const c = r.change;
    s.push('## Change glitch and apply latency', '', `A UDP probe at 1000 packets/s (64-byte payloads) while \`picowire apply\` switched between two profiles of one shape ${c.changes} times (${c.changesTookS} s). The probe's pipe has a 5000-packet queue; its drops (overflow and random) are the profile's, anything else lost is a glitch of the change.`, '');
    s.push(table(['changes applied', 'probe sent', 'lost', 'dropped by the profile', 'unexplained', 'apply p50 (ms)', 'p99 (ms)', 'max (ms)'], [[`${c.applied}/${c.changes}`, c.probeSent, c.probeLost, c.pipeDrops, c.unexplained, c.latencyP50Ms, c.latencyP99Ms.toFixed(0), c.latencyMaxMs]]));
    s.push('');
  }

  if (r.aqm?.length) {
    s.push('## Queue management under load', '', `One pipe of 10 Mbit/s with a 300-frame queue (${AQM_FULL_MS.toFixed(0)} ms full), four NewReno TCP flows through it (right → left) and pings beside them from 5 s in, 0.15 s apart. Queueing delay = the ping's RTT − the unshaped address's median RTT at the same time. The same link with each queue management (docs/profiles.md#aqm for how each maps onto Linux); drops are the pipe's (queue and AQM).`, '');
    s.push(table(['queue management', 'pipe', 'queueing median (ms)', 'p90 (ms)', 'pings lost', 'goodput (% of 1448/1514 of 10 Mbit/s)', 'drops'], r.aqm.map((a) => [a.how, code([JSON.stringify(a.pipe)]), a.queueingMedianMs, a.queueingP90Ms, `${a.pingsSent - a.pingsReceived}/${a.pingsSent}`, pct(a.goodputRatio), a.drops])));
    s.push('', "A droptail pipe's bottleneck is netem's rate; a pipe with queue management takes the scheduled form (the delay line, a tbf at the rate with one frame of burst, then the AQM qdisc). With AQM the flows got less of the link than with droptail, and both forms share the blame: in one boot on 2026-12-07 (four reno flows, 10 s each, the same 10 Mbit/s pipe with 300 frames) netem's rate carried 9.56 Mbit/s, the scheduled form with a plain fifo (droptail through the tbf) 7.08, the same with a 3-frame bucket 6.86, and with CoDel 5.59 Mbit/s: under TCG the tbf path itself costs about a quarter at 10 Mbit/s (pipes with a scheduler or burst have it too), the AQM's small queue at a round trip of about 2 ms another fifth.", '');
  }

  if (r.cost) {
    s.push('## Emulation cost', '', 'Highest TCP throughput (one flow, right → left) through the bridge: picowire with a profile that shapes nothing (no pipes: the ports keep their own qdiscs; its nft table sees and allows every packet), before the wrappers and again after its profile was re-applied, against the same VM\'s plain bridge (`nft delete table bridge picowire; tc qdisc del dev a root; tc qdisc del dev b root`).', '');
    if (r.reapply) s.push(r.reapply.applyWorked ? 'After the wrappers, `picowire apply` put the open profile in force over the plain bridge.' : `After the wrappers, \`picowire apply\` refused the open profile over the plain bridge (${r.reapply.error?.replace(/\|/g, '\\|')}): the agent plans from the kernel state it left, not the one it finds. A respawned agent (kill -9; init restarts it) reads the kernel afresh and applied it; the last picowire row was measured after that.`, '');
    s.push(table(['configuration', 'runs', 'median'], [...r.cost.runs.map((c) => [c.how, c.tcpBps.map(mbit).join(', '), mbit(c.tcpBps.slice().sort((a, b) => a - b)[Math.floor(c.tcpBps.length / 2)]!)]), ['ratio picowire / plain', '', `${r.cost.ratio} (${yes(r.cost.met)})`]]));
    s.push('');
  }
  return s;
}

/** The charts, each as [file name, SVG]. */
function charts(r: FidelityResults): [string, string][] {
  const out: [string, string][] = [];
  const identity = (lo: number, hi: number, name = 'configured'): Series => ({ name, style: 'dashed', color: '#888', points: [{ x: lo, y: lo }, { x: hi, y: hi }] });
  if (r.delay?.length) {
    out.push(['delay.svg', renderChart({ title: 'Delay: configured against measured (one way)', x: { label: 'configured one-way delay (ms)', log: true }, y: { label: 'RTT − baseline median (ms)', log: true }, series: [identity(0.5, 1000), { name: 'picowire median (bar to p99)', points: r.delay.map((d) => ({ x: d.delayMs, y: d.delayMs + d.errorMedianMs, yLo: d.delayMs + d.errorMedianMs, yHi: d.delayMs + d.errorP99Ms })) }] })]);
    out.push(['delay-error.svg', renderChart({ title: 'Delay: RTT error (measured − expected)', x: { label: 'configured one-way delay (ms)', log: true }, y: { label: 'error (ms)' }, series: [{ name: 'picowire median (bar to p99)', points: r.delay.map((d) => ({ x: d.delayMs, y: d.errorMedianMs, yLo: d.errorMedianMs, yHi: d.errorP99Ms })) }, { name: 'target ±(0.5 ms + 1 %)', style: 'dashed', color: '#2ca02c', points: DELAYS_MS.map((x) => ({ x, y: delayTarget(x) })) }, { name: '', style: 'dashed', color: '#2ca02c', points: DELAYS_MS.map((x) => ({ x, y: -delayTarget(x) })) }] })]);
  }
  if (r.jitter?.length) {
    const bins = (xs: number[]): Point[] => {
      const pts: Point[] = [];
      for (let b = 0; b <= 45; b++) pts.push({ x: b, y: xs.filter((v) => v >= b && v < b + 1).length / xs.length });
      return pts;
    };
    const pdf: Point[] = [];
    for (let x = 0; x <= 45; x += 0.5) pdf.push({ x, y: Math.exp(-(((x - JITTER.delayMs) / JITTER.spreadMs) ** 2) / 2) / (JITTER.spreadMs * Math.sqrt(2 * Math.PI)) });
    out.push(['jitter.svg', renderChart({ title: 'Jitter 20 ms ± 5 ms normal: one-way delay distribution', x: { label: 'RTT − baseline median (ms), 1 ms bins', min: 0, max: 46 }, y: { label: 'fraction of replies per ms', min: 0 }, series: [...r.jitter.map((j): Series => ({ name: j.commands ? 'netem jitter' : 'picowire', style: 'step', points: bins(j.extraMs) })), { name: 'normal(20, 5)', style: 'dashed', color: '#888', points: pdf }] })]);
  }
  if (r.formula?.length) {
    const hows = [...new Set(r.formula.map((f) => f.how))];
    out.push(['formula.svg', renderChart({ title: 'One-way time at 1 Mbit/s + 10 ms against frame size', x: { label: 'frame L (bytes)', min: 0, max: 1600 }, y: { label: 'one-way time (ms)', min: 0 }, series: [{ name: 'L/B + delay', style: 'dashed', color: '#888', points: [0, 1600].map((L) => ({ x: L, y: (L * 8) / 1e3 + 10 })) }, ...hows.map((how): Series => ({ name: how, points: r.formula!.filter((f) => f.how === how).map((f) => ({ x: f.frameBytes, y: f.measuredMs })) }))] })]);
  }
  if (r.rate?.length) {
    const hows = [...new Set(r.rate.map((x) => x.how))];
    const share = (bps: number, rate: number) => (bps / rate) * 100;
    const flat = (name: string, y: number, color: string): Series => ({ name, style: 'dashed', color, points: [{ x: 1e5, y }, { x: 2e8, y }] });
    const series: Series[] = [flat('configured rate', 100, '#888'), flat('TCP ideal (1448/1514)', (1448 / 1514) * 100, '#bbb')];
    // each configuration a little apart on the x axis, so their points do not hide each other
    hows.forEach((how, k) => series.push({ name: `${how} TCP (bar: runs)`, points: r.rate!.filter((x) => x.how === how).map((x) => ({ x: x.rateBps * 1.1 ** (k + 1), y: share(x.tcpMedianBps, x.rateBps), yLo: share(Math.min(...x.tcpBps), x.rateBps), yHi: share(Math.max(...x.tcpBps), x.rateBps) })) }));
    const udp = r.rate.filter((x) => x.udpMedianBps !== undefined);
    if (udp.length) series.push({ name: 'picowire UDP delivered', points: udp.map((x) => ({ x: x.rateBps, y: share(x.udpMedianBps!, x.rateBps), yLo: share(Math.min(...x.udpDeliveredBps!), x.rateBps), yHi: share(Math.max(...x.udpDeliveredBps!), x.rateBps) })) });
    out.push(['rate.svg', renderChart({ title: 'Rate: measured as a share of the configured rate', x: { label: 'configured rate (bit/s)', log: true, min: 1e5, max: 2e8 }, y: { label: 'measured / configured (%)' }, series })]);
  }
  if (r.loss?.length) {
    out.push(['loss.svg', renderChart({ title: 'Loss: observed rate and 99 % binomial interval', x: { label: 'configured plr', log: true }, y: { label: 'observed loss rate', log: true }, series: [identity(5e-4, 0.2), { name: 'picowire (bar: 99 % interval)', points: r.loss.map((l) => ({ x: l.plr, y: Math.max(l.observed, 1e-5), yLo: Math.max(l.intervalRate[0], 1e-5), yHi: l.intervalRate[1] })) }] })]);
  }
  if (r.queue?.length) {
    const series: Series[] = r.queue.map((q) => ({ name: q.commands ? q.how : 'picowire queue 20', style: 'line', points: q.series.map(([x, y]) => ({ x, y: Math.max(y, 0.1) })) }));
    series.push({ name: '20 × L / B', style: 'dashed', color: '#888', points: [{ x: 0, y: QUEUE_BOUND_MS }, { x: Math.max(...r.queue.flatMap((q) => q.series.map(([x]) => x))), y: QUEUE_BOUND_MS }] });
    out.push(['queue.svg', renderChart({ title: 'Queueing delay at 1 Mbit/s under 2× overload', x: { label: 'seconds since the pings started', min: 0 }, y: { label: 'queueing delay (ms)', log: true }, series })]);
  }
  return out;
}

/** The dummynet column's figures as results of their own (targets and sections read them as they read the tc engine's). */
function dummynetView(r: FidelityResults): FidelityResults | undefined {
  if (!r.dummynet) return undefined;
  const { refused: _, ...figures } = r.dummynet;
  return { date: r.date, machine: r.machine, image: r.image, mode: r.mode, durationS: r.durationS, errors: [], ...figures };
}

/** The summary: each target on the tc engine and, when measured, on the dummynet engine beside it. */
function summary(r: FidelityResults): string {
  const tc = targets(r);
  const view = dummynetView(r);
  if (!view) return table(['target', 'picowire measured', 'met'], tc.map((x) => [x.what, x.measured, yes(x.met, x.miss)]));
  const dn = targets(view);
  const whats = [...new Set([...tc, ...dn].map((x) => x.what))];
  const cells = (list: Target[], what: string) => {
    const x = list.find((y) => y.what === what);
    return x ? [x.measured, yes(x.met, x.miss)] : ['not measured', ''];
  };
  const rows = whats.map((what) => [what, ...cells(tc, what), ...cells(dn, what)]);
  for (const x of r.dummynet!.refused) rows.push([x.case, 'measured below', '', `refused: ${x.error.replace(/\|/g, '\\|')}`, '']);
  return table(['target', 'tc engine measured', 'met', 'dummynet engine measured', 'met'], rows);
}

/** When the dummynet column was measured: in the full run after the tc engine's cases, or in a boot of its own (run.ts --only), with the host's load. */
function dummynetWhen(r: FidelityResults): string {
  const own = r.supplements?.filter((x) => x.steps.some((step) => step.startsWith('dummynet '))) ?? [];
  if (!own.length) return "in the same boot after the tc engine's and the wrappers'";
  const boot = (x: (typeof own)[number]) => `on ${x.date.slice(0, 16).replace('T', ' ')} UTC (${own.length > 1 ? `${x.steps.map((step) => step.replace(/^dummynet /, '')).join(', ')}; ` : ''}${(x.durationS / 60).toFixed(1)} minutes${x.loadAvg ? `, host load average ${x.loadAvg.map((l) => l ?? '?').join(' at the start, ')} at the end` : ''})`;
  return `in ${own.length > 1 ? 'boots' : 'a boot'} of its own ${own.map(boot).join(' and ')}`;
}

/** The dummynet engine's own tables: the tc engine's sections over its figures, one heading level down, without the charts (they plot the tc engine's). */
function dummynetSections(r: FidelityResults): string[] {
  const view = dummynetView(r);
  if (!view) return [];
  const refused = r.dummynet!.refused;
  return [
    '## The dummynet engine',
    '',
    `The same picowire cases with \`"engine": "dummynet"\` (FreeBSD's ipfw and dummynet in userspace on netmap, kipfw, holding the ports instead of the bridge), ${dummynetWhen(r)}. The wrappers have no column here: they configure tc.`,
    '',
    ...(refused.length ? ['Cases the engine refuses (the agent\'s own check, before anything is applied), so not measured:', '', ...refused.map((x) => `- ${x.case}: ${x.error}`), ''] : []),
    ...sections(view)
      .filter((line) => !line.startsWith('!['))
      .map((line) => (line.startsWith('## ') ? `### ${line.slice(3)} (dummynet)` : line.replace(/picowire `\{ bw/g, 'dummynet `{ bw'))),
  ];
}

/** Writes report.md and the charts under `benchDir`; returns the files written. */
export async function writeReport(r: FidelityResults, benchDir: string): Promise<string[]> {
  await mkdir(join(benchDir, 'charts'), { recursive: true });
  const written: string[] = [];
  for (const [file, svg] of charts(r)) {
    await writeFile(join(benchDir, 'charts', file), svg);
    written.push(`bench/charts/${file}`);
  }
  const lines = [
    '# Fidelity of the emulated link',
    '',
    `Written by \`npx tsx bench/fidelity/run.ts${r.mode === 'quick' ? ' --quick' : ''}\` (${r.mode} run) from \`bench/fidelity-results.json\`. Measured ${r.date.slice(0, 16).replace('T', ' ')} UTC on ${r.machine.nproc} cores (${r.machine.model}), QEMU ${r.machine.qemu}${r.machine.loadAvgAtStart !== undefined ? ` (host load average ${r.machine.loadAvgAtStart} at the start, ${r.machine.loadAvgAtEnd ?? '?'} at the end)` : ''}, image \`${r.image.replace(/.*\/(images\/)/, '$1')}\`; the whole run took ${(r.durationS / 60).toFixed(1)} minutes in one boot.`,
    '',
    'Each figure below is the emulated link against the one asked for, measured between the lab\'s two hosts across the appliance. Where the issue sets a target the summary says whether picowire meets it and, if not, by how much. Beside picowire, in the same run and VM, the same targets configured the way common tc wrappers do by default (picowire\'s nft table and qdiscs removed, the `tc` lines shown typed on the console).',
    '',
    ...(r.supplements?.length ? [...r.supplements.map((x) => `Measured again on ${x.date.slice(0, 16).replace('T', ' ')} UTC in a boot of their own (${x.durationS} s${x.loadAvg ? `, host load average ${x.loadAvg.map((l) => l ?? '?').join(' at the start, ')} at the end` : ''}) and merged in: ${x.steps.join(', ')}${x.replaced.length ? `, which had failed in the full run (${x.replaced.map((e) => e.replace(/\n/g, ' ').slice(0, 200)).join('; ')})` : ''}.`), ''] : []),
    ...(r.errors.length ? ['**Steps that failed (their figures are missing):**', '', ...r.errors.map((e) => `- ${e.replace(/\n/g, ' ').slice(0, 400)}`), ''] : []),
    '## Summary',
    '',
    summary(r),
    '',
    ...beside(r),
    ...sections(r),
    ...dummynetSections(r),
  ];
  await writeFile(join(benchDir, 'report.md'), lines.join('\n') + '\n');
  written.push('bench/report.md');
  // the README's headline: the summary table and where it came from
  await writeReadmeBlock(join(benchDir, '..', 'README.md'), 'fidelity', [
    `Fidelity, from [bench/report.md](bench/report.md) (${r.mode} run, ${r.date.slice(0, 10)}, ${r.machine.nproc} cores ${r.machine.model}, QEMU ${r.machine.qemu}${r.dummynet ? `; the dummynet engine's column ${dummynetWhen(r)}` : ''}):`,
    '',
    summary(r),
  ]);
  written.push('README.md');
  return written;
}
