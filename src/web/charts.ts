// One card per pipe instance (and queue): its numbers now, written to data attributes too so a test
// reads what the page shows, and three uPlot charts over the kept minutes: throughput, drops by
// cause, and queue occupancy with the delay ΔT it adds.
import uPlot from 'uplot';
import { el } from './dom.ts';
import { formatBits, formatBytes, formatNumber } from './format.ts';
import type { History, Series } from './history.ts';

/** How many seconds the numbers above the charts average over: the events arrive a second apart give or take the time tc takes to answer, which a longer window evens out. */
const NOW_SECONDS = 10;

interface Card {
  root: HTMLElement;
  figures: HTMLElement;
  plots: { plot: uPlot; columns: (s: Series) => (number | null)[][] }[];
}

const cards = new Map<string, Card>();

/** Every y scale starts at 0, so a steady rate reads as steady rather than as noise blown up to the chart's height. */
const fromZero: uPlot.Scale = { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] };

/** Chart options shared by every plot: time on x, the given series on y. */
function options(title: string, width: number, series: uPlot.Series[], axes: uPlot.Axis[]): uPlot.Options {
  const scales = { y: fromZero, bits: fromZero, bytes: fromZero, ms: fromZero };
  return { title, width, height: 150, scales, series: [{}, ...series], axes: [{}, ...axes], legend: { live: false }, cursor: { show: false } };
}

/** The card for a key, made on first sight. */
function cardFor(key: string, parent: HTMLElement): Card {
  const existing = cards.get(key);
  if (existing) return existing;
  const figures = el('p', { class: 'figures' });
  const plotsBox = el('div', { class: 'plots' });
  const root = el('section', { class: 'card', 'data-key': key }, el('h3', {}, key), figures, plotsBox);
  parent.append(root);
  const width = Math.max(260, Math.min(plotsBox.clientWidth || 320, 520));
  const make = (opts: uPlot.Options, columns: Card['plots'][number]['columns']) => ({ plot: new uPlot(opts, [[], ...opts.series.slice(1).map(() => [])] as unknown as uPlot.AlignedData, plotsBox), columns });
  const bits = { scale: 'bits', values: (_u: uPlot, ticks: number[]) => ticks.map((v) => formatBits(v)), size: 96 };
  const card: Card = {
    root,
    figures,
    plots: [
      make(options('throughput', width, [{ label: 'bit/s', stroke: '#2563eb', width: 2, scale: 'bits' }], [bits]), (s) => [s.columns.bitsPerS]),
      make(options('drops per second', width, [{ label: 'random', stroke: '#d97706', width: 2 }, { label: 'overflow', stroke: '#dc2626', width: 2 }], [{}]), (s) => [s.columns.randomDropsPerS, s.columns.overflowDropsPerS]),
      make(
        options('queue and ΔT', width, [{ label: 'queue bytes', stroke: '#059669', width: 2, scale: 'bytes' }, { label: 'ΔT ms', stroke: '#7c3aed', width: 2, scale: 'ms' }], [{ scale: 'bytes', size: 60 }, { scale: 'ms', side: 1, grid: { show: false } }]),
        (s) => [s.columns.queueBytes, s.columns.delayMs],
      ),
    ],
  };
  cards.set(key, card);
  return card;
}

/** Redraws every card from the history; cards of instances no longer reported are removed. */
export function drawCharts(history: History, parent: HTMLElement): void {
  for (const [key, card] of cards) {
    if (!history.series.has(key)) {
      card.plots.forEach((p) => p.plot.destroy());
      card.root.remove();
      cards.delete(key);
    }
  }
  for (const [key, series] of history.series) {
    const card = cardFor(key, parent);
    const rate = history.recentMean(key, 'bitsPerS', NOW_SECONDS);
    const random = history.recentMean(key, 'randomDropsPerS', NOW_SECONDS);
    const overflow = history.recentMean(key, 'overflowDropsPerS', NOW_SECONDS);
    const last = series.time.length - 1;
    const queue = series.columns.queueBytes[last] ?? 0;
    const delay = series.columns.delayMs[last] ?? null;
    card.root.dataset.rateBps = rate === null ? '' : String(Math.round(rate));
    card.root.dataset.randomDrops = random === null ? '' : random.toFixed(2);
    card.root.dataset.overflowDrops = overflow === null ? '' : overflow.toFixed(2);
    card.root.dataset.queueBytes = String(queue);
    card.root.dataset.delayMs = delay === null ? '' : delay.toFixed(2);
    card.figures.textContent = `${formatBits(rate)} · drops/s ${formatNumber(random, 1)} random, ${formatNumber(overflow, 1)} overflow · queue ${formatBytes(queue)}${delay === null ? '' : ` · ΔT ${delay.toFixed(1)} ms`}`;
    for (const { plot, columns } of card.plots) plot.setData([series.time, ...columns(series)] as uPlot.AlignedData);
  }
}

/** Fits the charts to their cards' width (a window resized, a phone turned). */
export function resizeCharts(): void {
  for (const card of cards.values()) {
    const width = Math.max(260, Math.min(card.root.clientWidth - 24, 520));
    card.plots.forEach(({ plot }) => plot.setSize({ width, height: 150 }));
  }
}
