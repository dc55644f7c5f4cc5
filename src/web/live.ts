// The live half of the page: /api/v1/events read with the token in a header (again 2 s after the
// stream ends), each second's counters turned into rates against the reading before (timed by the
// box's clock, not by their arrival) and drawn; the box's notes shown over the charts.
import type { Change } from '../agent/changes.ts';
import type { CountersEvent } from '../agent/api/events.ts';
import type { ResolvedProfile } from '../profile/resolve.ts';
import { authorization } from './api.ts';
import { drawCharts } from './charts.ts';
import { byId, el } from './dom.ts';
import { History } from './history.ts';
import { samples } from './rates.ts';
import { readEvents } from './sse.ts';

export interface LiveHandlers {
  /** the profile in force, for each pipe's bw and delay in ΔT */
  inForce(): ResolvedProfile | null;
  /** a profile applied or refused anywhere */
  profile(change: Change): void;
  /** the box refused the token */
  refused(): void;
}

/** Follows the event stream into the charts until stop() is called. */
export function followEvents(on: LiveHandlers): { stop(): void } {
  const history = new History();
  let previous: CountersEvent | null = null;
  const controller = new AbortController();
  const state = byId('connection');

  // one second of counters: rates against the previous reading, into the history and the charts
  const counters = (status: CountersEvent) => {
    const seconds = previous ? (status.readAt - previous.readAt) / 1000 : 0;
    history.add(Date.now() / 1000, samples(previous, status, seconds, on.inForce()));
    previous = status;
    drawCharts(history, byId('charts'));
    showNotes(status.notes ?? []);
  };

  // one stream, and the next 2 s after it ends, until stopped
  const follow = async (): Promise<void> => {
    try {
      const res = await fetch('/api/v1/events', { headers: authorization(), signal: controller.signal, cache: 'no-store' });
      if (res.status === 401) return on.refused();
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      state.textContent = 'live';
      state.className = 'live';
      await readEvents(res.body, (e) => {
        if (e.event === 'counters') counters(JSON.parse(e.data) as CountersEvent);
        else if (e.event === 'profile') on.profile(JSON.parse(e.data) as Change);
        else if (e.event === 'error') state.textContent = `live, but the counters could not be read: ${(JSON.parse(e.data) as { errors: string[] }).errors.join('; ')}`;
      });
    } catch (e) {
      if (controller.signal.aborted) return;
      state.textContent = `reconnecting (${(e as Error).message})`;
    }
    if (controller.signal.aborted) return;
    state.className = 'down';
    setTimeout(() => void follow(), 2000);
  };

  void follow();
  return { stop: () => controller.abort() };
}

/** What the box wants a reader to know now (a fleet URL it cannot fetch, ...), over the charts. */
function showNotes(notes: string[]): void {
  const list = byId('notes');
  if (list.dataset.notes === JSON.stringify(notes)) return;
  list.dataset.notes = JSON.stringify(notes);
  list.replaceChildren(...notes.map((n) => el('li', {}, n)));
  list.hidden = notes.length === 0;
}
