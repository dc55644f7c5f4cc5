// dummynet's empirical delay profile file (ipfw pipe N config profile FILE; ipfw(8), "EMPIRICAL
// DELAY PROFILE") → the JSON profile's `delayProfile` (and the pipe's `bw`, which the file may set).
// The format, as FreeBSD's ipfw reads it: one keyword and its value a line, `#` comments, blank lines
//   name NAME          the profile's name (shown by pipe show)
//   samples N          how many samples the kernel's table has (picowire's tc table always has 4096)
//   bw B               the link's bandwidth, as `pipe config bw` takes it
//   loss-level P       draws above this cumulative probability lose the packet (default 1: none)
//   prob delay         (or `delay prob`) starts the points: then lines of a probability and a delay
//                      in milliseconds, in the order that header names them; at least 2 points
// The points are sorted (by probability, then delay) as ipfw sorts them, and become
// `samples: [{prob, delay}]` in ms, which picowire's resolver interpolates as dummynet does.
import { UserError } from '../common/errors.ts';
import { BANDWIDTH_UNITS, parseBandwidth } from '../profile/units.ts';
import type { Pipe } from '../profile/schema.ts';

const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;
/** dummynet's table holds at most this many samples (ED_MAX_SAMPLES_NO) */
const MAX_SAMPLES = 1024;

/** A delay profile file's text as the pipe fields it sets; `file` names it in errors. */
export function parseDelayProfile(text: string, file: string): Pick<Pipe, 'bw' | 'delayProfile'> & { name?: string } {
  let name: string | undefined;
  let samples: number | undefined;
  let bw: string | undefined;
  let lossLevel: number | undefined;
  let order: 'prob' | 'delay' | undefined;
  const points: { prob: number; delay: number }[] = [];
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const fail = (problem: string): never => {
      throw new UserError(`${file}, line ${i + 1}: ${raw.trim()}: ${problem}`);
    };
    const words = raw.replace(/#.*$/, '').trim().split(/\s+/).filter((w) => w !== '');
    if (words.length === 0) return;
    if (words.length > 2) fail('too many words; allowed: a keyword and its value (name, samples, bw, loss-level), "prob delay" or "delay prob", then two numbers a line');
    const [word, arg] = words as [string, string | undefined];
    const key = word.toLowerCase();
    if ((key === 'prob' || key === 'delay') && (arg === 'delay' || arg === 'prob') && arg !== key) {
      if (order) fail('the points have started already: write "prob delay" once');
      order = key;
      return;
    }
    if (arg === undefined) return fail(`${JSON.stringify(word)} needs a value`);
    if (order && NUMBER.test(word)) {
      if (!NUMBER.test(arg)) fail(`${JSON.stringify(arg)} is not a number; a point is two numbers, ${order === 'prob' ? 'a probability and a delay in ms' : 'a delay in ms and a probability'}`);
      const [prob, delay] = order === 'prob' ? [Number(word), Number(arg)] : [Number(arg), Number(word)];
      if (prob > 1) fail(`the probability ${prob} is above 1; allowed: from 0 to 1`);
      points.push({ prob, delay });
      return;
    }
    switch (key) {
      case 'name':
        if (name !== undefined) fail('name is given twice');
        name = arg;
        break;
      case 'samples':
        if (samples !== undefined) fail('samples is given twice');
        if (!/^\d+$/.test(arg) || Number(arg) < 1 || Number(arg) > MAX_SAMPLES) fail(`${JSON.stringify(arg)} is not a number of samples; allowed: 1 to ${MAX_SAMPLES}`);
        samples = Number(arg);
        break;
      case 'bw':
        try {
          parseBandwidth(arg);
        } catch {
          fail(`${JSON.stringify(arg)} is not a bandwidth; allowed: a number and a unit such as 4Mbit/s (${BANDWIDTH_UNITS})`);
        }
        bw = arg;
        break;
      case 'loss-level':
        if (lossLevel !== undefined) fail('loss-level is given twice');
        if (!NUMBER.test(arg) || Number(arg) > 1) fail(`${JSON.stringify(arg)} is not a loss level; allowed: a number from 0 to 1`);
        lossLevel = Number(arg);
        break;
      default:
        fail(`${JSON.stringify(word)} is not a keyword of a delay profile; allowed: name, samples, bw, loss-level, "prob delay" or "delay prob" and then the points`);
    }
  });
  if (points.length < 2) throw new UserError(`${file}: ${points.length} points; a delay profile needs at least 2 (after a "prob delay" line, a probability and a delay in ms a line)`);
  points.sort((a, b) => a.prob - b.prob || a.delay - b.delay);
  return {
    ...(name !== undefined && { name }),
    ...(bw !== undefined && { bw }),
    delayProfile: { samples: points.map((p) => ({ prob: p.prob, delay: p.delay })), ...(lossLevel !== undefined && lossLevel !== 1 && { lossLevel }) },
  };
}
