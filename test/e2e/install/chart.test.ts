// The Helm chart and the kustomize manifests: lint, render, schema errors, server-side dry run against the
// local cluster, and the kustomize overlay describing the same objects as the chart's defaults.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { CHART_DIR, renderChart } from '../../support/chart-rbac.js';
import { getTestCluster, run, uniqueSuffix, type TestCluster } from '../../support/cluster.js';

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
};

const ROOT = process.cwd();
const CRD_DIR = join(ROOT, 'crds');

let c: TestCluster;
let ns: string;

const parseAll = (text: string): Obj[] => yaml.loadAll(text).filter((o): o is Obj => Boolean(o));
const keyOf = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const byKey = (objs: Obj[]) => new Map(objs.map((o) => [keyOf(o), o]));
const find = (objs: Obj[], kind: string, name?: string): Obj => {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind} ${name ?? ''} rendered`);
  return o;
};

beforeAll(async () => {
  c = await getTestCluster();
  ns = await c.createNamespace('install-chart');
  await c.kubectl([
    'apply',
    '--server-side',
    '--force-conflicts',
    '--field-manager=rigshift-crds',
    '-f',
    CRD_DIR,
  ]);
  await c.kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', CRD_DIR]);
}, 120_000);

describe('helm lint and template', () => {
  it('lints cleanly with the defaults and with every optional part switched on', async () => {
    const plain = await c.helm(['lint', '--strict', CHART_DIR]);
    expect(plain.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    const all = await c.helm([
      'lint',
      '--strict',
      CHART_DIR,
      '--set',
      'metrics.serviceMonitor.enabled=true,networkPolicy.enabled=true,rbac.workloadNamespaces={a,b},' +
        'prometheusRule.enabled=true,grafanaDashboard.enabled=true',
    ]);
    expect(all.stdout).toMatch(/0 chart\(s\) failed/);
  });

  it('prints install notes naming the Lease and the namespaces where the operator may write pods', async () => {
    const r = await c.helm([
      'install',
      'rigshift',
      CHART_DIR,
      '--namespace',
      'ops',
      '--dry-run=client',
      '--set',
      'rbac.workloadNamespaces={mining,team-a}',
    ]);
    const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
    expect(notes).toMatch(/get lease rigshift /);
    expect(notes).toMatch(/^ {2}ops, mining, team-a$/m);
  });

  it('renders the operator as designed: two leader-electing replicas, probes, hardened, least privilege', async () => {
    const objs = parseAll(await renderChart(c, 'rigshift', 'rigshift-system'));
    expect(objs.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole', // operator
        'ClusterRole', // workloads (pod writes)
        'ClusterRole', // aggregate-to-edit
        'ClusterRole', // aggregate-to-view
        'ClusterRole', // price-secrets (get, bound per namespace)
        'ClusterRole', // metrics-reader (bound to metrics.readers, none by default)
        'ClusterRole', // farm-admin (MiningPool and FleetPolicy writes, bound by no one)
        'ClusterRoleBinding',
        'CustomResourceDefinition', // fleetpolicies
        'CustomResourceDefinition', // jobgrants
        'CustomResourceDefinition', // miningpools
        'CustomResourceDefinition', // trainingjobs
        'CustomResourceDefinition', // usagerecords
        'Deployment',
        'FleetPolicy',
        'JobGrants', // the batch Jobs the renter GPU policy lets the Job controller give GPUs
        'NetworkPolicy',
        'PodDisruptionBudget',
        'PriorityClass',
        'PriorityClass',
        'Role',
        'RoleBinding', // leader election
        'RoleBinding', // workloads in the release namespace
        'RoleBinding', // price-secrets in the release namespace
        'Service',
        'ServiceAccount',
        'ValidatingAdmissionPolicy', // the PriorityClasses are the operator's
        'ValidatingAdmissionPolicyBinding',
      ].sort(),
    );

    const deploy = find(objs, 'Deployment') as Obj & { spec: Json };
    expect(deploy.spec.replicas).toBe(2);
    const pod = (deploy.spec.template as Json).spec as Json;
    const container = (pod.containers as Json[])[0] as Json;
    expect(container.args).toEqual(
      expect.arrayContaining([
        'run',
        '--leader-elect',
        '--metrics-address=:8080',
        '--identity=$(POD_NAME)',
        '--pool-namespace=rigshift-system',
      ]),
    );
    // /metrics behind Kubernetes auth by default; renters' bids not exported unless turned on.
    expect(container.args).toContain('--metrics-auth=kubernetes');
    expect(container.args).not.toContain('--metrics-job-bids');
    const operatorRole = find(objs, 'ClusterRole', 'rigshift') as Obj & { rules: Rule[] };
    expect(operatorRole.rules).toEqual(
      expect.arrayContaining([
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
      ]),
    );
    expect(((container.livenessProbe as Json).httpGet as Json).path).toBe('/healthz');
    expect(((container.readinessProbe as Json).httpGet as Json).path).toBe('/readyz');
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.resources).toMatchObject({ requests: { cpu: '100m', memory: '256Mi' } });
    expect(pod.serviceAccountName).toBe(find(objs, 'ServiceAccount').metadata.name);

    const pdb = find(objs, 'PodDisruptionBudget') as Obj & { spec: Json };
    expect(pdb.spec.selector).toEqual((deploy.spec as Json).selector);
    // An operator that is not Ready (no valid FleetPolicy) must not block node drains.
    expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');

    const mining = find(objs, 'PriorityClass', 'rigshift-mining') as Obj & Json;
    const training = find(objs, 'PriorityClass', 'rigshift-training') as Obj & Json;
    expect(mining).toMatchObject({ preemptionPolicy: 'Never', globalDefault: false });
    expect(training).toMatchObject({ preemptionPolicy: 'PreemptLowerPriority', value: 100000 });
    expect(mining.value as number).toBeLessThan(training.value as number);
    const policy = find(objs, 'FleetPolicy', 'default') as Obj & { spec: Json };
    expect(policy.spec.priorityClasses).toEqual({ mining: 'rigshift-mining', training: 'rigshift-training' });

    // No wildcards, no Secrets, and pods are written only through the namespaced workloads binding.
    const rules = objs
      .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
      .flatMap((o) => (o as Obj & { rules: Rule[] }).rules);
    for (const r of rules.filter((x) => x.nonResourceURLs))
      expect(r).toEqual({ nonResourceURLs: ['/metrics'], verbs: ['get'] });
    for (const r of rules.filter((x) => !x.nonResourceURLs)) {
      expect([...r.apiGroups, ...r.resources, ...r.verbs]).not.toContain('*');
      // Secrets: get only (a price feed's API key, by name), never list or watch.
      if (r.resources.includes('secrets'))
        expect(r).toEqual({ apiGroups: [''], resources: ['secrets'], verbs: ['get'] });
    }
    const secretRoles = objs.filter(
      (o) =>
        o.kind === 'ClusterRole' &&
        (o as Obj & { rules: Rule[] }).rules.some((r) => r.resources?.includes('secrets')),
    );
    expect(secretRoles.map((o) => o.metadata.name)).toEqual(['rigshift-price-secrets']);
    const secretBindings = objs.filter(
      (o) => (o as Obj & { roleRef?: { name: string } }).roleRef?.name === 'rigshift-price-secrets',
    );
    expect(secretBindings.map((o) => `${o.kind}/${o.metadata.namespace}`)).toEqual([
      'RoleBinding/rigshift-system',
    ]);
    expect(objs.filter((o) => o.kind === 'ClusterRoleBinding')).toHaveLength(1);

    // Renters (edit, admin) write TrainingJobs only: no aggregated role writes MiningPools or FleetPolicies.
    const aggregated = objs.filter((o) =>
      Object.keys(o.metadata.labels ?? {}).some((l) =>
        l.startsWith('rbac.authorization.k8s.io/aggregate-to-'),
      ),
    );
    expect(aggregated.map((o) => o.metadata.name).sort()).toEqual(['rigshift-edit', 'rigshift-view']);
    for (const r of aggregated.flatMap((o) => (o as Obj & { rules: Rule[] }).rules)) {
      const writes = r.verbs.filter((v) => !['get', 'list', 'watch'].includes(v));
      if (writes.length > 0) expect(r.resources).toEqual(['trainingjobs']);
    }
  });

  it('honours MiningPools in the pool namespaces and lets the operator start miners there', async () => {
    const objs = parseAll(
      await renderChart(c, 'rigshift', 'ops', [
        '--set',
        'operator.poolNamespaces={farm-a,farm-b},rbac.workloadNamespaces={team-a}',
      ]),
    );
    const deploy = find(objs, 'Deployment') as Obj & { spec: Json };
    const container = (((deploy.spec.template as Json).spec as Json).containers as Json[])[0] as Json;
    expect(container.args).toContain('--pool-namespace=farm-a,farm-b');
    const podWriters = objs
      .filter((o) => o.kind === 'RoleBinding' && o.metadata.name.endsWith('-workloads'))
      .map((o) => o.metadata.namespace);
    expect(podWriters).toEqual(['ops', 'farm-a', 'farm-b', 'team-a']);
  });

  it('refuses renter pods at the rigshift priorities unless the operator creates them', async () => {
    const objs = parseAll(
      await renderChart(c, 'rig', 'ops', ['--set', 'priorityClasses.training.name=gpu-rent']),
    );
    const policy = find(objs, 'ValidatingAdmissionPolicy') as Obj & { spec: Json };
    const spec = policy.spec as {
      matchConditions: { expression: string }[];
      validations: { expression: string }[];
    };
    expect(spec.matchConditions[0]?.expression).toContain('["rigshift-mining","gpu-rent"]');
    expect(spec.validations[0]?.expression).toBe(
      "request.userInfo.username == 'system:serviceaccount:ops:rig-rigshift'",
    );
    const binding = find(objs, 'ValidatingAdmissionPolicyBinding') as Obj & { spec: Json };
    expect(binding.spec).toEqual({ policyName: policy.metadata.name, validationActions: ['Deny'] });
    const off = parseAll(
      await renderChart(c, 'rig', 'ops', ['--set', 'priorityClasses.admissionPolicy=false']),
    );
    expect(off.filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'))).toEqual([]);
  });

  it('refuses renter pods that request GPUs in the renter namespaces only (never the farm’s)', async () => {
    const render = async (set: string) =>
      parseAll(
        await renderChart(c, 'rig', 'ops', ['--set', set, '--show-only', 'templates/gpu-policy.yaml']),
      );
    const objs = await render('rbac.workloadNamespaces={team-a,farm-b},operator.poolNamespaces={farm-b}');
    const binding = find(objs, 'ValidatingAdmissionPolicyBinding') as Obj & { spec: Json };
    expect((binding.spec.matchResources as Json).namespaceSelector).toEqual({
      matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['team-a'] }],
    });
    const policy = find(objs, 'ValidatingAdmissionPolicy') as Obj & { spec: Json };
    expect(JSON.stringify(policy.spec)).toContain("'system:serviceaccount:ops:rig-rigshift'");
    const everywhere = await render('rbac.allNamespaces=true');
    const wide = find(everywhere, 'ValidatingAdmissionPolicyBinding') as Obj & { spec: Json };
    expect((wide.spec.matchResources as Json).namespaceSelector).toEqual({
      matchExpressions: [
        {
          key: 'kubernetes.io/metadata.name',
          operator: 'NotIn',
          values: ['ops', 'kube-system', 'kube-public', 'kube-node-lease'],
        },
      ],
    });
    // No renter namespace, nothing to guard (the release namespace is the farm's).
    const none = await c.helm(
      ['template', 'rig', CHART_DIR, '-n', 'ops', '--show-only', 'templates/gpu-policy.yaml'],
      {
        allowFail: true,
      },
    );
    expect(none.stderr).toMatch(/could not find template/);
  });

  it('renders the optional ServiceMonitor and NetworkPolicy against the metrics Service and port', async () => {
    const objs = parseAll(
      await renderChart(c, 'rigshift', 'ops', [
        '--set',
        'metrics.serviceMonitor.enabled=true,networkPolicy.enabled=true',
      ]),
    );
    const service = find(objs, 'Service') as Obj & { spec: { selector: Json; ports: Json[] } };
    const monitor = find(objs, 'ServiceMonitor') as Obj & { spec: { selector: Json; endpoints: Json[] } };
    expect(monitor.spec.selector).toEqual({ matchLabels: service.spec.selector });
    for (const [k, v] of Object.entries(service.spec.selector)) expect(service.metadata.labels?.[k]).toBe(v);
    expect(monitor.spec.endpoints[0]?.port).toBe(service.spec.ports[0]?.name);
    expect(monitor.spec.endpoints[0]?.bearerTokenFile).toBe(
      '/var/run/secrets/kubernetes.io/serviceaccount/token',
    );
    const policy = find(objs, 'NetworkPolicy') as Obj & { spec: { podSelector: Json; ingress: Json[] } };
    expect(policy.spec.podSelector).toEqual({ matchLabels: service.spec.selector });
    expect(policy.spec.ingress).toEqual([{ ports: [{ port: 'metrics', protocol: 'TCP' }] }]);
  });

  it('ships the CRDs of crds/ as templates, kept on uninstall, and can leave them out', async () => {
    const crdsOf = async (args: string[] = []) =>
      parseAll(await renderChart(c, 'rigshift', 'ops', args)).filter(
        (o) => o.kind === 'CustomResourceDefinition',
      ) as (Obj & { metadata: { annotations?: Record<string, string> }; spec: Json })[];
    const rendered = await crdsOf();
    const sources = readdirSync(CRD_DIR).map((f) => yaml.load(readFileSync(join(CRD_DIR, f), 'utf8')) as Obj);
    expect(rendered.map((o) => o.metadata.name).sort()).toEqual(sources.map((o) => o.metadata.name).sort());
    for (const crd of rendered) {
      const source = sources.find((o) => o.metadata.name === crd.metadata.name)!;
      expect(crd.spec).toEqual(source.spec);
      expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    }
    for (const crd of await crdsOf(['--set', 'crds.keep=false']))
      expect(crd.metadata.annotations).toBeUndefined();
    expect(await crdsOf(['--set', 'crds.enabled=false'])).toEqual([]);
  });

  it('packages into an archive (helm package) that renders exactly as the chart directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rigshift-package-'));
    try {
      const r = await c.helm(['package', CHART_DIR, '--destination', dir]);
      const archive = join(dir, 'rigshift-0.1.0.tgz');
      expect(r.stdout).toContain(archive);
      expect(existsSync(archive)).toBe(true);
      const args = ['--set', 'prometheusRule.enabled=true,grafanaDashboard.enabled=true'];
      const fromArchive = await c.helm(['template', 'rigshift', archive, '--namespace', 'ops', ...args]);
      expect(fromArchive.stdout).toBe(await renderChart(c, 'rigshift', 'ops', args));
      expect(parseAll(fromArchive.stdout).filter((o) => o.kind === 'CustomResourceDefinition')).toHaveLength(
        5,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes the GPU-node selector and the watched namespace from plain values', async () => {
    const deploy = find(
      parseAll(
        await renderChart(c, 'rigshift', 'ops', [
          '--set-string',
          'operator.gpuNodeSelector=farm in (west\\,east),operator.watchNamespace=team-a',
        ]),
      ),
      'Deployment',
    ) as Obj & { spec: { template: { spec: { containers: { args: string[] }[] } } } };
    expect(deploy.spec.template.spec.containers[0]?.args).toEqual(
      expect.arrayContaining(['--node-selector=farm in (west,east)', '--namespace=team-a']),
    );
  });

  it('renders the alerts (off by default) with their thresholds from values, and the Grafana dashboard ConfigMap', async () => {
    const plain = parseAll(await renderChart(c, 'rigshift', 'ops'));
    expect(plain.filter((o) => o.kind === 'PrometheusRule' || o.kind === 'ConfigMap')).toEqual([]);
    const objs = parseAll(
      await renderChart(c, 'rigshift', 'ops', [
        '--set',
        'prometheusRule.enabled=true,prometheusRule.gangWaitSeconds=7200,prometheusRule.noLeaderFor=2m,' +
          'prometheusRule.labels.release=kps,grafanaDashboard.enabled=true,grafanaDashboard.namespace=monitoring',
      ]),
    );
    type Rules = { spec: { groups: { rules: { alert: string; expr: string; for?: string }[] }[] } };
    const rule = find(objs, 'PrometheusRule') as Obj & Rules;
    expect(rule.metadata.labels?.release).toBe('kps');
    const rules = rule.spec.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toHaveLength(7);
    const byName = new Map(rules.map((r) => [r.alert, r]));
    expect(byName.get('RigshiftNoLeader')).toMatchObject({
      expr: '(sum(rigshift_leader{namespace="ops"}) or vector(0)) < 1',
      for: '2m',
    });
    expect(byName.get('RigshiftGangWaiting')?.expr).toBe(
      'max by (job_namespace) (rigshift_pending_job_max_wait_seconds{namespace="ops"}) > 7200',
    );
    for (const r of rules) expect(`${r.alert}: ${r.expr}`).not.toMatch(/\{\{|<no value>/);
    const dashboard = find(objs, 'ConfigMap') as Obj & { data: Record<string, string> };
    expect(dashboard.metadata.namespace).toBe('monitoring');
    expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
    const source = readFileSync(join(ROOT, 'dashboards', 'rigshift.json'), 'utf8');
    expect(JSON.parse(dashboard.data['rigshift.json'] ?? '')).toEqual(JSON.parse(source));
  });

  it('restricts egress by default to the API server and DNS, plus public 443 once price hosts are allowed', async () => {
    type Egress = { to: Json[]; ports: { port: number; protocol: string }[] }[];
    const egressOf = async (args: string[]) => {
      const objs = parseAll(await renderChart(c, 'rigshift', 'ops', args));
      const policy = find(objs, 'NetworkPolicy') as Obj & { spec: { policyTypes: string[]; egress: Egress } };
      expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      return policy.spec.egress;
    };
    const plain = await egressOf([]);
    expect(plain.map((e) => e.ports.map((p) => `${p.port}/${p.protocol}`).join(','))).toEqual([
      '443/TCP,6443/TCP',
      '53/UDP,53/TCP',
    ]);
    const feeds = await egressOf(['--set', 'priceSources.allowedHosts={prices.example.com}']);
    expect(feeds).toHaveLength(3);
    const feed = feeds[2]!;
    expect(feed.ports).toEqual([{ port: 443, protocol: 'TCP' }]);
    const v4 = (feed.to[0] as { ipBlock: { cidr: string; except: string[] } }).ipBlock;
    expect(v4.cidr).toBe('0.0.0.0/0');
    expect(v4.except).toEqual(
      expect.arrayContaining([
        '10.0.0.0/8',
        '172.16.0.0/12',
        '192.168.0.0/16',
        '169.254.0.0/16',
        '127.0.0.0/8',
      ]),
    );
    const deploy = find(
      parseAll(
        await renderChart(c, 'rigshift', 'ops', [
          '--set',
          'priceSources.allowedHosts={prices.example.com,*.feeds.example.org},priceSources.allowHttpHosts={prices.example.com}',
        ]),
      ),
      'Deployment',
    ) as Obj & { spec: { template: { spec: { containers: { args: string[] }[] } } } };
    expect(deploy.spec.template.spec.containers[0]?.args).toEqual(
      expect.arrayContaining([
        '--price-allowed-hosts=prices.example.com,*.feeds.example.org',
        '--price-allow-http-hosts=prices.example.com',
      ]),
    );
  });
});

type Json = Record<string, unknown>;
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; nonResourceURLs?: string[] };

describe('values.schema.json and the chart checks reject bad values with a message naming the value', () => {
  const cases: [string, string[], RegExp][] = [
    ['a string for a number', ['--set', 'replicaCount=two'], /at '\/replicaCount': got string, want integer/],
    [
      'a misspelt key',
      ['--set', 'fleetPolicy.spec.hysteresis=5'],
      /'\/fleetPolicy\/spec'.*'hysteresis' not allowed/,
    ],
    [
      'hysteresis over 100 %',
      ['--set', 'fleetPolicy.spec.hysteresisPercent=150'],
      /hysteresisPercent': maximum/,
    ],
    [
      'a drain percentage of 0',
      ['--set-string', 'fleetPolicy.spec.maxConcurrentDrains=0%'],
      /maxConcurrentDrains': .*'0%' does not match/s,
    ],
    [
      'a floor price with a sign',
      ['--set-string', 'fleetPolicy.spec.floorRentalUsdPerGpuHour=-0.20'],
      /floorRentalUsdPerGpuHour/,
    ],
    [
      'an unknown drain timeout policy',
      ['--set', 'fleetPolicy.spec.drainTimeoutPolicy=Retry'],
      /one of 'Wait'/,
    ],
    [
      'a PriorityClass name that is no DNS name',
      ['--set', 'priorityClasses.mining.name=Mining_Low'],
      /mining\/name/,
    ],
    [
      'a memory size in MB',
      ['--set', 'resources.requests.memory=256MB'],
      /resources\/requests\/memory': '256MB'/,
    ],
    ['an unknown log level', ['--set', 'operator.logLevel=verbose'], /operator\/logLevel/],
    [
      'two replicas without leader election',
      ['--set', 'operator.leaderElect=false'],
      /replicaCount is 2 but operator.leaderElect is false/,
    ],
    [
      'mining priority above training',
      ['--set', 'priorityClasses.mining.value=200000'],
      /priorityClasses.mining.value \(200000\) must be lower than priorityClasses.training.value/,
    ],
    [
      'kube-system as a pool namespace',
      ['--set', 'operator.poolNamespaces={kube-system}'],
      /operator.poolNamespaces must not contain kube-system/,
    ],
    [
      'kube-system as a workload namespace',
      ['--set', 'rbac.workloadNamespaces={kube-system}'],
      /rbac.workloadNamespaces must not contain kube-system/,
    ],
  ];

  it.each(cases)('%s', async (_what, args, message) => {
    const r = await c.helm(['template', 'x', CHART_DIR, ...args], { allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('accepts the same values when they are right (the cases above fail for their stated reason)', async () => {
    const r = await c.helm([
      'template',
      'x',
      CHART_DIR,
      '--set',
      'replicaCount=3,fleetPolicy.spec.hysteresisPercent=100,fleetPolicy.spec.maxConcurrentDrains=4',
      '--set-string',
      'fleetPolicy.spec.floorRentalUsdPerGpuHour=0.20,resources.requests.memory=256Mi',
      '--set',
      'operator.logLevel=debug,rbac.workloadNamespaces={mining}',
    ]);
    const policy = find(parseAll(r.stdout), 'FleetPolicy') as Obj & { spec: Json };
    expect(policy.spec).toMatchObject({ maxConcurrentDrains: 4, floorRentalUsdPerGpuHour: '0.20' });
  });
});

describe('server-side dry run', () => {
  async function dryRun(manifests: string) {
    return c.kubectl(
      [
        'apply',
        '--server-side',
        '--dry-run=server',
        '--force-conflicts',
        '--field-manager=rigshift-install-test',
        '-f',
        '-',
      ],
      { input: manifests, allowFail: true },
    );
  }

  it('accepts every object the chart renders with its defaults (the FleetPolicy through the CRD)', async () => {
    const manifests = await renderChart(c, `rigshift-${uniqueSuffix()}`, ns);
    const r = await dryRun(manifests);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const applied = r.stdout.split('\n').filter((l) => l.includes('(server dry run)'));
    expect(applied).toHaveLength(parseAll(manifests).length);
    expect(r.stdout).toMatch(/fleetpolicy.rigshift.io\/default serverside-applied/);
  });

  it('accepts the NetworkPolicy and extra workload namespaces too', async () => {
    const manifests = await renderChart(c, `rigshift-${uniqueSuffix()}`, ns, [
      '--set',
      `networkPolicy.enabled=true,rbac.workloadNamespaces={default}`,
    ]);
    const r = await dryRun(manifests);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/networkpolicy.networking.k8s.io\/\S+ serverside-applied/);
    expect(r.stdout).toMatch(/rolebinding.rbac.authorization.k8s.io\/\S+-workloads serverside-applied/);
  });

  it('is refused by the API server when the FleetPolicy breaks a CRD rule the schema cannot see', async () => {
    // A hand edit of the rendered output (not through values): the CRD is the last line of defence.
    const manifests = (await renderChart(c, `rigshift-${uniqueSuffix()}`, ns)).replace(
      'maxConcurrentDrains: 10%',
      'maxConcurrentDrains: 0',
    );
    const r = await dryRun(manifests);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/maxConcurrentDrains/);
  });
});

describe('kustomize', () => {
  async function kustomize(overlay: string): Promise<Obj[]> {
    return parseAll((await c.kubectl(['kustomize', join(ROOT, 'deploy', 'overlays', overlay)])).stdout);
  }

  /** The chart's defaults as the base was generated from them (Helm's bookkeeping labels aside). */
  async function chartDefaults(): Promise<Obj[]> {
    const text = await renderChart(c, 'rigshift', 'rigshift-system', ['--include-crds']);
    return parseAll(text).map((o) => {
      for (const labels of [
        o.metadata.labels,
        (o as { spec?: { template?: Obj } }).spec?.template?.metadata.labels,
      ]) {
        if (!labels) continue;
        delete labels['helm.sh/chart'];
        if (labels['app.kubernetes.io/managed-by'] === 'Helm')
          labels['app.kubernetes.io/managed-by'] = 'kustomize';
      }
      return o;
    });
  }

  it('the production overlay describes the same objects as the chart defaults, plus the namespace', async () => {
    const fromKustomize = byKey(await kustomize('production'));
    const fromChart = byKey(await chartDefaults());
    expect(fromKustomize.get('Namespace//rigshift-system')).toBeDefined();
    fromKustomize.delete('Namespace//rigshift-system');
    expect([...fromKustomize.keys()].sort()).toEqual([...fromChart.keys()].sort());
    for (const [key, obj] of fromChart) expect({ key, obj: fromKustomize.get(key) }).toEqual({ key, obj });
  });

  it('the base is up to date with the chart and the Argo CD scripts (node deploy/generate.mjs --check)', async () => {
    const helm = (await import('../../../src/local/tools.js')).ensureTools().helm;
    const r = await run(process.execPath, [join(ROOT, 'deploy', 'generate.mjs'), '--check'], {
      ...process.env,
      HELM: helm,
    });
    expect(r.stderr).toMatch(/up to date/);
    expect(r.code).toBe(0);
  });

  it('the dry-run overlay differs from production only in FleetPolicy spec.dryRun', async () => {
    const prod = byKey(await kustomize('production'));
    const dry = byKey(await kustomize('dry-run'));
    const policy = dry.get('FleetPolicy//default') as Obj & { spec: Json };
    expect(policy.spec.dryRun).toBe(true);
    (policy.spec as Json).dryRun = false;
    expect(dry).toEqual(prod);
  });

  it('applies with a server-side dry run', async () => {
    const r = await c.kubectl(
      [
        'apply',
        '--server-side',
        '--dry-run=server',
        '--force-conflicts',
        '--field-manager=rigshift-install-test',
        '-k',
        join(ROOT, 'deploy', 'overlays', 'production'),
      ],
      { allowFail: true },
    );
    // The rigshift-system namespace does not exist in the test cluster, so namespaced objects are refused
    // for that reason only; everything cluster-scoped (CRDs, RBAC, PriorityClasses, FleetPolicy) goes through.
    const refused = r.stderr
      .split('\n')
      .filter((l) => l.trim() && !/namespaces "rigshift-system" not found/.test(l));
    expect(refused).toEqual([]);
    expect(r.stdout).toMatch(/clusterrole.rbac.authorization.k8s.io\/rigshift serverside-applied/);
    expect(r.stdout).toMatch(/fleetpolicy.rigshift.io\/default serverside-applied/);
  });
});
