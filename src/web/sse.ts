// Server-sent events read with fetch rather than EventSource: EventSource cannot send the
// Authorization header, and the token must never go into a URL.

/** One event as the stream gives it. */
export interface ServerEvent {
  event: string;
  data: string;
}

/** Splits the text received so far into whole events and what is left of an unfinished one. */
export function parseEvents(buffer: string): { events: ServerEvent[]; rest: string } {
  const blocks = buffer.replace(/\r\n?/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  const events: ServerEvent[] = [];
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      if (colon === 0) continue; // a comment
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length) events.push({ event, data: data.join('\n') });
  }
  return { events, rest };
}

/** Reads an event stream until it ends or `signal` aborts, calling `onEvent` for each event. */
export async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (e: ServerEvent) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    const parsed = parseEvents((buffer += decoder.decode(value, { stream: true })));
    buffer = parsed.rest;
    parsed.events.forEach(onEvent);
  }
}
