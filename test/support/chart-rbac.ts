// Runs code as the Helm chart's operator ServiceAccount: installs the chart's ServiceAccount and RBAC (rendered
// by helm from helm/rigshift, nothing hand-written) and returns a KubeConfig that authenticates as that
// ServiceAccount with a TokenRequest token. The operator's end-to-end scenarios run under it, which proves the
// ClusterRole is enough.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { waitFor, uniqueSuffix, type TestCluster } from './cluster.js';

export const CHART_DIR = join(process.cwd(), 'helm', 'rigshift');

export interface ChartRbacOptions {
  /** Release namespace: the ServiceAccount, the leader election Role and a pod-writing RoleBinding go here. */
  namespace: string;
  /** Further namespaces where the operator may create/delete/evict pods (rbac.workloadNamespaces); must exist. */
  workloadNamespaces?: string[];
  /** Also create the chart's two PriorityClasses if missing (shared by all tests, never deleted). Default false. */
  priorityClasses?: boolean;
  /**
   * Also apply the chart's ValidatingAdmissionPolicy reserving the PriorityClasses to this ServiceAccount
   * (deleted by cleanup). It binds cluster-wide: name PriorityClasses of the test's own in helmArgs.
   */
  admissionPolicy?: boolean;
  /** Helm release name; default `rigshift-<random>` so cluster-scoped names never collide between tests. */
  release?: string;
  /** Lifetime of the token (default 2 h; the API server may shorten it). */
  tokenSeconds?: number;
  /** Extra `helm template` flags, e.g. ['--set', 'rbac.allNamespaces=true']. */
  helmArgs?: string[];
}

export interface ChartRbac {
  release: string;
  namespace: string;
  serviceAccount: string;
  /** The Lease the Role lets it renew: run the operator with `--leader-election-id=<leaseName>`. */
  leaseName: string;
  /** The JobGrants the Role lets it patch: run the operator with `--job-grants=<jobGrantsName>`. */
  jobGrantsName: string;
  /** `system:serviceaccount:<namespace>:<serviceAccount>`, for `kubectl --as`. */
  username: string;
  /** Authenticates as the ServiceAccount (bearer token), against the test cluster. */
  kc: k8s.KubeConfig;
  /** The same credentials on disk, for a child process (`rigshift run --kubeconfig ...`). */
  kubeconfigPath: string;
  token: string;
  /** The manifests that were applied (helm template output). */
  manifests: string;
  /** Deletes what was applied (PriorityClasses excepted). */
  cleanup(): Promise<void>;
}

/** `helm template` of the chart with the given release, namespace and flags. */
export async function renderChart(
  c: TestCluster,
  release: string,
  namespace: string,
  args: string[] = [],
): Promise<string> {
  return (await c.helm(['template', release, CHART_DIR, '--namespace', namespace, ...args])).stdout;
}

export async function installChartRbac(c: TestCluster, opts: ChartRbacOptions): Promise<ChartRbac> {
  const release = opts.release ?? `rigshift-${uniqueSuffix()}`;
  const { namespace } = opts;
  const values = ['--set-json', `rbac.workloadNamespaces=${JSON.stringify(opts.workloadNamespaces ?? [])}`];
  const show = (t: string) => ['--show-only', `templates/${t}.yaml`];
  const manifests = await renderChart(c, release, namespace, [
    ...values,
    ...(opts.helmArgs ?? []),
    ...show('serviceaccount'),
    ...show('rbac'),
  ]);
  await c.kubectl(['apply', '--server-side', '--field-manager=rigshift-chart-rbac', '-f', '-'], {
    input: manifests,
  });
  if (opts.priorityClasses) {
    // Created if missing, never changed: a PriorityClass's value is immutable, and other tests (or the demo)
    // may have created the same names already.
    const classes = await renderChart(c, release, namespace, [
      ...(opts.helmArgs ?? []),
      ...show('priorityclasses'),
    ]);
    const r = await c.kubectl(['create', '-f', '-'], { input: classes, allowFail: true });
    const errors = r.stderr.split('\n').filter((l) => l.trim() && !/AlreadyExists|already exists/.test(l));
    if (r.code !== 0 && errors.length > 0)
      throw new Error(`creating the PriorityClasses failed:\n${r.stderr}`);
  }

  const policy = opts.admissionPolicy
    ? await renderChart(c, release, namespace, [...(opts.helmArgs ?? []), ...show('priorityclass-policy')])
    : '';
  if (policy) {
    await c.kubectl(['apply', '--server-side', '--field-manager=rigshift-chart-rbac', '-f', '-'], {
      input: policy,
    });
  }

  // The chart names the ServiceAccount after the release (fullname): read it back from what was rendered.
  const serviceAccount = /kind: ServiceAccount\nmetadata:\n {2}name: (\S+)/.exec(manifests)?.[1];
  if (!serviceAccount) throw new Error('the chart rendered no ServiceAccount');
  const leaseName = /resources: \[leases\]\n\s+resourceNames: \[['"]?([^'"\]]+)/.exec(manifests)?.[1];
  if (!leaseName) throw new Error('the chart rendered no Lease name in its leader election Role');
  const jobGrantsName = /resources: \[jobgrants\]\n\s+resourceNames: \[['"]?([^'"\]]+)/.exec(manifests)?.[1];
  if (!jobGrantsName) throw new Error('the chart rendered no JobGrants name in its leader election Role');
  const core = c.kc.makeApiClient(k8s.CoreV1Api);
  const tokenRequest = await waitFor(`a token for ServiceAccount ${namespace}/${serviceAccount}`, () =>
    core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace,
      body: { spec: { audiences: [], expirationSeconds: opts.tokenSeconds ?? 7200 } },
    }),
  );
  const token = tokenRequest.status?.token;
  if (!token) throw new Error('TokenRequest returned no token');

  const cluster = c.kc.getCurrentCluster();
  if (!cluster) throw new Error('the test kubeconfig has no current cluster');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, name: 'test-cluster' }],
    users: [{ name: serviceAccount, token }],
    contexts: [{ name: serviceAccount, cluster: 'test-cluster', user: serviceAccount, namespace }],
    currentContext: serviceAccount,
  });
  const dir = join(tmpdir(), `rigshift-rbac-${release}`);
  mkdirSync(dir, { recursive: true });
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kc.exportConfig(), { mode: 0o600 });

  // RBAC is enforced from the authorizer's cache: wait until the new bindings are in force.
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const allowed = async (resourceAttributes: k8s.V1ResourceAttributes) =>
    (await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes } } })).status?.allowed;
  await waitFor(`RBAC of ${serviceAccount} in force`, async () => {
    const lease = await allowed({
      verb: 'create',
      resource: 'leases',
      group: 'coordination.k8s.io',
      namespace,
    });
    const nodes = await allowed({ verb: 'watch', resource: 'nodes' });
    const pods = await allowed({ verb: 'create', resource: 'pods', namespace });
    return lease && nodes && pods;
  });

  return {
    release,
    namespace,
    serviceAccount,
    leaseName,
    jobGrantsName,
    username: `system:serviceaccount:${namespace}:${serviceAccount}`,
    kc,
    kubeconfigPath,
    token,
    manifests: manifests + (policy ? `---\n${policy}` : ''),
    async cleanup() {
      await c.kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], {
        input: manifests + (policy ? `---\n${policy}` : ''),
      });
    },
  };
}
