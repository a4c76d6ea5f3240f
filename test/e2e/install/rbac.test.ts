// The chart's RBAC applied for real: what the operator's ServiceAccount may and may not do (kubectl auth can-i
// and real requests with its own token), and the roles aggregated into edit and view.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { installChartRbac, renderChart, type ChartRbac } from '../../support/chart-rbac.js';
import { getTestCluster, uniqueSuffix, waitFor, type TestCluster } from '../../support/cluster.js';

let c: TestCluster;
let release: string; // operator namespace
let workload: string; // a namespace listed in rbac.workloadNamespaces
let other: string; // a namespace that is not
let rbac: ChartRbac;

beforeAll(async () => {
  c = await getTestCluster();
  // The chart's CRDs are templates generated from crds/ (a unit test checks they match).
  await c.installCrds();
  release = await c.createNamespace('install-op');
  workload = await c.createNamespace('install-wl');
  other = await c.createNamespace('install-other');
  rbac = await installChartRbac(c, {
    namespace: release,
    workloadNamespaces: [workload],
    priorityClasses: true,
  });
}, 120_000);

afterAll(async () => {
  await rbac?.cleanup();
});

async function canI(as: string, verb: string, resource: string, namespace?: string): Promise<string> {
  // `kubectl auth can-i get pods/x` would ask about the pod named x: subresources go in --subresource.
  const [plural, subresource] = resource.split('/');
  const args = ['auth', 'can-i', verb, plural!, `--as=${as}`];
  if (subresource) args.push(`--subresource=${subresource}`);
  args.push(...(namespace ? ['-n', namespace] : ['--all-namespaces']));
  const r = await c.kubectl(args, { allowFail: true });
  return r.stdout.trim();
}

/** `kubectl auth can-i VERB resource/name`: about one object by name. */
async function canINamed(
  as: string,
  verb: string,
  resourceAndName: string,
  namespace: string,
): Promise<string> {
  const r = await c.kubectl(['auth', 'can-i', verb, resourceAndName, `--as=${as}`, '-n', namespace], {
    allowFail: true,
  });
  return r.stdout.trim();
}

describe("the operator's ServiceAccount (kubectl auth can-i)", () => {
  // [verb, resource, namespace (undefined: all namespaces)]
  const allowed: [string, string, string | undefined][] = [
    ['watch', 'nodes', undefined],
    ['patch', 'nodes', undefined],
    ['list', 'pods', undefined],
    ['watch', 'pods', undefined],
    ['list', 'configmaps', undefined],
    ['watch', 'resourcequotas', undefined],
    ['create', 'events.events.k8s.io', 'default'],
    ['patch', 'events.events.k8s.io', 'kube-system'],
    ['list', 'priorityclasses.scheduling.k8s.io', undefined],
    ['watch', 'trainingjobs.rigshift.io', undefined],
    ['patch', 'trainingjobs.rigshift.io', 'any-team'], // the cleanup finalizer
    ['patch', 'trainingjobs.rigshift.io/status', 'any-team'],
    ['update', 'miningpools.rigshift.io/status', 'any-team'],
    ['patch', 'fleetpolicies.rigshift.io/status', undefined],
    ['watch', 'fleetpolicies.rigshift.io', undefined],
    ['create', 'usagerecords.rigshift.io', 'any-team'], // the month's bill of a renter namespace
    ['patch', 'usagerecords.rigshift.io/status', 'any-team'],
    ['watch', 'usagerecords.rigshift.io', undefined],
    ['watch', 'jobs.batch', undefined], // renters' batch Jobs (written only if opted in)
  ];
  const denied: [string, string, string | undefined][] = [
    ['get', 'secrets', undefined], // all namespaces: only per namespace (see below)
    ['list', 'secrets', undefined],
    ['watch', 'secrets', undefined],
    ['delete', 'pods', 'kube-system'],
    ['create', 'pods', 'kube-system'],
    ['create', 'pods/eviction', 'kube-system'],
    ['create', 'services', 'kube-system'],
    ['list', 'services', undefined], // a job's Service is read by name only
    ['delete', 'services', undefined], // the garbage collector deletes it with its job
    ['patch', 'services', undefined],
    ['delete', 'pods', undefined],
    ['delete', 'nodes', undefined],
    ['update', 'nodes', undefined],
    ['patch', 'nodes/status', undefined],
    ['create', 'configmaps', undefined], // only in the release namespace: batch Jobs' ledgers
    ['create', 'jobgrants.rigshift.io', undefined], // only in the release namespace: batch Jobs' GPU grants
    ['patch', 'jobgrants.rigshift.io', undefined],
    ['patch', 'jobs.batch', undefined],
    ['patch', 'jobs.batch/status', undefined],
    ['list', 'poddisruptionbudgets.policy', undefined], // evictions report the budget that blocks them
    ['patch', 'miningpools.rigshift.io', 'any-team'], // the operator never writes spec
    ['update', 'fleetpolicies.rigshift.io', undefined],
    ['create', 'trainingjobs.rigshift.io', 'any-team'],
    ['delete', 'trainingjobs.rigshift.io', 'any-team'],
    ['create', 'serviceaccounts/token', undefined],
    ['create', 'clusterrolebindings.rbac.authorization.k8s.io', undefined],
    ['escalate', 'clusterroles.rbac.authorization.k8s.io', undefined],
    ['impersonate', 'users', undefined],
    ['delete', 'usagerecords.rigshift.io', 'any-team'], // a bill is never taken back
    ['patch', 'usagerecords.rigshift.io', 'any-team'], // its status only
  ];

  it.each(allowed)('may %s %s (namespace %s)', async (verb, resource, namespace) => {
    expect(await canI(rbac.username, verb, resource, namespace)).toBe('yes');
  });

  it.each(denied)('may not %s %s (namespace %s)', async (verb, resource, namespace) => {
    expect(await canI(rbac.username, verb, resource, namespace)).toBe('no');
  });

  it('writes pods only in the release and workload namespaces', async () => {
    for (const ns of [release, workload]) {
      for (const [verb, resource] of [
        ['create', 'pods'],
        ['delete', 'pods'],
        ['create', 'pods/eviction'],
        ['create', 'services'],
        ['get', 'services'],
        ['delete', 'trainingjobs.rigshift.io'], // ttlSecondsAfterFinished
        ['patch', 'jobs.batch'], // a renter's batch Job: suspend, and its template's scheduling fields
        ['patch', 'jobs.batch/status'], // a preempted Job's startTime, cleared before it is pinned again
      ] as const) {
        expect(`${verb} ${resource} in ${ns}: ${await canI(rbac.username, verb, resource, ns)}`).toBe(
          `${verb} ${resource} in ${ns}: yes`,
        );
      }
    }
    expect(await canI(rbac.username, 'create', 'pods', other)).toBe('no');
    expect(await canI(rbac.username, 'create', 'pods/eviction', other)).toBe('no');
    expect(await canI(rbac.username, 'create', 'services', other)).toBe('no');
    expect(await canI(rbac.username, 'delete', 'trainingjobs.rigshift.io', other)).toBe('no');
    expect(await canI(rbac.username, 'patch', 'jobs.batch', other)).toBe('no');
    expect(await canI(rbac.username, 'patch', 'jobs.batch/status', other)).toBe('no');
    expect(await canI(rbac.username, 'update', 'jobs.batch', workload)).toBe('no'); // merge patches only
    // Batch Jobs' ledgers (ConfigMaps) and GPU grants (the JobGrants of the chart, by name): the release
    // namespace only.
    expect(await canI(rbac.username, 'create', 'configmaps', release)).toBe('yes');
    expect(await canI(rbac.username, 'create', 'configmaps', workload)).toBe('no');
    const grants = `jobgrants.rigshift.io/${rbac.release}-job-grants`;
    for (const verb of ['create', 'watch']) {
      expect(await canI(rbac.username, verb, 'jobgrants.rigshift.io', release)).toBe('yes');
      expect(await canI(rbac.username, verb, 'jobgrants.rigshift.io', workload)).toBe('no');
    }
    expect(await canINamed(rbac.username, 'patch', grants, release)).toBe('yes');
    expect(await canINamed(rbac.username, 'patch', 'jobgrants.rigshift.io/another', release)).toBe('no');
    expect(await canINamed(rbac.username, 'patch', grants, workload)).toBe('no');
    expect(await canINamed(rbac.username, 'delete', grants, release)).toBe('no');
  });

  it('gets Secrets (a price feed API key) by name in the workload namespaces only, never lists them', async () => {
    for (const ns of [release, workload]) expect(await canI(rbac.username, 'get', 'secrets', ns)).toBe('yes');
    expect(await canI(rbac.username, 'get', 'secrets', other)).toBe('no');
    for (const verb of ['list', 'watch'])
      expect(await canI(rbac.username, verb, 'secrets', workload)).toBe('no');
  });

  it('holds only its own Lease, in its own namespace', async () => {
    const lease = (name: string) => `leases.coordination.k8s.io/${name}`; // kubectl: resource/name
    expect(rbac.leaseName).toBe(rbac.release);
    expect(await canI(rbac.username, 'create', 'leases.coordination.k8s.io', release)).toBe('yes');
    for (const verb of ['get', 'update']) {
      expect(await canINamed(rbac.username, verb, lease(rbac.leaseName), release)).toBe('yes');
      expect(await canINamed(rbac.username, verb, lease('someone-else'), release)).toBe('no');
    }
    expect(await canINamed(rbac.username, 'delete', lease(rbac.leaseName), release)).toBe('no');
    expect(await canI(rbac.username, 'update', 'leases.coordination.k8s.io', 'kube-node-lease')).toBe('no');
  });
});

describe("requests made with the ServiceAccount's own token", () => {
  const status = async (p: Promise<unknown>): Promise<number> => {
    try {
      await p;
      return 200;
    } catch (err) {
      return (err as { code?: number }).code ?? -1;
    }
  };
  const pod = (namespace: string): k8s.V1Pod => ({
    metadata: {
      name: `probe-${uniqueSuffix()}`,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'rigshift' },
    },
    spec: { containers: [{ name: 'c', image: 'registry.example/none:1' }] },
  });

  it('reads nodes and pods everywhere, creates pods where allowed, and is refused the rest', async () => {
    const core = rbac.kc.makeApiClient(k8s.CoreV1Api);
    expect(await status(core.listNode())).toBe(200);
    expect(await status(core.listPodForAllNamespaces({ limit: 1 }))).toBe(200);
    expect(await status(core.listNamespacedSecret({ namespace: release }))).toBe(403);
    expect(await status(core.listSecretForAllNamespaces())).toBe(403);
    expect(await status(core.readNamespacedSecret({ name: 'any', namespace: 'kube-system' }))).toBe(403);
    // Dry runs: authorised and admitted like the real thing, never persisted.
    expect(
      await status(core.createNamespacedPod({ namespace: workload, body: pod(workload), dryRun: 'All' })),
    ).toBe(200);
    expect(
      await status(core.createNamespacedPod({ namespace: other, body: pod(other), dryRun: 'All' })),
    ).toBe(403);
    const systemPods = await c.kc
      .makeApiClient(k8s.CoreV1Api)
      .listNamespacedPod({ namespace: 'kube-system' });
    const victim = systemPods.items[0]?.metadata?.name ?? 'kube-proxy-any';
    expect(
      await status(core.deleteNamespacedPod({ name: victim, namespace: 'kube-system', dryRun: 'All' })),
    ).toBe(403);
  });
});

describe('roles aggregated into edit and view', () => {
  let manifests = '';
  const alice = `alice-${uniqueSuffix()}`; // bound to edit in the workload namespace
  const bob = `bob-${uniqueSuffix()}`; // bound to view there

  beforeAll(async () => {
    manifests = await renderChart(c, rbac.release, release, [
      '--show-only',
      'templates/aggregate-roles.yaml',
    ]);
    await c.kubectl(['apply', '--server-side', '--field-manager=rigshift-chart-rbac', '-f', '-'], {
      input: manifests,
    });
    for (const [user, role] of [
      [alice, 'edit'],
      [bob, 'view'],
    ] as const) {
      await c.kubectl([
        'create',
        'rolebinding',
        `${user}-${role}`,
        `--clusterrole=${role}`,
        `--user=${user}`,
        '-n',
        workload,
      ]);
    }
  }, 60_000);

  afterAll(async () => {
    if (manifests) await c.kubectl(['delete', '--ignore-not-found', '-f', '-'], { input: manifests });
  });

  it('lets namespace editors manage TrainingJobs there, and never MiningPools', async () => {
    // The clusterrole-aggregation controller copies the rules into edit shortly after.
    await waitFor(
      'edit to include TrainingJobs',
      async () => (await canI(alice, 'create', 'trainingjobs.rigshift.io', workload)) === 'yes',
      30_000,
    );
    for (const verb of ['get', 'list', 'watch', 'update', 'patch', 'delete']) {
      expect(await canI(alice, verb, 'trainingjobs.rigshift.io', workload)).toBe('yes');
    }
    expect(await canI(alice, 'get', 'miningpools.rigshift.io', workload)).toBe('yes');
    for (const verb of ['create', 'update', 'patch', 'delete']) {
      expect(await canI(alice, verb, 'miningpools.rigshift.io', workload)).toBe('no');
    }
    expect(await canI(alice, 'create', 'trainingjobs.rigshift.io', other)).toBe('no');
    expect(await canI(alice, 'update', 'trainingjobs.rigshift.io/status', workload)).toBe('no');
    expect(await canI(alice, 'update', 'fleetpolicies.rigshift.io', undefined)).toBe('no');
    // The GPU grants of batch Jobs are the operator's alone: an editor neither writes nor reads them.
    for (const verb of ['get', 'create', 'patch', 'update', 'delete']) {
      expect(await canI(alice, verb, 'jobgrants.rigshift.io', workload)).toBe('no');
    }
  });

  it('lets namespace viewers read them and nothing more', async () => {
    await waitFor(
      'view to include TrainingJobs',
      async () => (await canI(bob, 'list', 'trainingjobs.rigshift.io', workload)) === 'yes',
      30_000,
    );
    expect(await canI(bob, 'get', 'miningpools.rigshift.io', workload)).toBe('yes');
    expect(await canI(bob, 'get', 'trainingjobs.rigshift.io/status', workload)).toBe('yes');
    expect(await canI(bob, 'create', 'trainingjobs.rigshift.io', workload)).toBe('no');
    expect(await canI(bob, 'delete', 'miningpools.rigshift.io', workload)).toBe('no');
    expect(await canI(bob, 'get', 'jobgrants.rigshift.io', workload)).toBe('no');
  });
});
