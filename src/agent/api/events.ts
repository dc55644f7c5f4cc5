// GET /api/v1/events: server-sent events. Every client gets the counters (`event: counters`, the
// status as /api/v1/status gives it, with the time it was read) at once and then every second, and each change of the profile
// in force or refusal of one (`event: profile`) as it happens. The counters are read once a second
// for all clients together, and only while there is one.
import type { ServerResponse } from 'node:http';
import type { Status } from '../status.ts';
import type { Box } from './box.ts';

/** One `counters` event: the status, and when it was read (ms on the box's monotonic clock, the
 *  middle of the read): rates divide by the time between two reads, which the arrival of two
 *  events over a network, or a busy box, would blur. Only differences of `readAt` mean something. */
export type CountersEvent = Status & { readAt: number };

export const EVENTS_INTERVAL_MS = 1000;

export class EventStream {
  private clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private stopListening: (() => void) | undefined;

  constructor(
    private box: Box,
    private maxClients: number,
    private intervalMs = EVENTS_INTERVAL_MS,
  ) {}

  /** Takes a response as a client of the stream; false when there are already as many as allowed. */
  add(res: ServerResponse): boolean {
    if (this.clients.size >= this.maxClients) return false;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.write(`retry: ${this.intervalMs * 2}\n\n`);
    this.clients.add(res);
    res.on('close', () => this.drop(res));
    if (this.clients.size === 1) this.start();
    void this.sendCounters(res);
    return true;
  }

  /** Ends every client's stream (the server is closing). */
  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stop();
  }

  /** The first client came: counters every interval, and the box's changes as they happen. */
  private start(): void {
    this.timer = setInterval(() => void this.sendCounters(), this.intervalMs);
    this.stopListening = this.box.onChange((change) => this.send('profile', change));
  }

  /** The last client went: nothing more to read or tell. */
  private stop(): void {
    clearInterval(this.timer);
    this.stopListening?.();
    this.timer = this.stopListening = undefined;
  }

  /** A client closed its stream. */
  private drop(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.stop();
  }

  /** The counters, to one client or all; a read that fails is said as an event of its own. */
  private async sendCounters(only?: ServerResponse): Promise<void> {
    try {
      const started = performance.now();
      const status = await this.box.status();
      const counters: CountersEvent = { ...status, readAt: Math.round((started + performance.now()) / 2) };
      this.send('counters', counters, only);
    } catch (e) {
      this.send('error', { errors: [(e as Error).message] }, only);
    }
  }

  /** One event, as the text/event-stream format frames it, to one client or all. */
  private send(event: string, data: unknown, only?: ServerResponse): void {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of only ? [only] : this.clients) if (this.clients.has(res)) res.write(text);
  }
}
