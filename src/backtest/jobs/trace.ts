import { numberCell, parseCsv, requireColumns, timeCell } from '../csv.js';

/** A job trace (data/README.md): arrivals of training gangs with their bids. */

export interface TraceJob {
  name: string;
  submitMs: number;
  /** Empty: any product. */
  product: string;
  replicas: number;
  gpusPerReplica: number;
  durationHours: number;
  bid: number;
  tier: 'OnDemand' | 'Interruptible';
  patienceHours: number;
  /** Least GPU memory in MiB (column min_gpu_memory_mib, optional): as a TrainingJob's minGpuMemoryMiB. */
  minGpuMemoryMiB?: number;
}

const REQUIRED = [
  'submit_time',
  'name',
  'gpu_product',
  'replicas',
  'gpus_per_replica',
  'duration_hours',
  'bid_usd_per_gpu_hour',
  'tier',
];

export function parseJobTrace(text: string, what = 'job trace'): TraceJob[] {
  const table = parseCsv(text, what);
  const [cSubmit, cName, cProduct, cReplicas, cGpus, cDuration, cBid, cTier] = requireColumns(
    table,
    REQUIRED,
    what,
  ) as number[];
  const cPatience = table.columns.get('patience_hours');
  const cMemory = table.columns.get('min_gpu_memory_mib');
  const seen = new Set<string>();
  const jobs: TraceJob[] = [];
  for (const { line, cells } of table.rows) {
    const name = (cells[cName as number] ?? '').trim();
    if (name === '') throw new Error(`${what} line ${line}: name is empty`);
    if (seen.has(name)) throw new Error(`${what} line ${line}: job name ${name} appears twice`);
    seen.add(name);
    const tier = (cells[cTier as number] ?? '').trim();
    if (tier !== 'OnDemand' && tier !== 'Interruptible') {
      throw new Error(`${what} line ${line}: tier '${tier}' must be OnDemand or Interruptible`);
    }
    const int = (c: number, col: string) => {
      const v = numberCell(cells, c, col, line, what);
      if (!Number.isInteger(v) || v < 1)
        throw new Error(`${what} line ${line}: ${col} must be a whole number of at least 1`);
      return v;
    };
    const positive = (c: number, col: string) => {
      const v = numberCell(cells, c, col, line, what);
      if (v < 0) throw new Error(`${what} line ${line}: ${col} must not be negative`);
      return v;
    };
    // A job that runs no time would still hold its GPUs for a whole step: the replay rounds runs up to steps.
    const duration = () => {
      const v = positive(cDuration as number, 'duration_hours');
      if (v === 0) throw new Error(`${what} line ${line}: duration_hours must be more than 0 (job ${name})`);
      return v;
    };
    const patienceText = cPatience === undefined ? '' : (cells[cPatience] ?? '').trim();
    const memoryText = cMemory === undefined ? '' : (cells[cMemory] ?? '').trim();
    jobs.push({
      ...(memoryText === '' ? {} : { minGpuMemoryMiB: int(cMemory as number, 'min_gpu_memory_mib') }),
      name,
      submitMs: timeCell(cells[cSubmit as number] ?? '', line, 'submit_time', what),
      product: (cells[cProduct as number] ?? '').trim(),
      replicas: int(cReplicas as number, 'replicas'),
      gpusPerReplica: int(cGpus as number, 'gpus_per_replica'),
      durationHours: duration(),
      bid: positive(cBid as number, 'bid_usd_per_gpu_hour'),
      tier,
      patienceHours: patienceText === '' ? 24 : positive(cPatience as number, 'patience_hours'),
    });
  }
  return jobs.sort((a, b) => a.submitMs - b.submitMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/**
 * Refuses a job trace made for another window: its jobs would all wait for a market that never comes (or is
 * over) and expire, which reads as "no demand" rather than as the mistake it is.
 */
export function assertJobsWithin(
  jobs: readonly TraceJob[],
  window: { startMs: number; endMs: number },
  what = 'job trace',
): void {
  const outside = jobs.filter((j) => j.submitMs < window.startMs || j.submitMs >= window.endMs);
  if (outside.length === 0 || jobs.length === 0) return;
  const first = jobs[0] as TraceJob;
  const last = jobs[jobs.length - 1] as TraceJob;
  const example = outside[0] as TraceJob;
  throw new Error(
    `${what}: ${outside.length} of ${jobs.length} jobs are submitted outside the market trace ` +
      `(market ${iso(window.startMs)} to ${iso(window.endMs)}; jobs ${iso(first.submitMs)} to ` +
      `${iso(last.submitMs)}; e.g. ${example.name} at ${iso(example.submitMs)}): use a job trace built for ` +
      `this market trace (shared/data/README.md, "Building more job traces")`,
  );
}

/** FNV-1a of a job name: a stable pick of jobs that does not depend on the order of the trace. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * A memory-demand scenario for a trace without memory needs: `percent` of the jobs that name no product (picked
 * by a hash of their name, the same jobs in every run) need `memoryMiB` per GPU; the others keep theirs.
 */
export function withBigMemoryJobs(jobs: readonly TraceJob[], percent: number, memoryMiB: number): TraceJob[] {
  return jobs.map((j) =>
    j.product === '' && j.minGpuMemoryMiB === undefined && nameHash(j.name) % 10_000 < percent * 100
      ? { ...j, minGpuMemoryMiB: memoryMiB }
      : j,
  );
}
