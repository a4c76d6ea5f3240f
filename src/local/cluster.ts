import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join, resolve } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { kubeconfigYaml } from './kubeconfig.js';
import { addGpuNodes, type GpuNodeSpec } from './nodes.js';
import { paths } from './paths.js';
import { freePorts } from './ports.js';
import { isAlive, logTail, startDetached, stopProcess } from './process.js';

export const KUBERNETES_VERSION = 'v1.35.4';
/** Shorter than the 50 s default so tests can prove nodes outlive it; kwok renews leases every 10 s. */
export const NODE_MONITOR_GRACE_SECONDS = 20;
const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
export type Component = (typeof COMPONENTS)[number];

export interface ClusterState {
  dir: string;
  kubeconfig: string;
  server: string;
  ports: Record<string, number>;
  pids: Partial<Record<Component, number>>;
  /** Each component's command line, so that it can be restarted as it was started. */
  args?: Partial<Record<Component, string[]>>;
  startedAt: string;
}

export interface StartOptions {
  /** Folder for certificates, etcd data, logs and the kubeconfig (default `.rigshift/local`). */
  dir?: string;
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
  timeoutMs?: number;
  /**
   * kube-scheduler's pluginConfig (KubeSchedulerConfiguration v1, default profile), e.g. NodeResourcesFit
   * scoring GPUs MostAllocated; default: the scheduler's own defaults.
   */
  schedulerPluginConfig?: unknown[];
}

export interface LocalCluster {
  state: ClusterState;
  kubeconfigPath: string;
  kubeConfig(): k8s.KubeConfig;
  addGpuNodes(spec: GpuNodeSpec): Promise<string[]>;
  stop(): Promise<void>;
}

/** Builds the binaries if needed (cached by pinned versions). Streams build output to stderr. */
export function ensureBinaries(progress?: (line: string) => void): string {
  const bin = paths.binDir();
  const missing = [...COMPONENTS, 'rigshift-pki'].filter((c) => !existsSync(join(bin, c)));
  if (missing.length > 0 || process.env.RIGSHIFT_REBUILD === '1') {
    progress?.(
      `building local cluster binaries (${missing.join(', ') || 'rebuild'}); first build takes minutes`,
    );
  }
  const r = spawnSync('bash', [paths.buildScript()], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0)
    throw new Error(`building the local cluster failed (exit ${r.status}); see output above`);
  return bin;
}

function stateFile(dir: string): string {
  return join(dir, 'state.json');
}

export function readState(dir = paths.defaultStateDir()): ClusterState | undefined {
  const f = stateFile(dir);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as ClusterState) : undefined;
}

/** Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on free loopback ports. */
export async function startLocalCluster(opts: StartOptions = {}): Promise<LocalCluster> {
  const dir = resolve(opts.dir ?? paths.defaultStateDir());
  const progress = opts.progress ?? (() => {});
  const existing = readState(dir);
  if (existing && Object.values(existing.pids).some((p) => p !== undefined && isAlive(p))) {
    throw new Error(`a local cluster is already running in ${dir}; run 'rigshift local down' first`);
  }
  const bin = ensureBinaries(progress);
  const began = Date.now();
  rmSync(dir, { recursive: true, force: true });
  for (const d of ['pki', 'etcd', 'logs']) mkdirSync(join(dir, d), { recursive: true });
  const pki = join(dir, 'pki');
  execFileSync(join(bin, 'rigshift-pki'), ['--dir', pki]);

  const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = await freePorts(6);
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(server, pki, 'admin', 'admin'), { mode: 0o600 });
  const kcmConfig = join(dir, 'controller-manager.kubeconfig');
  writeFileSync(kcmConfig, kubeconfigYaml(server, pki, 'kube-controller-manager', 'controller-manager'));
  const schedConfig = join(dir, 'scheduler.kubeconfig');
  writeFileSync(schedConfig, kubeconfigYaml(server, pki, 'kube-scheduler', 'scheduler'));
  const kwokConfig = join(dir, 'kwok.kubeconfig');
  writeFileSync(kwokConfig, kubeconfigYaml(server, pki, 'kwok', 'kwok'));

  const state: ClusterState = {
    dir,
    kubeconfig,
    server,
    ports: {
      etcdClient: etcdClient!,
      etcdPeer: etcdPeer!,
      apiPort: apiPort!,
      kcmPort: kcmPort!,
      schedPort: schedPort!,
      kwokPort: kwokPort!,
    },
    pids: {},
    args: {},
    startedAt: new Date().toISOString(),
  };
  const save = (): void => writeFileSync(stateFile(dir), JSON.stringify(state, null, 2));
  const log = (c: Component): string => join(dir, 'logs', `${c}.log`);
  const start = (c: Component, args: string[]): void => {
    state.pids[c] = startDetached(join(bin, c), args, log(c));
    (state.args ??= {})[c] = args;
    save();
  };
  const cluster = makeHandle(state);
  try {
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    progress('starting etcd');
    start('etcd', [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    const f = (name: string): string => join(pki, name);
    progress('starting kube-apiserver');
    start('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${f('apiserver.crt')}`,
      `--tls-private-key-file=${f('apiserver.key')}`,
      `--client-ca-file=${f('ca.crt')}`,
      `--service-account-key-file=${f('sa.pub')}`,
      `--service-account-signing-key-file=${f('sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--api-audiences=https://kubernetes.default.svc.cluster.local',
      '--authorization-mode=Node,RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      '--profiling=false',
      '--v=1',
    ]);
    await waitHealthy(server, '/readyz', pki, 'kube-apiserver', state, log, 60_000);

    progress('starting kube-controller-manager, kube-scheduler and kwok');
    start('kube-controller-manager', [
      `--kubeconfig=${kcmConfig}`,
      `--authentication-kubeconfig=${kcmConfig}`,
      `--authorization-kubeconfig=${kcmConfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      '--leader-elect=false',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${f('sa.key')}`,
      `--root-ca-file=${f('ca.crt')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--controllers=*',
      `--node-monitor-grace-period=${NODE_MONITOR_GRACE_SECONDS}s`,
      '--node-monitor-period=2s',
      '--v=1',
    ]);
    // With --config the scheduler takes its client and leader election from the file, not from flags.
    const schedFile = join(dir, 'scheduler.yaml');
    if (opts.schedulerPluginConfig) {
      writeFileSync(
        schedFile,
        JSON.stringify({
          apiVersion: 'kubescheduler.config.k8s.io/v1',
          kind: 'KubeSchedulerConfiguration',
          clientConnection: { kubeconfig: schedConfig },
          leaderElection: { leaderElect: false },
          profiles: [{ schedulerName: 'default-scheduler', pluginConfig: opts.schedulerPluginConfig }],
        }),
      );
    }
    start('kube-scheduler', [
      ...(opts.schedulerPluginConfig ? [`--config=${schedFile}`] : [`--kubeconfig=${schedConfig}`]),
      `--authentication-kubeconfig=${schedConfig}`,
      `--authorization-kubeconfig=${schedConfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      ...(opts.schedulerPluginConfig ? [] : ['--leader-elect=false']),
      '--v=1',
    ]);
    start('kwok', [
      `--kubeconfig=${kwokConfig}`,
      `--config=${paths.stagesFile()}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-lease-duration-seconds=40',
      `--server-address=127.0.0.1:${kwokPort}`,
      '--cidr=10.240.0.0/16',
      '--node-ip=10.250.0.1',
    ]);
    await Promise.all([
      waitHealthy(
        `https://127.0.0.1:${kcmPort}`,
        '/healthz',
        pki,
        'kube-controller-manager',
        state,
        log,
        60_000,
      ),
      waitHealthy(`https://127.0.0.1:${schedPort}`, '/healthz', pki, 'kube-scheduler', state, log, 60_000),
      waitHealthy(`http://127.0.0.1:${kwokPort}`, '/healthz', pki, 'kwok', state, log, 60_000),
    ]);
    await waitDefaultServiceAccount(cluster.kubeConfig(), state, log, opts.timeoutMs ?? 60_000);
    progress(`ready in ${((Date.now() - began) / 1000).toFixed(1)}s; kubeconfig: ${kubeconfig}`);
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** A handle on a cluster started by this or another process (from its state file). */
export function makeHandle(state: ClusterState): LocalCluster {
  return {
    state,
    kubeconfigPath: state.kubeconfig,
    kubeConfig() {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(state.kubeconfig);
      return kc;
    },
    addGpuNodes(spec) {
      return addGpuNodes(this.kubeConfig(), spec);
    },
    async stop() {
      await stopLocalCluster(state);
    },
  };
}

/**
 * Stops one component (SIGTERM, then SIGKILL) and starts it again with the same command line; resolves once
 * it is healthy again. The chaos run restarts the kube-apiserver this way.
 */
export async function restartComponent(state: ClusterState, c: Component, timeoutMs = 60_000): Promise<void> {
  const args = state.args?.[c];
  if (!args)
    throw new Error(`no command line recorded for ${c}: the cluster was started by an older rigshift`);
  const pid = state.pids[c];
  if (pid !== undefined) await stopProcess(pid);
  const log = (x: Component): string => join(state.dir, 'logs', `${x}.log`);
  state.pids[c] = startDetached(join(paths.binDir(), c), args, log(c));
  writeFileSync(stateFile(state.dir), JSON.stringify(state, null, 2));
  const pki = join(state.dir, 'pki');
  if (c === 'kube-apiserver') await waitHealthy(state.server, '/readyz', pki, c, state, log, timeoutMs);
}

/** Stops every process (reverse start order) and removes the cluster's folder. */
export async function stopLocalCluster(state: ClusterState): Promise<void> {
  for (const c of [...COMPONENTS].reverse()) {
    const pid = state.pids[c];
    if (pid !== undefined) await stopProcess(pid);
  }
  rmSync(state.dir, { recursive: true, force: true });
}

export async function clusterStatus(
  state: ClusterState,
): Promise<{ component: string; pid?: number; running: boolean }[]> {
  return COMPONENTS.map((c) => {
    const pid = state.pids[c];
    return { component: c, pid, running: pid !== undefined && isAlive(pid) };
  });
}

/** GET a health endpoint; 0 when unreachable. Component serving certs are self-signed, so only the CA'd
 *  client certificate matters here (clients of the API server do verify its certificate). */
function httpGet(url: string, pki: string): Promise<number> {
  return new Promise((done) => {
    const onResponse = (res: import('node:http').IncomingMessage): void => {
      res.resume();
      done(res.statusCode ?? 0);
    };
    const req = url.startsWith('https')
      ? httpsRequest(
          url,
          {
            cert: readFileSync(join(pki, 'admin.crt')),
            key: readFileSync(join(pki, 'admin.key')),
            rejectUnauthorized: false,
            timeout: 2000,
          },
          onResponse,
        )
      : httpRequest(url, { timeout: 2000 }, onResponse);
    req.on('error', () => done(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitHealthy(
  base: string,
  path: string,
  pki: string,
  component: Component,
  state: ClusterState,
  log: (c: Component) => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await httpGet(base + path, pki)) === 200) return;
    const pid = state.pids[component];
    if (pid === undefined || !isAlive(pid)) {
      throw new Error(`${component} exited during start-up; last log lines:\n${logTail(log(component))}`);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${component} not healthy at ${base}${path} after ${timeoutMs} ms:\n${logTail(log(component))}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitDefaultServiceAccount(
  kc: k8s.KubeConfig,
  state: ClusterState,
  log: (c: Component) => string,
  timeoutMs: number,
): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      return;
    } catch {
      if (Date.now() > deadline) {
        throw new Error(
          `the default ServiceAccount never appeared; controller-manager log:\n${logTail(log('kube-controller-manager'))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
