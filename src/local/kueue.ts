import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { apply } from '../kube/apply.js';
import type { KubeClient } from '../kube/client.js';
import { waitEstablished } from './crds.js';
import { paths, projectRoot } from './paths.js';
import { freePorts } from './ports.js';
import { isAlive, logTail, startDetached, stopProcess } from './process.js';

/**
 * Kueue (sigs.k8s.io/kueue), run out of cluster against a local cluster for `rigshift bench-scale`: built by
 * test/cluster/kueue/build.sh at the version its go.mod pins, its CRDs applied, its webhooks served over TLS on
 * 127.0.0.1 with the local PKI's 127.0.0.1 serving certificate and registered by URL, only the `batch/job`
 * integration enabled.
 */

export interface KueueBinaries {
  bin: string;
  manifests: string;
  version: string;
}

/** Builds Kueue if needed (cached by the pinned version); throws with the build's exit code otherwise. */
export function ensureKueue(progress?: (line: string) => void): KueueBinaries {
  const script = join(projectRoot(), 'test', 'cluster', 'kueue', 'build.sh');
  const bin = paths.binDir();
  if (!existsSync(join(bin, 'kueue'))) progress?.('building Kueue from the Go module proxy (minutes, once)');
  const r = spawnSync('bash', [script], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new Error(`building Kueue failed (exit ${r.status}); see the output above`);
  const manifests = join(bin, 'kueue-manifests');
  return {
    bin: join(bin, 'kueue'),
    manifests,
    version: readFileSync(join(manifests, 'VERSION'), 'utf8').trim(),
  };
}

export interface RunningKueue {
  version: string;
  pid: number;
  log: string;
  /** Webhooks registered (Kueue's own kinds and batch Jobs). */
  webhooks: number;
  stop(): Promise<void>;
}

type Webhook = {
  name: string;
  clientConfig: { service?: { path?: string }; url?: string; caBundle?: string };
  rules?: { apiGroups?: string[] }[];
};
type WebhookConfiguration = KubernetesObject & { webhooks?: Webhook[] };

/** Webhook configurations of Kueue's own kinds and batch Jobs (others would refuse objects it does not serve). */
function webhookConfigurations(manifests: string, port: number, caPem: string): WebhookConfiguration[] {
  const docs = yaml.loadAll(readFileSync(join(manifests, 'webhooks.yaml'), 'utf8')) as WebhookConfiguration[];
  const caBundle = Buffer.from(caPem).toString('base64');
  return docs
    .filter((d) => d?.kind?.endsWith('WebhookConfiguration'))
    .map((d) => ({
      apiVersion: d.apiVersion,
      kind: d.kind,
      metadata: {
        name: `bench-kueue-${d.kind === 'MutatingWebhookConfiguration' ? 'mutating' : 'validating'}`,
      },
      webhooks: (d.webhooks ?? [])
        .filter((w) =>
          (w.rules ?? []).every((r) =>
            (r.apiGroups ?? []).every((g) => g === 'kueue.x-k8s.io' || g === 'batch'),
          ),
        )
        .map((w) => ({
          ...w,
          clientConfig: { url: `https://127.0.0.1:${port}${w.clientConfig.service?.path ?? ''}`, caBundle },
        })),
    }));
}

async function healthy(port: number): Promise<boolean> {
  return new Promise((done) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/readyz', timeout: 2000 }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.on('error', () => done(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/**
 * Kueue without its internal cert management reads a metrics serving certificate from this fixed path (where its
 * Deployment mounts a Secret), even with metrics off; without one it exits.
 */
const METRICS_CERTS = '/etc/kueue/metrics/certs';

/** Puts the local PKI's serving certificate there if none is; returns how to undo what it created. */
function metricsCertificate(pki: string): () => void {
  if (existsSync(join(METRICS_CERTS, 'tls.crt')) && existsSync(join(METRICS_CERTS, 'tls.key')))
    return () => {};
  const created = existsSync('/etc/kueue') ? METRICS_CERTS : '/etc/kueue';
  try {
    mkdirSync(METRICS_CERTS, { recursive: true });
    copyFileSync(join(pki, 'apiserver.crt'), join(METRICS_CERTS, 'tls.crt'));
    copyFileSync(join(pki, 'apiserver.key'), join(METRICS_CERTS, 'tls.key'));
  } catch (err) {
    throw new Error(
      `Kueue needs a certificate at ${METRICS_CERTS} (a fixed path in Kueue when its internal cert ` +
        `management is off) and this user cannot write it: ${(err as Error).message}`,
    );
  }
  return () => rmSync(created, { recursive: true, force: true });
}

/**
 * Installs Kueue's CRDs, starts Kueue (client QPS and concurrency as its shipped configuration sets them) and
 * registers its webhooks; resolves once it is ready. The visibility API server is switched off (it needs an
 * APIService and is not used here).
 */
export async function startKueue(opts: {
  client: KubeClient;
  kubeconfig: string;
  /** The local cluster's PKI folder: ca.crt, apiserver.crt and apiserver.key. */
  pki: string;
  dir: string;
  binaries: KueueBinaries;
  timeoutMs?: number;
}): Promise<RunningKueue> {
  const { client, binaries } = opts;
  const crds = join(binaries.manifests, 'crds');
  const names: string[] = [];
  for (const f of readdirSync(crds)
    .filter((x) => x.endsWith('.yaml'))
    .sort()) {
    const crd = yaml.load(readFileSync(join(crds, f), 'utf8')) as KubernetesObject;
    await apply(client, crd, { force: true, fieldManager: 'rigshift-bench' });
    names.push(crd.metadata?.name ?? '');
  }
  await waitEstablished(client, names, 60_000);
  const certDir = join(opts.dir, 'certs');
  mkdirSync(certDir, { recursive: true });
  copyFileSync(join(opts.pki, 'apiserver.crt'), join(certDir, 'tls.crt'));
  copyFileSync(join(opts.pki, 'apiserver.key'), join(certDir, 'tls.key'));
  const [webhookPort, healthPort] = (await freePorts(2)) as [number, number];
  const config = {
    apiVersion: 'config.kueue.x-k8s.io/v1beta2',
    kind: 'Configuration',
    health: { healthProbeBindAddress: `127.0.0.1:${healthPort}` },
    metrics: { bindAddress: '0' },
    webhook: { host: '127.0.0.1', port: webhookPort, certDir },
    leaderElection: { leaderElect: false },
    internalCertManagement: { enable: false },
    manageJobsWithoutQueueName: false,
    // As in Kueue's shipped controller_manager_config.yaml.
    controller: {
      groupKindConcurrency: {
        'Job.batch': 5,
        Pod: 5,
        'Workload.kueue.x-k8s.io': 5,
        'LocalQueue.kueue.x-k8s.io': 1,
        'Cohort.kueue.x-k8s.io': 1,
        'ClusterQueue.kueue.x-k8s.io': 1,
        'ResourceFlavor.kueue.x-k8s.io': 1,
      },
    },
    clientConnection: { qps: 50, burst: 100 },
    integrations: { frameworks: ['batch/job'] },
  };
  const configFile = join(opts.dir, 'kueue-config.yaml');
  writeFileSync(configFile, yaml.dump(config));
  const log = join(opts.dir, 'kueue.log');
  const removeCert = metricsCertificate(opts.pki);
  const pid = startDetached(
    'env',
    [
      `KUBECONFIG=${opts.kubeconfig}`,
      binaries.bin,
      `--config=${configFile}`,
      '--feature-gates=VisibilityOnDemand=false',
      '--zap-log-level=error',
    ],
    log,
  );
  const stop = async (): Promise<void> => {
    for (const c of webhookConfigurations(binaries.manifests, webhookPort, ''))
      await client.rest
        .request({
          method: 'DELETE',
          path: `/apis/admissionregistration.k8s.io/v1/${c.kind === 'MutatingWebhookConfiguration' ? 'mutating' : 'validating'}webhookconfigurations/${c.metadata?.name}`,
        })
        .catch(() => undefined);
    await stopProcess(pid);
    removeCert();
  };
  let webhooks = 0;
  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    while (!(await healthy(healthPort))) {
      if (!isAlive(pid)) throw new Error(`Kueue exited during start-up; last log lines:\n${logTail(log)}`);
      if (Date.now() > deadline)
        throw new Error(`Kueue not ready after ${opts.timeoutMs ?? 120_000} ms:\n${logTail(log)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const ca = readFileSync(join(opts.pki, 'ca.crt'), 'utf8');
    for (const c of webhookConfigurations(binaries.manifests, webhookPort, ca)) {
      await apply(client, c, { force: true, fieldManager: 'rigshift-bench' });
      webhooks += c.webhooks?.length ?? 0;
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { version: binaries.version, pid, log, webhooks, stop };
}
