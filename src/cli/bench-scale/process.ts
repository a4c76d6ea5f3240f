import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { projectRoot } from '../../local/paths.js';
import { freePorts } from '../../local/ports.js';
import { isAlive, logTail, startDetached, stopProcess } from '../../local/process.js';

/** CPU seconds (user + system) and peak RSS of a live process, from /proc (Linux). */
export function processCost(pid: number): { cpuSeconds: number; peakRssMiB: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return { cpuSeconds: ticks / 100, peakRssMiB: hwm ? Number(hwm[1]) / 1024 : NaN };
  } catch {
    return undefined;
  }
}

export interface OperatorProcess {
  pid: number;
  log: string;
  /** The operator's /metrics, parsed: metric name with its labels → value. */
  metrics(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

/** `node bin/rigshift.js run` against the cluster, /metrics on a free loopback port without auth. */
export async function startOperator(opts: {
  kubeconfig: string;
  namespace: string;
  nodeSelector: string;
  policyFile: string;
  minerGraceSeconds: number;
  /** `--node-workers` (default: the operator's own). */
  nodeWorkers?: number | undefined;
  /** `--job-workers` (default: the operator's own). */
  jobWorkers?: number | undefined;
  dir: string;
  /** Keep the log here, at debug level (default: in `dir`, warnings only). */
  logFile?: string | undefined;
}): Promise<OperatorProcess> {
  const [port] = (await freePorts(1)) as [number];
  const log = opts.logFile ?? join(opts.dir, 'operator.log');
  const pid = startDetached(
    process.execPath,
    [
      join(projectRoot(), 'bin', 'rigshift.js'),
      'run',
      `--kubeconfig=${opts.kubeconfig}`,
      `--namespace=${opts.namespace}`,
      `--node-selector=${opts.nodeSelector}`,
      `--policy-file=${opts.policyFile}`,
      `--miner-grace-period=${opts.minerGraceSeconds}`,
      `--metrics-address=127.0.0.1:${port}`,
      '--metrics-auth=none',
      '--identity=bench-scale',
      `--log-level=${opts.logFile ? 'debug' : 'warn'}`,
      ...(opts.nodeWorkers ? [`--node-workers=${opts.nodeWorkers}`] : []),
      ...(opts.jobWorkers ? [`--job-workers=${opts.jobWorkers}`] : []),
    ],
    log,
  );
  const metrics = async (): Promise<Map<string, number>> => parseMetrics(await httpGet(port, '/metrics'));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if ((await httpGet(port, '/readyz').catch(() => '')) !== '') break;
    if (!isAlive(pid)) throw new Error(`the operator exited at start-up:\n${logTail(log)}`);
    if (Date.now() > deadline) {
      await stopProcess(pid);
      throw new Error(`the operator was not ready within 60 s:\n${logTail(log)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { pid, log, metrics, stop: () => stopProcess(pid, 10_000) };
}

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(Buffer.concat(chunks).toString('utf8'))
          : reject(new Error(`GET ${path}: ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timed out`)));
    req.end();
  });
}

/** Prometheus text format: `name{labels} value` lines → map (comments skipped). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Parses `{a="x",b="y"}` of a metric key into its labels. */
export function labelsOf(key: string): Record<string, string> {
  const out: Record<string, string> = {};
  const body = /\{(.*)\}$/.exec(key)?.[1] ?? '';
  for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/** API requests by `VERB resource` (writes: every method but GET) from rigshift_api_requests_total. */
export function requestCounts(metrics: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of metrics) {
    if (!k.startsWith('rigshift_api_requests_total{')) continue;
    const l = labelsOf(k);
    const key = `${l.verb} ${l.resource || '(other)'}`;
    out.set(key, (out.get(key) ?? 0) + v);
  }
  return out;
}

export const countDiff = (a: Map<string, number>, b: Map<string, number>): Map<string, number> =>
  new Map([...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const).filter(([, v]) => v > 0));
export const writesOf = (m: Map<string, number>): number =>
  [...m].filter(([k]) => !k.startsWith('GET ')).reduce((a, [, v]) => a + v, 0);
export const totalOf = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** The p-quantile of a Prometheus histogram (upper bound of the bucket it falls in), in the metric's unit. */
export function histogramQuantile(metrics: Map<string, number>, name: string, q: number): number | null {
  const buckets: [number, number][] = [];
  for (const [k, v] of metrics) {
    if (!k.startsWith(`${name}_bucket{`)) continue;
    const le = labelsOf(k).le;
    buckets.push([le === '+Inf' ? Infinity : Number(le), v]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const hit = buckets.find(([, c]) => c >= q * total);
  return hit ? hit[0] : null;
}
