import { formatRate } from '../economics/money.js';
import { IDLE, MINING, TRAINING, type Market } from './market.js';

/**
 * An SVG a person can read: per product the mining yield and the rental net of power (USD per GPU-hour),
 * the electricity price, and the share of the fleet's GPUs mining, training and idle over time.
 * Long traces are averaged per pixel column; extreme price spikes are clipped and said so.
 */

export interface FleetSeries {
  /** For every union step: GPUs mining, training, idle. */
  mining: Float64Array;
  training: Float64Array;
  idle: Float64Array;
}

export interface ChartInput {
  title: string;
  subtitle: string;
  market: Market;
  fleet: FleetSeries;
}

const W = 1260;
const LEFT = 80;
const RIGHT = 250;
const PLOT_W = W - LEFT - RIGHT;
const PANELS = [
  { top: 95, height: 260 },
  { top: 405, height: 110 },
  { top: 565, height: 150 },
] as const;
const H = 770;
const PRODUCT_COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b'];
const MODE_COLOURS = { mining: '#f0a30a', training: '#3c8dbc', idle: '#b0b0b0' };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (x: number): string => (Math.round(x * 10) / 10).toString();

function quantile(values: number[], q: number): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))] as number;
}

/** Rounded tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 7): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Math.round(v / step) * step);
  return out;
}

function dateTicks(start: number, end: number): { at: number; label: string }[] {
  const day = 86_400_000;
  const spanDays = (end - start) / day;
  const every = spanDays <= 4 ? 0.25 : spanDays <= 20 ? 2 : spanDays <= 100 ? 7 : spanDays <= 400 ? 30 : 90;
  const out: { at: number; label: string }[] = [];
  const first = Math.ceil(start / day) * day;
  for (let t = first; t <= end; t += every * day) {
    const d = new Date(t);
    const label = every < 1 ? d.toISOString().slice(5, 16).replace('T', ' ') : d.toISOString().slice(0, 10);
    out.push({ at: t, label });
  }
  return out;
}

/** Averages a series over pixel columns: [x, value] pairs. */
function columns(
  times: ArrayLike<number>,
  values: ArrayLike<number>,
  x: (t: number) => number,
): [number, number][] {
  const out: [number, number][] = [];
  let col = -1;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const c = Math.round(x(times[i] as number));
    if (c !== col && n > 0) {
      out.push([col, sum / n]);
      sum = 0;
      n = 0;
    }
    col = c;
    sum += values[i] as number;
    n++;
  }
  if (n > 0) out.push([col, sum / n]);
  return out;
}

function polyline(points: [number, number][], y: (v: number) => number, colour: string, dash = ''): string {
  const d = points.map(([px, v]) => `${fmt(px)},${fmt(y(v))}`).join(' ');
  return `<polyline fill="none" stroke="${colour}" stroke-width="1.3"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${d}"/>`;
}

function axisY(
  panel: { top: number; height: number },
  lo: number,
  hi: number,
  label: string,
  unit: (v: number) => string,
): string {
  const y = (v: number) => panel.top + panel.height - ((v - lo) / (hi - lo || 1)) * panel.height;
  let s = `<text x="${LEFT - 60}" y="${panel.top - 12}" class="axis-title">${esc(label)}</text>`;
  for (const v of ticks(lo, hi)) {
    const py = fmt(y(v));
    s += `<line x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${py}" y2="${py}" class="grid"/>`;
    s += `<text x="${LEFT - 6}" y="${py}" class="tick" text-anchor="end" dominant-baseline="middle">${esc(unit(v))}</text>`;
  }
  s += `<rect x="${LEFT}" y="${panel.top}" width="${PLOT_W}" height="${panel.height}" class="frame"/>`;
  return s;
}

export function renderChart(input: ChartInput): string {
  const { market, fleet } = input;
  const timeline = market.timeline;
  const start = timeline[0] ?? 0;
  const end = Math.max(start + 1, timeline[timeline.length - 1] ?? start + 1);
  const x = (t: number) => LEFT + ((t - start) / (end - start)) * PLOT_W;
  const parts: string[] = [];
  const legend: string[] = [];
  let legendY: number = PANELS[0].top;
  const legendLine = (colour: string, dash: string, text: string) => {
    legend.push(
      `<line x1="${W - RIGHT + 15}" x2="${W - RIGHT + 40}" y1="${legendY}" y2="${legendY}" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>` +
        `<text x="${W - RIGHT + 46}" y="${legendY}" class="legend" dominant-baseline="middle">${esc(text)}</text>`,
    );
    legendY += 18;
  };

  // Panel 1: mining yield and rental net of power per product, spikes clipped to the 1st-99th percentile.
  const all: number[] = [];
  for (const pm of market.products)
    for (const m of [MINING, TRAINING] as const) for (const v of pm.rate[m]) all.push(v);
  let lo = quantile(all, 0.01);
  let hi = quantile(all, 0.99);
  const pad = (hi - lo) * 0.08 || 0.01;
  lo -= pad;
  hi += pad;
  const clipped = all.some((v) => v < lo || v > hi);
  const y1 = (v: number) =>
    PANELS[0].top + PANELS[0].height - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * PANELS[0].height;
  parts.push(axisY(PANELS[0], lo, hi, 'USD per GPU-hour (net of power)', (v) => formatRate(v, 3)));
  market.products.forEach((pm, p) => {
    const colour = PRODUCT_COLOURS[p % PRODUCT_COLOURS.length] as string;
    const short = pm.series.product.replace(/^NVIDIA-(GeForce-)?/, '');
    parts.push(polyline(columns(pm.series.startMs, pm.rate[MINING], x), y1, colour));
    parts.push(polyline(columns(pm.series.startMs, pm.rate[TRAINING], x), y1, colour, '5,3'));
    legendLine(colour, '', `${short} mining yield`);
    legendLine(colour, '5,3', `${short} rental net of power`);
  });
  if (clipped) {
    parts.push(
      `<text x="${LEFT + PLOT_W}" y="${PANELS[0].top - 12}" class="note" text-anchor="end">spikes beyond ${formatRate(lo, 3)} … ${formatRate(hi, 3)} clipped</text>`,
    );
  }

  // Panel 2: electricity.
  const elec: number[] = [];
  for (const pm of market.products) for (const v of pm.series.electricity) elec.push(v);
  let eLo = Math.min(0, quantile(elec, 0));
  let eHi = quantile(elec, 0.995);
  eHi += (eHi - eLo) * 0.1 || 0.01;
  eLo = Math.min(eLo, 0);
  const y2 = (v: number) =>
    PANELS[1].top +
    PANELS[1].height -
    ((Math.min(eHi, Math.max(eLo, v)) - eLo) / (eHi - eLo)) * PANELS[1].height;
  parts.push(axisY(PANELS[1], eLo, eHi, 'Electricity, USD per kWh', (v) => formatRate(v, 3)));
  const ePm = market.products[0];
  if (ePm) parts.push(polyline(columns(ePm.series.startMs, ePm.series.electricity, x), y2, '#444'));
  legendY += 8;
  legendLine('#444', '', 'electricity');
  if (Math.max(...elec) > eHi) {
    parts.push(
      `<text x="${LEFT + PLOT_W}" y="${PANELS[1].top - 12}" class="note" text-anchor="end">peaks up to ${formatRate(Math.max(...elec), 2)} clipped</text>`,
    );
  }

  // Panel 3: the fleet's GPUs by mode (rigshift), stacked shares.
  const P3 = PANELS[2];
  parts.push(axisY(P3, 0, 1, 'Fleet GPUs by mode (rigshift)', (v) => `${Math.round(v * 100)}%`));
  const total = new Float64Array(timeline.length);
  for (let t = 0; t < timeline.length; t++)
    total[t] = (fleet.mining[t] as number) + (fleet.training[t] as number) + (fleet.idle[t] as number) || 1;
  const share = (a: Float64Array) => Float64Array.from(a, (v, t) => v / (total[t] as number));
  const layers: [keyof typeof MODE_COLOURS, Float64Array][] = [
    ['mining', share(fleet.mining)],
    ['training', share(fleet.training)],
    ['idle', share(fleet.idle)],
  ];
  const y3 = (v: number) => P3.top + P3.height - v * P3.height;
  let base = new Float64Array(timeline.length);
  legendY = P3.top;
  for (const [name, values] of layers) {
    const topV = Float64Array.from(values, (v, t) => v + (base[t] as number));
    const upper = columns(timeline, topV, x);
    const lower = columns(timeline, base, x).reverse();
    const d = [...upper, ...lower].map(([px, v]) => `${fmt(px)},${fmt(y3(v))}`).join(' ');
    parts.push(`<polygon points="${d}" fill="${MODE_COLOURS[name]}" stroke="none"/>`);
    legend.push(
      `<rect x="${W - RIGHT + 15}" y="${legendY - 6}" width="25" height="12" fill="${MODE_COLOURS[name]}"/>` +
        `<text x="${W - RIGHT + 46}" y="${legendY}" class="legend" dominant-baseline="middle">${name}</text>`,
    );
    legendY += 18;
    base = topV;
  }
  parts.push(`<rect x="${LEFT}" y="${P3.top}" width="${PLOT_W}" height="${P3.height}" class="frame"/>`);

  // Time axis under the last panel, light grid across all panels.
  for (const { at, label } of dateTicks(start, end)) {
    const px = fmt(x(at));
    for (const panel of PANELS)
      parts.push(
        `<line x1="${px}" x2="${px}" y1="${panel.top}" y2="${panel.top + panel.height}" class="grid"/>`,
      );
    parts.push(
      `<text x="${px}" y="${P3.top + P3.height + 16}" class="tick" text-anchor="middle">${label}</text>`,
    );
  }
  parts.push(
    `<text x="${LEFT + PLOT_W / 2}" y="${P3.top + P3.height + 36}" class="axis-title" text-anchor="middle">time (UTC)</text>`,
  );

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>.grid{stroke:#e4e4e4;stroke-width:1}.frame{fill:none;stroke:#888}.tick{font-size:11px;fill:#333}' +
      '.axis-title{font-size:12px;fill:#222;font-weight:bold}.legend{font-size:12px;fill:#222}.note{font-size:11px;fill:#a33}' +
      '.title{font-size:18px;font-weight:bold}.subtitle{font-size:12px;fill:#444}</style>',
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${LEFT}" y="28" class="title">${esc(input.title)}</text>`,
    `<text x="${LEFT}" y="48" class="subtitle">${esc(input.subtitle)}</text>`,
    ...parts,
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}

/** GPUs per mode per union step from the planner's decisions (nodes hold their mode between their steps). */
export function fleetSeries(
  timelineLength: number,
  nodes: number,
  gpusPerNode: number,
  modes: Uint8Array,
): FleetSeries {
  const mining = new Float64Array(timelineLength);
  const training = new Float64Array(timelineLength);
  const idle = new Float64Array(timelineLength);
  const last = new Uint8Array(nodes).fill(MINING);
  for (let t = 0; t < timelineLength; t++) {
    for (let i = 0; i < nodes; i++) {
      const m = modes[t * nodes + i] as number;
      if (m <= IDLE) last[i] = m;
      const cur = last[i] as number;
      if (cur === MINING) mining[t] = (mining[t] as number) + gpusPerNode;
      else if (cur === TRAINING) training[t] = (training[t] as number) + gpusPerNode;
      else idle[t] = (idle[t] as number) + gpusPerNode;
    }
  }
  return { mining, training, idle };
}
