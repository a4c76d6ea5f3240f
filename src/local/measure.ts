import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalCluster } from './cluster.js';

/** Resident memory of a process and its children, in MiB, from /proc. */
export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

export interface MeasureResult {
  startSeconds: number;
  nodes: number;
  addNodesSeconds: number;
  rssMiB: Record<string, number>;
  totalRssMiB: number;
}

/** Starts a throw-away cluster, adds GPU nodes, lets it settle, and reads each component's memory. */
export async function measureCluster(
  nodes: number,
  settleMs: number,
  progress: (l: string) => void,
): Promise<MeasureResult> {
  const t0 = Date.now();
  const cluster = await startLocalCluster({
    dir: join(tmpdir(), `rigshift-measure-${process.pid}`),
    progress,
  });
  try {
    const startSeconds = (Date.now() - t0) / 1000;
    const t1 = Date.now();
    progress(`adding ${nodes} nodes`);
    await cluster.addGpuNodes({
      count: nodes,
      product: 'NVIDIA-GeForce-RTX-3090',
      gpus: 8,
      memoryMiB: 24576,
      timeoutMs: 300_000,
    });
    const addNodesSeconds = (Date.now() - t1) / 1000;
    progress(`settling for ${settleMs / 1000}s (lease heartbeats, node lifecycle)`);
    await new Promise((r) => setTimeout(r, settleMs)); // a measurement window, not synchronisation
    const rss: Record<string, number> = {};
    for (const [name, pid] of Object.entries(cluster.state.pids)) rss[name] = Math.round(rssMiB(pid));
    return {
      startSeconds,
      nodes,
      addNodesSeconds,
      rssMiB: rss,
      totalRssMiB: Object.values(rss).reduce((a, b) => a + b, 0),
    };
  } finally {
    await cluster.stop();
  }
}
