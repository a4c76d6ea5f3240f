import type { UsageLine, UsageRecordStatus } from '../../api/v1alpha1/index.js';
import { Decimal } from '../../economics/decimal.js';
import { rfc3339 } from '../../kube/status.js';

/**
 * The arithmetic of UsageRecords, pure. A line holds what its job used in the month and the job's own totals
 * (status.gpuHours, status.earnedUsd) when the line was last written; an update adds only what the job's
 * totals exceed those by. The same job status written twice (a restart, a new leader, a retried write) adds
 * nothing, and a total that went down (never expected) takes nothing back.
 */

/** What one TrainingJob's status says it used, all runs and months together. */
export interface JobUsage {
  uid: string;
  name: string;
  gpuHours: Decimal;
  earnedUsd: Decimal;
}

/** A job's totals as an earlier month's record last saw them. */
export interface Baseline {
  gpuHours: Decimal;
  earnedUsd: Decimal;
}

/** The UTC month of a time, `2026-12`. */
export function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** The month before, `2026-01` → `2025-12`. */
export function previousMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
}

export function dec(text: string | undefined): Decimal {
  if (!text) return Decimal.ZERO;
  try {
    return Decimal.parse(text);
  } catch {
    return Decimal.ZERO;
  }
}

/** "1.5", "0.000123": fixed places, trailing zeros dropped (as TrainingJob status writes them). */
export function plain(d: Decimal, places: number): string {
  const t = d.toFixed(places, 'halfUp');
  return t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t;
}

const max = (a: Decimal, b: Decimal): Decimal => (a.cmp(b) >= 0 ? a : b);
const hours = (d: Decimal): string => plain(d, 9);
const usd = (d: Decimal): string => plain(d, 6);

/** Jobs that used something and have no line in this month's record: their earlier months are looked up. */
export function newLines(status: UsageRecordStatus | undefined, jobs: readonly JobUsage[]): JobUsage[] {
  const have = new Set((status?.jobs ?? []).map((l) => l.uid));
  return jobs.filter((j) => !have.has(j.uid) && (j.gpuHours.sign() > 0 || j.earnedUsd.sign() > 0));
}

/**
 * The month's record with every job's totals folded in. `baselines` gives, for a job without a line this month,
 * its totals as the last earlier month recorded them (absent: it used nothing before this month).
 */
export function mergeUsage(
  status: UsageRecordStatus | undefined,
  jobs: readonly JobUsage[],
  baselines: ReadonlyMap<string, Baseline>,
  nowMs: number,
): { status: UsageRecordStatus; changed: boolean } {
  const now = rfc3339(new Date(nowMs));
  const lines: UsageLine[] = [...(status?.jobs ?? [])];
  const at = new Map(lines.map((l, i) => [l.uid, i]));
  let changed = false;
  for (const j of jobs) {
    const i = at.get(j.uid);
    const line = i === undefined ? undefined : lines[i];
    const seenGpu = line ? dec(line.jobGpuHours) : (baselines.get(j.uid)?.gpuHours ?? Decimal.ZERO);
    const seenUsd = line ? dec(line.jobEarnedUsd) : (baselines.get(j.uid)?.earnedUsd ?? Decimal.ZERO);
    const gpu = max(j.gpuHours, seenGpu);
    const money = max(j.earnedUsd, seenUsd);
    const addGpu = gpu.minus(seenGpu);
    const addUsd = money.minus(seenUsd);
    if (addGpu.sign() === 0 && addUsd.sign() === 0) continue;
    const next: UsageLine = {
      uid: j.uid,
      name: j.name,
      gpuHours: hours(dec(line?.gpuHours).plus(addGpu)),
      earnedUsd: usd(dec(line?.earnedUsd).plus(addUsd)),
      jobGpuHours: hours(gpu),
      jobEarnedUsd: usd(money),
      lastUpdateTime: now,
    };
    if (i === undefined) {
      at.set(j.uid, lines.length);
      lines.push(next);
    } else lines[i] = next;
    changed = true;
  }
  let totalGpu = Decimal.ZERO;
  let totalUsd = Decimal.ZERO;
  for (const l of lines) {
    totalGpu = totalGpu.plus(dec(l.gpuHours));
    totalUsd = totalUsd.plus(dec(l.earnedUsd));
  }
  const gpuHours = hours(totalGpu);
  const earnedUsd = usd(totalUsd);
  // A record without lines is never created (a namespace whose jobs used nothing has no bill).
  if (lines.length > 0 && (status?.gpuHours !== gpuHours || status.earnedUsd !== earnedUsd)) changed = true;
  const out: UsageRecordStatus = {
    gpuHours,
    earnedUsd,
    jobs: lines,
    lastUpdateTime: changed ? now : (status?.lastUpdateTime ?? now),
  };
  return { status: out, changed };
}

/** Does this line already hold the job's totals (nothing of it is left to record)? */
export function lineCovers(line: UsageLine | undefined, job: JobUsage): boolean {
  if (!line) return false;
  return dec(line.jobGpuHours).cmp(job.gpuHours) >= 0 && dec(line.jobEarnedUsd).cmp(job.earnedUsd) >= 0;
}
