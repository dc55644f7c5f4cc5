// A small SVG chart writer for the fidelity report: one x/y plot with linear or log axes, series
// drawn as points (with optional error bars), lines or steps. No dependency: the charts are plain
// SVG text that any browser or GitHub renders.

export interface Point {
  x: number;
  y: number;
  /** an error bar from yLo to yHi (e.g. a 99 % interval, or median to p99) */
  yLo?: number;
  yHi?: number;
}

export interface Series {
  name: string;
  points: Point[];
  /** points (default), a polyline, or a step line (histograms) */
  style?: 'points' | 'line' | 'step' | 'dashed';
  color?: string;
}

export interface Axis {
  label: string;
  log?: boolean;
  min?: number;
  max?: number;
}

export interface Chart {
  title: string;
  x: Axis;
  y: Axis;
  series: Series[];
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#7f7f7f'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** A tick label: SI suffixes from 1000 up, an exponent below 0.001. */
function fmt(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  for (const [f, suffix] of [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) if (a >= f) return `${Number((v / f).toPrecision(3))}${suffix}`;
  if (a < 0.001) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

/** Tick values for an axis: 1-2-5 steps on a linear axis, 1-2-5 per decade on a log axis. */
function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
      }
    }
    // many decades: keep only the powers of ten
    return out.length > 10 ? out.filter((v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9) : out;
  }
  const raw = (hi - lo) / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** The axis range: given bounds, else the data's, padded (log: to whole 1-2-5 steps). */
function range(values: number[], axis: Axis): [number, number] {
  const finite = values.filter((v) => Number.isFinite(v) && (!axis.log || v > 0));
  let lo = axis.min ?? Math.min(...finite);
  let hi = axis.max ?? Math.max(...finite);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = axis.log ? [1, 10] : [0, 1];
  if (axis.log) {
    if (axis.min === undefined) lo = 10 ** Math.floor(Math.log10(lo));
    if (axis.max === undefined) hi = 10 ** Math.ceil(Math.log10(hi));
    if (hi <= lo) hi = lo * 10;
  } else {
    const pad = (hi - lo || Math.abs(hi) || 1) * 0.05;
    if (axis.min === undefined) lo -= pad;
    if (axis.max === undefined) hi += pad;
  }
  return [lo, hi];
}

/** The chart as an SVG document. */
export function renderChart(c: Chart): string {
  const W = c.width ?? 840;
  const H = c.height ?? 440;
  const m = { left: 70, right: 290, top: 36, bottom: 52 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const all = c.series.flatMap((s) => s.points);
  const [x0, x1] = range(all.map((p) => p.x), c.x);
  const [y0, y1] = range(all.flatMap((p) => [p.y, p.yLo ?? p.y, p.yHi ?? p.y]), c.y);
  const scale = (v: number, lo: number, hi: number, log?: boolean) => (log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (v - lo) / (hi - lo));
  const X = (v: number) => m.left + pw * scale(v, x0, x1, c.x.log);
  const Y = (v: number) => m.top + ph * (1 - scale(v, y0, y1, c.y.log));
  const inside = (p: Point) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!c.x.log || p.x > 0) && (!c.y.log || p.y > 0);
  const clampY = (v: number) => Math.min(m.top + ph, Math.max(m.top, Y(c.y.log ? Math.max(v, y0) : v)));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(c.title)}</text>`);
  // grid and ticks
  for (const t of ticks(x0, x1, !!c.x.log)) {
    const x = X(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of ticks(y0, y1, !!c.y.log)) {
    const y = Y(t).toFixed(1);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${Number(y) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(c.x.label)}</text>`);
  out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.y.label)}</text>`);
  // series
  let shown = 0;
  c.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = s.points.filter(inside).sort((a, b) => (s.style && s.style !== 'points' ? a.x - b.x : 0));
    const style = s.style ?? 'points';
    if (style === 'points') {
      for (const p of pts) {
        if (p.yLo !== undefined && p.yHi !== undefined) {
          const x = X(p.x).toFixed(1);
          out.push(`<line x1="${x}" y1="${clampY(p.yLo).toFixed(1)}" x2="${x}" y2="${clampY(p.yHi).toFixed(1)}" stroke="${color}" stroke-width="1.5"/>`);
          for (const v of [p.yLo, p.yHi]) out.push(`<line x1="${Number(x) - 4}" y1="${clampY(v).toFixed(1)}" x2="${Number(x) + 4}" y2="${clampY(v).toFixed(1)}" stroke="${color}"/>`);
        }
        out.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="4" fill="${color}" fill-opacity="0.8"/>`);
      }
    } else if (pts.length) {
      let d = '';
      pts.forEach((p, k) => {
        if (k === 0) d += `M${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`;
        else if (style === 'step') d += `H${X(p.x).toFixed(1)}V${Y(p.y).toFixed(1)}`;
        else d += `L${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`;
      });
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${style === 'dashed' ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
    // legend (a series without a name has none)
    if (!s.name) return;
    const ly = m.top + 10 + shown++ * 20;
    const lx = m.left + pw + 14;
    if (style === 'points') out.push(`<circle cx="${lx + 8}" cy="${ly}" r="4" fill="${color}"/>`);
    else out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 16}" y2="${ly}" stroke="${color}" stroke-width="2"${style === 'dashed' ? ' stroke-dasharray="4 3"' : ''}/>`);
    out.push(`<text x="${lx + 22}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
