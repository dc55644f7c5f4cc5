// ipfw/dnctl's queue management words → a profile's `aqm` and `fq` (src/profile/schema.ts), as
// FreeBSD 14's ipfw(8) documents them:
//   droptail
//   red | gred w_q/min_th/max_th/max_p      and `ecn` as an option of its own (RED marks instead of dropping)
//   codel [target t] [interval t] [ecn | noecn]
//   pie [target t] [tupdate t] [alpha n] [beta n] [max_burst t] [max_ecnth n] [ecn | noecn]
//       [capdrop | nocapdrop] [drand | nodrand] [onoff] [dre | ts]
//   type fq_codel | fq_pie, then codel's or pie's words and [quantum m] [limit m] [flows m]
// A time is milliseconds unless it says s, ms or us. ipfw reads every word after codel, pie or
// fq_* as theirs; picowire reads theirs while they come, then goes on with the pipe's own options.
// Values are kept as written, so formatIpfw writes them back the same.
import type { Aqm, FlowQueue } from '../profile/schema.ts';

/** What the words after codel, pie or fq_* may be. */
export const CODEL_WORDS = 'target, interval, ecn, noecn';
export const PIE_WORDS = 'target, tupdate, alpha, beta, max_burst, max_ecnth, ecn, noecn, capdrop, nocapdrop, drand, nodrand, onoff, dre, ts';
export const FQ_WORDS = 'quantum, limit, flows';
export const AQM_OPTIONS = 'droptail, red, gred, ecn, codel, pie';
/** the words that start (or, ecn, flag) a pipe's or queue's queue management */
export const AQM_WORDS: ReadonlySet<string> = new Set(AQM_OPTIONS.split(', '));

/** The parser's reading of one command, as the AQM words need it (see CommandParser in parse.ts). */
export interface Reader {
  peek(ahead?: number): string | undefined;
  next(): string | undefined;
  bad(word: string, problem: string): never;
  fail(problem: string): never;
  /** a time: a number of ms or a number and a unit */
  duration(option: string): string | number;
  /** a number after an option (a missing one is an error naming what was expected) */
  value(option: string, expected: string): string;
}

const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;
const INTEGER = /^\d+$/;

function number(r: Reader, option: string, what: string, max: number): number {
  const v = r.value(option, what);
  if (!NUMBER.test(v) || Number(v) > max) r.bad(v, `is not ${what}`);
  return Number(v);
}

function integer(r: Reader, option: string, what: string): number {
  const v = r.value(option, what);
  if (!INTEGER.test(v)) r.bad(v, `is not ${what}`);
  return Number(v);
}

/** `red|gred w_q/min_th/max_th/max_p` (the word red or gred already read). */
export function red(r: Reader, type: 'red' | 'gred'): Aqm {
  const allowed = `w_q/min_th/max_th/max_p, such as 0.002/30/80/0.1 (w_q and max_p from 0 to 1, min_th and max_th whole numbers of slots, or bytes when the queue is in bytes)`;
  const v = r.value(type, allowed);
  const parts = v.split('/');
  const ok = parts.length === 4 && NUMBER.test(parts[0]!) && INTEGER.test(parts[1]!) && INTEGER.test(parts[2]!) && NUMBER.test(parts[3]!) && Number(parts[0]) <= 1 && Number(parts[3]) <= 1;
  if (!ok) r.bad(v, `is not ${type}'s parameters; allowed: ${allowed}`);
  return { type, wq: Number(parts[0]), minTh: Number(parts[1]), maxTh: Number(parts[2]), maxP: Number(parts[3]) };
}

/** codel's or pie's words after `codel` or `pie` (or `type fq_codel|fq_pie`, which add quantum, limit and flows): while they come. */
export function params(r: Reader, type: 'codel' | 'pie', fq: boolean): { aqm: Aqm; fq: FlowQueue } {
  const aqm: Aqm = { type };
  const flows: FlowQueue = {};
  const words = `${type === 'codel' ? CODEL_WORDS : PIE_WORDS}${fq ? `, ${FQ_WORDS}` : ''}`;
  const once = (key: string, word: string) => {
    if (key in aqm || key in flows) r.bad(word, `is given twice (or contradicts an earlier word): write each of ${type}'s parameters once; allowed: ${words}`);
  };
  for (;;) {
    const word = r.peek();
    if (word === undefined) break;
    const w = word.toLowerCase();
    const both = ['target', 'ecn', 'noecn'];
    const own = type === 'codel' ? ['interval'] : ['tupdate', 'alpha', 'beta', 'max_burst', 'max_ecnth', 'capdrop', 'nocapdrop', 'drand', 'nodrand', 'onoff', 'dre', 'ts'];
    const fqOwn = fq ? ['quantum', 'limit', 'flows'] : [];
    if (![...both, ...own, ...fqOwn].includes(w)) {
      const other = type === 'codel' ? PIE_WORDS.split(', ') : ['interval'];
      if (other.includes(w) && !['ecn', 'noecn', 'target'].includes(w)) r.bad(word, `is not one of ${type}'s parameters (it is ${type === 'codel' ? 'pie' : 'codel'}'s); allowed: ${words}`);
      break;
    }
    r.next();
    switch (w) {
      case 'target':
      case 'interval':
      case 'tupdate':
        once(w, word);
        aqm[w] = r.duration(word);
        break;
      case 'max_burst':
        once('maxBurst', word);
        aqm.maxBurst = r.duration(word);
        break;
      case 'alpha':
      case 'beta':
        once(w, word);
        aqm[w] = number(r, word, `pie's ${w}; allowed: a number from 0 to 7, such as ${w === 'alpha' ? '0.125' : '1.25'}`, 7);
        break;
      case 'max_ecnth':
        once('maxEcnth', word);
        aqm.maxEcnth = number(r, word, 'an ECN threshold; allowed: a probability from 0 to 1, such as 0.1', 1);
        break;
      case 'ecn':
      case 'noecn':
        once('ecn', word);
        aqm.ecn = w === 'ecn';
        break;
      case 'capdrop':
      case 'nocapdrop':
        once('capdrop', word);
        aqm.capdrop = w === 'capdrop';
        break;
      case 'drand':
      case 'nodrand':
        once('derand', word);
        aqm.derand = w === 'drand';
        break;
      case 'onoff':
        once('onoff', word);
        aqm.onoff = true;
        break;
      case 'dre':
      case 'ts':
        once('estimator', word);
        aqm.estimator = w;
        break;
      case 'quantum':
        once('quantum', word);
        flows.quantum = integer(r, word, 'a quantum; allowed: a whole number of bytes from 1 to 9000');
        break;
      case 'limit':
        once('limit', word);
        flows.limit = integer(r, word, 'a limit; allowed: a whole number of packets from 1 to 20480');
        break;
      case 'flows':
        once('flows', word);
        flows.flows = integer(r, word, 'a number of flows; allowed: a whole number from 1 to 65536');
        break;
    }
  }
  return { aqm, fq: flows };
}

/**
 * The words formatIpfw writes for a pipe's or queue's aqm, last on its line (ipfw reads every word
 * after codel or pie as theirs); for a pipe whose scheduler is fq_codel or fq_pie, `type` and the
 * scheduler, then its flows' parameters and quantum, limit, flows.
 */
export function aqmWords(aqm: Aqm | undefined, scheduler?: string, fq?: FlowQueue): string[] {
  const fqType = scheduler === 'fq_codel' || scheduler === 'fq_pie';
  const words: string[] = fqType ? ['type', scheduler] : aqm && (aqm.type === 'codel' || aqm.type === 'pie') ? [aqm.type] : [];
  const text = (v: string | number) => String(v).replace(/\s+/g, '');
  if (aqm) {
    if (aqm.type === 'red' || aqm.type === 'gred') {
      words.push(aqm.type, [aqm.wq, aqm.minTh, aqm.maxTh, aqm.maxP].map((v) => text(v ?? 0)).join('/'));
      if (aqm.ecn) words.push('ecn');
    } else if (aqm.type === 'droptail') words.push('droptail');
    else {
      if (aqm.target !== undefined) words.push('target', text(aqm.target));
      if (aqm.interval !== undefined) words.push('interval', text(aqm.interval));
      if (aqm.tupdate !== undefined) words.push('tupdate', text(aqm.tupdate));
      if (aqm.alpha !== undefined) words.push('alpha', text(aqm.alpha));
      if (aqm.beta !== undefined) words.push('beta', text(aqm.beta));
      if (aqm.maxBurst !== undefined) words.push('max_burst', text(aqm.maxBurst));
      if (aqm.maxEcnth !== undefined) words.push('max_ecnth', text(aqm.maxEcnth));
      if (aqm.ecn !== undefined) words.push(aqm.ecn ? 'ecn' : 'noecn');
      if (aqm.capdrop !== undefined) words.push(aqm.capdrop ? 'capdrop' : 'nocapdrop');
      if (aqm.derand !== undefined) words.push(aqm.derand ? 'drand' : 'nodrand');
      if (aqm.onoff) words.push('onoff');
      if (aqm.estimator !== undefined) words.push(aqm.estimator);
    }
  }
  if (fq?.quantum !== undefined) words.push('quantum', text(fq.quantum));
  if (fq?.limit !== undefined) words.push('limit', text(fq.limit));
  if (fq?.flows !== undefined) words.push('flows', text(fq.flows));
  return words;
}
