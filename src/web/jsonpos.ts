// Where each field of a JSON text is, so the editor puts an error at the field it names: errors
// say `profile.pipes.up.bw: ...` (src/common/describe.ts's path form), this maps such paths to the
// line the field is written on.
import { pointerToPath } from '../common/describe.ts';
import { ROOT } from '../profile/resolve.ts';

/** The offset at which each path's key (or array item) starts, by path as errors write it. */
export function fieldOffsets(text: string): Map<string, number> {
  const at = new Map<string, number>();
  let i = 0;
  const skip = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const string = (): string => {
    const start = i;
    for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string[]): void => {
    skip();
    if (text[i] === '{') {
      i++;
      for (skip(); i < text.length && text[i] !== '}'; skip()) {
        if (text[i] === ',') { i++; continue; }
        const start = i;
        const key = string();
        at.set(name([...path, key]), start);
        skip();
        i++; // the colon
        value([...path, key]);
      }
      i++;
    } else if (text[i] === '[') {
      i++;
      for (let n = 0; (skip(), i < text.length && text[i] !== ']'); ) {
        if (text[i] === ',') { i++; continue; }
        at.set(name([...path, String(n)]), i);
        value([...path, String(n++)]);
      }
      i++;
    } else if (text[i] === '"') string();
    else while (i < text.length && !/[\s,\]}]/.test(text[i]!)) i++;
  };
  try {
    at.set(ROOT, 0);
    value([]);
  } catch {
    // a text that is not JSON has no fields to point at; the caller shows JSON.parse's own message
  }
  return at;
}

/** A path as describe.ts writes it: profile.pipes.up.bw, profile.rules[0].pipe. */
function name(segments: string[]): string {
  return ROOT + pointerToPath(segments.map((s) => '/' + s.replace(/~/g, '~0').replace(/\//g, '~1')).join(''));
}

/** The field an error line names, the longest known path it starts with; the root when none. */
export function errorField(error: string, offsets: Map<string, number>): string {
  const path = error.split(': ')[0] ?? ROOT;
  for (let p = path; p.length > 0; p = p.replace(/(\.[^.[]*|\[[^\]]*\])$/, '')) {
    if (offsets.has(p)) return p;
    if (p === p.replace(/(\.[^.[]*|\[[^\]]*\])$/, '')) break;
  }
  return ROOT;
}

/** The 1-based line of an offset in a text. */
export function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}
