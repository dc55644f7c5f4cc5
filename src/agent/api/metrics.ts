// GET /metrics: the counters `picowire status` reads, in Prometheus' text exposition format
// (version 0.0.4): per pipe and mask instance on each egress port, per scheduled queue and per rule,
// packets, bytes, drops by cause and what is queued now; and the profile in force with when it was
// applied. Counters are the kernel's, so they start again from 0 when a profile change replaces a qdisc.
import type { Status } from '../status.ts';

export const METRICS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string | number>;
interface Family {
  help: string;
  type: 'counter' | 'gauge';
  samples: { labels: Labels; value: number }[];
}

/** The exposition of a status and the time its profile was applied (null: none in force). */
export function formatMetrics(status: Status, appliedAt: Date | null): string {
  const families = new Map<string, Family>();
  // a family's help and type come from its first sample
  const add = (name: string, type: Family['type'], help: string, labels: Labels, value: number) => {
    const family = families.get(name) ?? { help, type, samples: [] };
    families.set(name, family);
    family.samples.push({ labels, value });
  };
  add('picowire_profile_in_force', 'gauge', 'Whether a profile is in force (1) or the bridge forwards nothing (0).', {}, status.profile === null ? 0 : 1);
  if (status.profile !== null) {
    add('picowire_profile_info', 'gauge', 'The profile in force, by name.', { name: status.profile }, 1);
    if (appliedAt) add('picowire_profile_applied_timestamp_seconds', 'gauge', 'When the profile in force was applied, in seconds since the epoch.', {}, appliedAt.getTime() / 1000);
  }
  for (const p of status.pipes) {
    const at = { pipe: p.pipe, instance: p.instance, port: p.port };
    add('picowire_pipe_packets_total', 'counter', 'Packets a pipe instance passed, by the port they leave on.', at, p.packets);
    add('picowire_pipe_bytes_total', 'counter', 'Bytes a pipe instance passed.', at, p.bytes);
    add('picowire_pipe_drops_total', 'counter', "Packets a pipe instance dropped, by cause: random loss (plr and the loss models) or overflow of its queue.", { ...at, cause: 'random' }, p.randomDrops);
    add('picowire_pipe_drops_total', 'counter', '', { ...at, cause: 'overflow' }, p.overflowDrops);
    add('picowire_pipe_queue_packets', 'gauge', 'Packets waiting in a pipe instance now.', at, p.backlog.packets);
    add('picowire_pipe_queue_bytes', 'gauge', 'Bytes waiting in a pipe instance now.', at, p.backlog.bytes);
    for (const q of p.queues) {
      const qat = { pipe: p.pipe, queue: q.queue, instance: q.instance, port: p.port };
      add('picowire_queue_packets_total', 'counter', "Packets a queue instance of a pipe's scheduler passed.", qat, q.packets);
      add('picowire_queue_bytes_total', 'counter', 'Bytes a queue instance passed.', qat, q.bytes);
      add('picowire_queue_drops_total', 'counter', 'Packets a queue instance dropped, by cause.', { ...qat, cause: 'overflow' }, q.overflowDrops);
      add('picowire_queue_queue_packets', 'gauge', 'Packets waiting in a queue instance now.', qat, q.backlog.packets);
      add('picowire_queue_queue_bytes', 'gauge', 'Bytes waiting in a queue instance now.', qat, q.backlog.bytes);
    }
  }
  for (const r of status.rules) {
    const at = { rule: r.number, action: r.action, target: r.target ?? '' };
    add('picowire_rule_packets_total', 'counter', 'Packets a rule matched.', at, r.packets);
    add('picowire_rule_bytes_total', 'counter', 'Bytes a rule matched.', at, r.bytes);
  }
  const lines: string[] = [];
  for (const [name, family] of families) {
    lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
    for (const s of family.samples) lines.push(`${name}${labelText(s.labels)} ${s.value}`);
  }
  return lines.join('\n') + '\n';
}

/** `{a="1",b="x"}`, values escaped as the format says (backslash, double quote, newline); nothing when there are no labels. */
function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
