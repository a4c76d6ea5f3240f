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
    const patienceText = cPatience === undefined ? '' : (cells[cPatience] ?? '').trim();
    jobs.push({
      name,
      submitMs: timeCell(cells[cSubmit as number] ?? '', line, 'submit_time', what),
      product: (cells[cProduct as number] ?? '').trim(),
      replicas: int(cReplicas as number, 'replicas'),
      gpusPerReplica: int(cGpus as number, 'gpus_per_replica'),
      durationHours: positive(cDuration as number, 'duration_hours'),
      bid: positive(cBid as number, 'bid_usd_per_gpu_hour'),
      tier,
      patienceHours: patienceText === '' ? 24 : positive(cPatience as number, 'patience_hours'),
    });
  }
  return jobs.sort((a, b) => a.submitMs - b.submitMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
