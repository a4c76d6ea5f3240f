import { numberCell, parseCsv, requireColumns, timeCell } from './csv.js';

/** A market trace (data/README.md): per GPU product, a series of steps with prices. */

export interface Series {
  product: string;
  /** The `time` cells exactly as written, for the decisions CSV. */
  times: string[];
  startMs: Float64Array;
  /** Step length in hours: to the next row; the last step as long as the one before (1 h if alone). */
  hours: Float64Array;
  rental: Float64Array;
  revenue: Float64Array;
  electricity: Float64Array;
}

export interface Trace {
  /** Series sorted by product name. */
  series: Series[];
}

const COLUMNS = [
  'time',
  'gpu_product',
  'rental_usd_per_gpu_hour',
  'mining_usd_per_mhs_day',
  'electricity_usd_per_kwh',
];

export function parseTrace(text: string, what = 'trace'): Trace {
  const table = parseCsv(text, what);
  const [cTime, cProduct, cRental, cRevenue, cElec] = requireColumns(table, COLUMNS, what) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const rows = new Map<
    string,
    { time: string; ms: number; r: number; m: number; e: number; line: number }[]
  >();
  for (const { line, cells } of table.rows) {
    const product = (cells[cProduct] ?? '').trim();
    if (product === '') throw new Error(`${what} line ${line}: gpu_product is empty`);
    const time = (cells[cTime] ?? '').trim();
    const ms = timeCell(time, line, 'time', what);
    const r = numberCell(cells, cRental, 'rental_usd_per_gpu_hour', line, what);
    const m = numberCell(cells, cRevenue, 'mining_usd_per_mhs_day', line, what);
    const e = numberCell(cells, cElec, 'electricity_usd_per_kwh', line, what);
    let list = rows.get(product);
    if (!list) rows.set(product, (list = []));
    const prev = list[list.length - 1];
    if (prev && ms <= prev.ms) {
      throw new Error(
        `${what} line ${line}: time ${time} is not after ${prev.time} (line ${prev.line}) for ${product}`,
      );
    }
    list.push({ time, ms, r, m, e, line });
  }
  if (rows.size === 0) throw new Error(`${what}: no data rows`);
  const series: Series[] = [];
  for (const product of [...rows.keys()].sort()) {
    const list = rows.get(product) as NonNullable<ReturnType<typeof rows.get>>;
    const n = list.length;
    const s: Series = {
      product,
      times: list.map((x) => x.time),
      startMs: Float64Array.from(list, (x) => x.ms),
      hours: new Float64Array(n),
      rental: Float64Array.from(list, (x) => x.r),
      revenue: Float64Array.from(list, (x) => x.m),
      electricity: Float64Array.from(list, (x) => x.e),
    };
    for (let k = 0; k < n; k++) {
      const next = k + 1 < n ? (s.startMs[k + 1] as number) - (s.startMs[k] as number) : NaN;
      s.hours[k] = k + 1 < n ? next / 3_600_000 : k > 0 ? (s.hours[k - 1] as number) : 1;
    }
    series.push(s);
  }
  return { series };
}
