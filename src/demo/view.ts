/** The demo's live terminal view: pure text from a frame, so it can be tested and printed anywhere. */

export interface NodeRow {
  name: string;
  product: string;
  mode: string;
  gpus: number;
  miningGpus: number;
  trainingGpus: number;
  jobs: string[];
}

export interface Frame {
  marketTime: string;
  step: number;
  steps: number;
  nodes: NodeRow[];
  /** product → mining yield, USD per GPU-hour (null when the operator reports it unknown). */
  yields: Record<string, number | null>;
  electricityUsdPerKwh: number;
  jobs: { running: number; queued: number; done: number; bidsRunning: number[] };
  revenueUsd: number;
  alwaysMineUsd: number;
}

function bar(done: number, total: number, width = 30): string {
  const n = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(n)}${'-'.repeat(width - n)}]`;
}

const usd = (v: number): string => `${v < 0 ? '-' : ''}$${Math.abs(v).toFixed(2)}`;

export function renderFrame(f: Frame): string {
  const lines: string[] = [];
  lines.push(`rigshift demo  ${f.marketTime}  step ${f.step}/${f.steps} ${bar(f.step, f.steps)}`);
  lines.push(`electricity ${f.electricityUsdPerKwh.toFixed(4)} USD/kWh`);
  for (const [product, y] of Object.entries(f.yields)) {
    lines.push(
      `  mining yield ${product.padEnd(26)} ${y === null ? 'unknown' : `${y.toFixed(4)} USD/GPU-h`}`,
    );
  }
  const bids = f.jobs.bidsRunning;
  const bidText = bids.length
    ? `bids ${Math.min(...bids).toFixed(3)}–${Math.max(...bids).toFixed(3)} USD/GPU-h`
    : 'no bids';
  lines.push(`jobs: ${f.jobs.running} running, ${f.jobs.queued} queued, ${f.jobs.done} done; ${bidText}`);
  lines.push('');
  lines.push(`${'node'.padEnd(22)} ${'product'.padEnd(26)} ${'mode'.padEnd(10)} GPUs (mine/train)  jobs`);
  for (const n of f.nodes) {
    lines.push(
      `${n.name.padEnd(22)} ${n.product.padEnd(26)} ${n.mode.padEnd(10)} ${`${n.gpus} (${n.miningGpus}/${n.trainingGpus})`.padEnd(18)} ${n.jobs.join(', ')}`,
    );
  }
  lines.push('');
  const delta = f.revenueUsd - f.alwaysMineUsd;
  lines.push(
    `revenue ${usd(f.revenueUsd)}   always-mine ${usd(f.alwaysMineUsd)}   difference ${delta >= 0 ? '+' : ''}${usd(delta)}`,
  );
  return lines.join('\n');
}
