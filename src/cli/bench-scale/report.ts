import type { Latency, ScaleResult, Series, SwitchFigures } from './result.js';

const f = (v: number | null | undefined, unit = ''): string =>
  v === null || v === undefined ? 'n/a' : `${v}${unit}`;
const pp = (l: Latency | undefined): string =>
  l
    ? `${f(l.p50Seconds)} / ${f(l.p99Seconds)} s${l.nodes < l.expected ? ` (${l.nodes}/${l.expected} nodes)` : ''}`
    : 'n/a';
const verbs = (s: SwitchFigures): string =>
  Object.entries(s.perSwitch)
    .filter(([k]) => !k.startsWith('GET '))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

const runText = (r: {
  seconds: number | null;
  podsPerSecond?: number | null;
  running?: number;
  pods?: number;
}) =>
  r.seconds === null
    ? `only ${r.running ?? 0}/${r.pods ?? '?'} Running by the deadline`
    : `${r.seconds} s (${f(r.podsPerSecond)} pods/s)`;

/** The human table: figure, value, target. */
export function table(r: ScaleResult): string {
  const { flip, gangs, kueue, operator, planner } = r;
  const rows: [string, string, string][] = [
    [`price flip → idle, ${r.flipNodes} nodes: p50 / p99`, pp(flip.toIdle.done), `p99 ≤ 5 s + grace`],
    [`price flip → mining: p50 / p99`, pp(flip.toMining.done), ''],
    [`job burst → training: labelled + tainted`, pp(flip.toTraining.labelled), ''],
    [`  miners evicted`, pp(flip.toTraining.done), `p99 ≤ 5 s + grace`],
    [`  pods Running`, pp(flip.toTraining.running), ''],
    [
      `API writes per node switch (idle / mining / training)`,
      `${f(flip.writesPerSwitch)} (${f(flip.toIdle.writesPerSwitch)} / ${f(flip.toMining.writesPerSwitch)} / ${f(flip.toTraining.writesPerSwitch)})`,
      '≤ 4',
    ],
    [`gangs: ${r.jobs} TrainingJobs, ${gangs.pods} pods Running`, runText(gangs), ''],
    [`  same pods straight to the scheduler`, runText(gangs.bare), ''],
    [`  ratio rigshift / bare`, f(gangs.ratioToBare, '×'), '≤ 1.2×'],
    [
      `Kueue${kueue.version ? ` ${kueue.version}` : ''}: same mix as batch/v1 Jobs`,
      kueue.blocked ? `blocked (see below)` : runText(kueue),
      '',
    ],
    [`  ratio rigshift / Kueue`, f(kueue.ratio, '×'), '< 1×'],
    [`operator CPU over the run`, f(operator.cpuSeconds, ' s'), ''],
    [`operator peak RSS`, f(operator.peakRssMiB, ' MiB'), '≤ 200 MiB'],
    [`planner per cycle: p50 / p99 (bucket bound)`, `${f(planner.p50Ms)} / ${f(planner.p99Ms)} ms`, ''],
    [
      `API requests at steady state`,
      `${f(operator.steadyRequestsPerSecond)}/s over ${operator.steadyWindowSeconds} s`,
      'a few /s',
    ],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  const lines = [
    `rigshift bench-scale: ${r.nodes} kwok nodes × ${r.gpusPerNode} GPUs (${r.products.join(', ')}), ` +
      `${r.jobs} jobs (${r.pods} pods, ${r.gpus} GPUs), miner grace ${r.minerGraceSeconds} s, ${r.nodeWorkers} node and ${r.jobWorkers} job workers; wall ${r.wallSeconds} s`,
    `machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}`,
    '',
    ...rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`.trimEnd()),
    '',
    ...(kueue.blocked ? [`Kueue blocked: ${kueue.blocked}`, ''] : []),
    ...(r.errors ?? []).map((e) => `not measured: ${e}`),
    `writes per node switch, by method and resource:`,
    `  → idle:     ${verbs(flip.toIdle)}`,
    `  → mining:   ${verbs(flip.toMining)}`,
    `  → training: ${verbs(flip.toTraining)}`,
  ];
  return lines.join('\n');
}

const COLORS = { rigshift: '#1f77b4', bare: '#2ca02c', Kueue: '#d62728' };

/** Pods Running over time after each burst's first create: one line per run. */
export function runningSvg(r: ScaleResult): string {
  const lines: [keyof typeof COLORS, Series][] = [
    ['rigshift', r.gangs.series],
    ['bare', r.gangs.bare.series],
  ];
  if (r.kueue.series) lines.push(['Kueue', r.kueue.series]);
  const W = 720;
  const H = 400;
  const m = { l: 60, r: 20, t: 40, b: 50 };
  const maxX = Math.max(1, ...lines.flatMap(([, s]) => s.map((p) => p[0])));
  const maxY = Math.max(1, r.pods, ...lines.flatMap(([, s]) => s.map((p) => p[1])));
  const x = (v: number): number => m.l + (v / maxX) * (W - m.l - m.r);
  const y = (v: number): number => H - m.b - (v / maxY) * (H - m.t - m.b);
  const ticks = (max: number, n: number): number[] => {
    const raw = max / n;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw;
    return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
  };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">Pods Running after a burst of ${r.jobs} jobs (${r.pods} pods) on ${r.nodes} nodes</text>`,
  ];
  for (const t of ticks(maxX, 8)) {
    out.push(`<line x1="${x(t)}" y1="${m.t}" x2="${x(t)}" y2="${H - m.b}" stroke="#eee"/>`);
    out.push(`<text x="${x(t)}" y="${H - m.b + 16}" text-anchor="middle">${t}</text>`);
  }
  for (const t of ticks(maxY, 6)) {
    out.push(`<line x1="${m.l}" y1="${y(t)}" x2="${W - m.r}" y2="${y(t)}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`);
  }
  out.push(
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">seconds after the first create</text>`,
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">pods Running</text>`,
  );
  lines.forEach(([name, s]) => {
    const pts = s.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${COLORS[name]}" stroke-width="2" points="${pts}"/>`);
  });
  // Bottom right: the curves rise, so that corner stays clear.
  const top = H - m.b - 16 - lines.length * 18;
  out.push(
    `<rect x="${W - m.r - 160}" y="${top}" width="150" height="${lines.length * 18 + 6}" fill="white" stroke="#ccc"/>`,
  );
  lines.forEach(([name], i) => {
    const ly = top + 12 + i * 18;
    out.push(
      `<line x1="${W - m.r - 150}" y1="${ly}" x2="${W - m.r - 126}" y2="${ly}" stroke="${COLORS[name]}" stroke-width="2"/>`,
      `<text x="${W - m.r - 120}" y="${ly + 4}">${name}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
