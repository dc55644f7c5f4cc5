// `make bench`, management plane: how long a profile change takes through the HTTP API against the
// console's `picowire apply`, in one boot of the PXE image with a management NIC. Both sides alternate
// two profiles of one shape (as the fidelity benchmark's change step does). Figures per change: the
// agent's own request-to-in-force time (what `picowire apply` prints and the API answers as `ms`), and
// for the API the client's whole round trip too (QEMU's user-network forward included). Written to
// bench/api-results.json and as a table into README.md.
//   npx tsx bench/api.ts
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { runOnConsole } from '../src/lab/console.ts';
import { withLab } from '../src/lab/lab.ts';
import { median, percentile } from '../src/lab/stats.ts';
import { applyProfile, type Profile } from './fidelity/common.ts';
import { round } from './boot.ts';
import { writeReadmeBlock } from './readme.ts';

const REPO = resolve(import.meta.dirname, '..');
const CHANGES = Number(process.env.BENCH_CHANGES ?? 60);
const TOKEN = 'bench-api-token-0123456789abcdef';

const shape = (name: string, bw: string, delay: string): Profile => ({
  name,
  pipes: { up: { bw, delay }, down: { delay } },
  rules: [{ from: 'a', pipe: 'up' }, { from: 'b', pipe: 'down' }],
});
const A = shape('api-a', '20Mbit/s', '10ms');
const B = shape('api-b', '15Mbit/s', '15ms');

/** p50, p99 and max of a list of milliseconds. */
const summary = (ms: number[]) => ({ n: ms.length, p50: round(median(ms), 0), p99: round(percentile(ms, 99), 0), max: round(Math.max(...ms), 0) });

async function main(): Promise<void> {
  const load = loadavg()[0]!;
  const results = await withLab(
    join(REPO, 'images/default-pxe'),
    'direct',
    JSON.stringify(A),
    async (_lab, vm, api) => {
      await vm.waitFor(/picowire: API on http:\/\/\S+ \(management NIC/, 60_000);
      // the console: the fidelity benchmark's way, one `picowire apply` of many files
      await applyProfile(vm, A, '/tmp/a.json');
      await applyProfile(vm, B, '/tmp/b.json');
      const out = await runOnConsole(vm, `picowire apply $(for i in $(seq ${CHANGES / 2}); do echo /tmp/a.json /tmp/b.json; done)`, CHANGES * 5000);
      const consoleMs = [...out.matchAll(/applied profile api-[ab] \((\d+) ms\)/g)].map((m) => Number(m[1]));
      // the API: one PUT after the other from this host
      const agentMs: number[] = [];
      const clientMs: number[] = [];
      for (let i = 0; i < CHANGES; i++) {
        const started = performance.now();
        const res = await fetch(`${api!.url}/api/v1/profile`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(i % 2 ? B : A),
          signal: AbortSignal.timeout(60_000),
        });
        const body = (await res.json()) as { ms?: number; errors?: string[] };
        clientMs.push(performance.now() - started);
        if (res.status !== 200 || body.ms === undefined) throw new Error(`PUT ${i}: HTTP ${res.status} ${JSON.stringify(body)}`);
        agentMs.push(body.ms);
      }
      return { console: summary(consoleMs), api: summary(agentMs), apiClient: summary(clientMs) };
    },
    { management: true, qemu: { fwCfg: { token: TOKEN } } },
  );
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, qemu: 'TCG (no KVM)', loadAtStart: round(load, 2), loadAtEnd: round(loadavg()[0]!, 2) },
    changes: CHANGES,
    ...results,
  };
  await writeFile(join(REPO, 'bench/api-results.json'), JSON.stringify(out, null, 2) + '\n');
  await writeReadmeBlock(join(REPO, 'README.md'), 'api', [
    `Measured ${out.date.slice(0, 10)} by \`npx tsx bench/api.ts\` on ${out.machine.cpus} cores (${out.machine.model}), QEMU under TCG, one boot (host load ${out.machine.loadAtStart} at the start, ${out.machine.loadAtEnd} at the end): ${CHANGES} changes each way, alternating two profiles of one shape.`,
    '',
    '| a profile change through | p50 (ms) | p99 (ms) | max (ms) |',
    '| --- | --- | --- | --- |',
    `| the console, \`picowire apply\` (request to in force, as the agent times it) | ${out.console.p50} | ${out.console.p99} | ${out.console.max} |`,
    `| the API, \`PUT /api/v1/profile\` (request to in force, as the agent times it) | ${out.api.p50} | ${out.api.p99} | ${out.api.max} |`,
    `| the API, the client's whole round trip through QEMU's forward | ${out.apiClient.p50} | ${out.apiClient.p99} | ${out.apiClient.max} |`,
  ]);
  console.log(JSON.stringify(out, null, 2));
}

await main();
