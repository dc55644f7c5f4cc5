// A stand-in agent behind the HTTP API, for host tests of the API and its clients: it validates as
// the agent does, takes its time, and tells listeners of changes. The real agent is tested in the VM.
import type { Box } from '../../src/agent/api/box.ts';
import type { Change } from '../../src/agent/changes.ts';
import type { Status } from '../../src/agent/status.ts';
import type { Profile } from '../../src/profile/schema.ts';
import { validateProfile } from '../../src/profile/validate.ts';

export const wan: Profile = { name: 'wan', pipes: { up: { bw: '1Mbit/s', delay: '10ms' } }, rules: [{ from: 'a', pipe: 'up' }] };
export const status: Status = {
  profile: 'wan',
  pipes: [{ pipe: 'up', instance: 0, port: 'b', packets: 10, bytes: 1000, randomDrops: 1, overflowDrops: 2, backlog: { packets: 3, bytes: 300 }, queues: [] }],
  rules: [{ number: 100, action: 'pipe', target: 'up', packets: 12, bytes: 1200 }],
};

/** The box, what was applied to it, and a way to set what is in force. */
export function fakeBox() {
  const listeners = new Set<(c: Change) => void>();
  const applied: { profile: unknown; source: string }[] = [];
  let inForce: Profile | null = wan;
  const box: Box = {
    inForce: () => inForce,
    appliedAt: async () => (inForce ? new Date(1_700_000_000_000) : null),
    status: async () => ({ ...status, profile: inForce?.name ?? null }),
    async apply(profile, source) {
      applied.push({ profile, source });
      await new Promise((r) => setTimeout(r, 10));
      const checked = validateProfile(profile);
      if (!checked.ok) return { inForce, applied: false, errors: checked.errors, ms: 10 };
      inForce = checked.value;
      for (const l of listeners) l({ kind: 'applied', name: inForce.name, source });
      return { inForce, applied: true, errors: [], ms: 10 };
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return { box, applied, setInForce: (p: Profile | null) => (inForce = p) };
}
