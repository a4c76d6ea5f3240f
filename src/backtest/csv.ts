/** Minimal CSV reading for traces: a header row, commas, optional double quotes ("" inside quotes). */

export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export interface CsvTable {
  /** Column index by header name (trimmed). */
  columns: Map<string, number>;
  /** Data rows with their 1-based line numbers in the file. */
  rows: { line: number; cells: string[] }[];
}

export function parseCsv(text: string, what: string): CsvTable {
  const lines = text.split(/\r?\n/);
  let headerAt = 0;
  while (headerAt < lines.length && (lines[headerAt] ?? '').trim() === '') headerAt++;
  const header = lines[headerAt];
  if (header === undefined) throw new Error(`${what}: empty file`);
  const columns = new Map<string, number>();
  splitCsvLine(header.replace(/^\uFEFF/, '')).forEach((name, i) => columns.set(name.trim(), i));
  const rows: CsvTable['rows'] = [];
  for (let i = headerAt + 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    rows.push({ line: i + 1, cells: splitCsvLine(line) });
  }
  return { columns, rows };
}

export function requireColumns(table: CsvTable, names: readonly string[], what: string): number[] {
  const missing = names.filter((n) => !table.columns.has(n));
  if (missing.length > 0) {
    throw new Error(
      `${what}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} in the header`,
    );
  }
  return names.map((n) => table.columns.get(n) as number);
}

/** A CSV cell as a finite number, or an error naming the line and column. */
export function numberCell(
  cells: string[],
  index: number,
  column: string,
  line: number,
  what: string,
): number {
  const text = (cells[index] ?? '').trim();
  const value = text === '' ? NaN : Number(text);
  if (!Number.isFinite(value)) throw new Error(`${what} line ${line}: ${column} '${text}' is not a number`);
  return value;
}

/** An ISO 8601 UTC time ("2024-03-01T13:00:00Z") in epoch ms, or an error naming the line. */
export function timeCell(text: string, line: number, column: string, what: string): number {
  const t = text.trim();
  const ms = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/.test(t) ? Date.parse(t) : NaN;
  if (!Number.isFinite(ms))
    throw new Error(`${what} line ${line}: ${column} '${t}' is not an ISO 8601 UTC time`);
  return ms;
}
