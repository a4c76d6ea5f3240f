// What a renter can do with the built-in roles, measured on the local cluster with the chart's RBAC and its
// ValidatingAdmissionPolicy installed: users bound to edit, admin and view in one namespace (impersonated), and
// the operator's ServiceAccount. A renter submits TrainingJobs and reads their status; never writes a
// MiningPool or the FleetPolicy, never reads another namespace's jobs, never runs a pod at the rigshift
// priorities. The verb × resource matrix is printed at the end (and written to $RIGSHIFT_TENANCY_MATRIX).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { installChartRbac, renderChart, type ChartRbac } from '../../support/chart-rbac.js';
import { getTestCluster, waitFor, type TestCluster } from '../../support/cluster.js';

let c: TestCluster;
let farm: string; // release namespace: the operator, and the pool namespace
let renter: string; // where alice (edit), carol (admin) and bob (view) are bound
let other: string; // another renter's namespace
let rbac: ChartRbac;
let extra = ''; // aggregated roles, PriorityClasses, admission policy
let classes: { mining: string; training: string };
const users = { edit: 'alice', admin: 'carol', view: 'bob' } as const;

const pool = (namespace: string) => `
apiVersion: rigshift.io/v1alpha1
kind: MiningPool
metadata: {name: renter-pool, namespace: ${namespace}}
spec:
  coin: ETC
  algorithm: etchash
  stratum: {primary: 'stratum+tcp://evil.example:1010'}
  wallet: '0xrenter'
  miner: {image: 'miner:1'}
  gpuProfiles: [{product: NVIDIA-GeForce-RTX-3090, hashrate: 120M, miningWatts: 300, trainingWatts: 350, idleWatts: 20}]
  revenueUsdPerMhsDay: {value: '99'}
  electricityUsdPerKwh: {value: '0'}
`;
const job = (namespace: string, name = 'finetune') => `
apiVersion: rigshift.io/v1alpha1
kind: TrainingJob
metadata: {name: ${name}, namespace: ${namespace}}
spec: {image: 'train:1', replicas: 1, gpusPerReplica: 8, bidUsdPerGpuHour: '1.00'}
`;
const pod = (namespace: string, priorityClassName?: string, gpus?: number) =>
  yaml.dump({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `p-${Math.random().toString(16).slice(2, 8)}`, namespace },
    spec: {
      ...(priorityClassName ? { priorityClassName } : {}),
      containers: [
        {
          name: 'c',
          image: 'x:1',
          ...(gpus ? { resources: { limits: { 'nvidia.com/gpu': String(gpus) } } } : {}),
        },
      ],
    },
  });

/** kubectl as someone else (impersonation); the result, never a throw. */
const as = (user: string, args: string[], input?: string) =>
  c.kubectl([`--as=${user}`, ...args], { allowFail: true, ...(input ? { input } : {}) });
const forbidden = (r: { code: number; stderr: string }) => r.code !== 0 && /forbidden/i.test(r.stderr);

beforeAll(async () => {
  c = await getTestCluster();
  await c.installCrds();
  farm = await c.createNamespace('tenancy-farm');
  renter = await c.createNamespace('tenancy-a');
  other = await c.createNamespace('tenancy-b');
  rbac = await installChartRbac(c, { namespace: farm, workloadNamespaces: [renter] });
  // PriorityClass names of this test only: the policy binds cluster-wide, and other tests' operators use the
  // default names with other identities.
  classes = { mining: `${rbac.release}-mining`, training: `${rbac.release}-training` };
  extra = await renderChart(c, rbac.release, farm, [
    '--set',
    `priorityClasses.mining.name=${classes.mining},priorityClasses.training.name=${classes.training}`,
    '--set-json',
    `rbac.workloadNamespaces=${JSON.stringify([renter])}`,
    ...['aggregate-roles', 'priorityclasses', 'priorityclass-policy', 'gpu-policy', 'job-grants'].flatMap(
      (t) => ['--show-only', `templates/${t}.yaml`],
    ),
  ]);
  await c.kubectl(['apply', '--server-side', '--field-manager=rigshift-tenancy-test', '-f', '-'], {
    input: extra,
  });
  for (const [role, user] of Object.entries(users)) {
    await c.kubectl([
      'create',
      'rolebinding',
      `${user}-${role}`,
      `--clusterrole=${role}`,
      `--user=${user}`,
      '-n',
      renter,
    ]);
  }
  // Aggregation and the admission policy take a moment to be in force.
  await waitFor(
    'edit to include TrainingJobs',
    async () =>
      (
        await as(users.edit, ['auth', 'can-i', 'create', 'trainingjobs.rigshift.io', '-n', renter])
      ).stdout.trim() === 'yes',
    30_000,
  );
  await waitFor(
    'the admission policy to refuse a renter pod at the training priority',
    async () =>
      /reserved for the pods of the rigshift operator/.test(
        (await as(users.edit, ['create', '--dry-run=server', '-f', '-'], pod(renter, classes.training)))
          .stderr,
      ),
    30_000,
  );
  // A farm pool the renters will try to change.
  await c.kubectl(['apply', '--server-side', '-f', '-'], { input: pool(farm) });
}, 180_000);

afterAll(async () => {
  if (extra) await c.kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], { input: extra });
  await rbac?.cleanup();
  for (const ns of [farm, renter, other]) {
    if (ns) await c.kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  }
});

describe('a renter with edit in their namespace', () => {
  const alice = users.edit;

  it('cannot create, patch or delete a MiningPool, in their namespace or the farm’s', async () => {
    for (const ns of [renter, farm]) {
      const created = await as(alice, ['create', '-f', '-'], pool(ns));
      expect(forbidden(created)).toBe(true);
      expect(created.stderr).toMatch(/cannot create resource "miningpools"/);
    }
    const patched = await as(alice, [
      'patch',
      'miningpool',
      'renter-pool',
      '-n',
      farm,
      '--type=merge',
      '-p',
      '{"spec":{"wallet":"0xrenter2"}}',
    ]);
    expect(forbidden(patched)).toBe(true);
    const status = await as(alice, [
      'patch',
      'miningpool',
      'renter-pool',
      '-n',
      farm,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{}}',
    ]);
    expect(forbidden(status)).toBe(true);
    const deleted = await as(alice, ['delete', 'miningpool', 'renter-pool', '-n', farm, '--wait=false']);
    expect(forbidden(deleted)).toBe(true);
    expect(
      (await c.kubectl(['get', 'miningpool', 'renter-pool', '-n', farm, '-o', 'jsonpath={.spec.wallet}']))
        .stdout,
    ).toBe('0xrenter');
  });

  it('cannot create, patch or delete the FleetPolicy', async () => {
    const policy =
      'apiVersion: rigshift.io/v1alpha1\nkind: FleetPolicy\nmetadata: {name: default}\nspec: {dryRun: true}\n';
    expect(forbidden(await as(alice, ['create', '--dry-run=server', '-f', '-'], policy))).toBe(true);
    expect(
      forbidden(
        await as(alice, [
          'patch',
          'fleetpolicy',
          'default',
          '--type=merge',
          '-p',
          '{"spec":{"dryRun":true}}',
        ]),
      ),
    ).toBe(true);
    expect(forbidden(await as(alice, ['delete', 'fleetpolicy', 'default', '--dry-run=server']))).toBe(true);
  });

  it('cannot run a plain pod at either rigshift priority: the admission policy says why', async () => {
    for (const pc of [classes.training, classes.mining]) {
      const r = await as(alice, ['create', '-f', '-'], pod(renter, pc));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(
        `PriorityClass ${pc} is reserved for the pods of the rigshift operator (${rbac.username}): it decides ` +
          'which nodes mine and which train; submit a TrainingJob instead',
      );
    }
    // The same pod without the class is theirs to run: the policy refuses only the rigshift priorities.
    const plain = await as(alice, ['create', '--dry-run=server', '-f', '-'], pod(renter));
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
  });

  it('cannot run a plain pod that requests a GPU (it would outrank the miners): the GPU policy says why', async () => {
    const r = await as(alice, ['create', '-f', '-'], pod(renter, undefined, 8));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `pods in ${renter} get GPUs only through rigshift: the farm rents its GPUs through the market ` +
        `(${rbac.username} creates the training pods, or starts your batch/v1 Job created suspended with the ` +
        'rigshift.io/bid-usd-per-gpu-hour annotation), so submit a TrainingJob or such a Job with your bid instead',
    );
    // In a namespace that is no renter's (not in rbac.workloadNamespaces) the policy does not apply.
    const admin = await c.kubectl(['create', '--dry-run=server', '-f', '-'], {
      input: pod(farm, undefined, 8),
      allowFail: true,
    });
    expect(admin.stderr).toBe('');
  });

  it('cannot get them through a controller either: the ReplicaSet’s pods are refused', async () => {
    const deployment = yaml.dump({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'sneaky', namespace: renter },
      spec: {
        selector: { matchLabels: { app: 'sneaky' } },
        template: {
          metadata: { labels: { app: 'sneaky' } },
          spec: { priorityClassName: classes.training, containers: [{ name: 'c', image: 'x:1' }] },
        },
      },
    });
    const r = await as(alice, ['apply', '--server-side', '-f', '-'], deployment);
    expect(r.code).toBe(0);
    const failure = await waitFor(
      'the ReplicaSet to report that its pods are refused',
      async () => {
        const rs = JSON.parse(
          (await c.kubectl(['get', 'rs', '-n', renter, '-l', 'app=sneaky', '-o', 'json'])).stdout,
        ) as {
          items: { status?: { conditions?: { type: string; message: string }[] } }[];
        };
        return rs.items[0]?.status?.conditions?.find((x) => x.type === 'ReplicaFailure')?.message;
      },
      30_000,
    );
    expect(failure).toMatch(/reserved for the pods of the rigshift operator/);
    const pods = await c.kubectl(['get', 'pods', '-n', renter, '-l', 'app=sneaky', '-o', 'name']);
    expect(pods.stdout.trim()).toBe('');
  });

  it('gets GPUs through a batch Job only as the operator grants: listed in the grants, pinned to the granted nodes', async () => {
    const grants = (yaml.loadAll(extra) as { kind?: string; metadata?: { name?: string } }[]).find(
      (o) => o?.kind === 'JobGrants' && o.metadata?.name?.endsWith('-job-grants'),
    )?.metadata?.name;
    expect(grants).toBeDefined();
    const gpuJob = (name: string, nodes: string[], suspend: boolean) =>
      yaml.dump({
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name, namespace: renter },
        spec: {
          suspend,
          backoffLimit: 0,
          template: {
            spec: {
              restartPolicy: 'Never',
              affinity: {
                nodeAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [
                      {
                        matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: nodes }],
                      },
                    ],
                  },
                },
              },
              containers: [{ name: 'c', image: 'x:1', resources: { limits: { 'nvidia.com/gpu': '8' } } }],
            },
          },
        },
      });
    const failedCreate = (name: string) =>
      waitFor(
        `the Job controller to report ${name}'s pod refused`,
        async () => {
          const ev = JSON.parse(
            (
              await c.kubectl([
                'get',
                'events',
                '-n',
                renter,
                '--field-selector',
                `involvedObject.name=${name},reason=FailedCreate`,
                '-o',
                'json',
              ])
            ).stdout,
          ) as { items: { message: string }[] };
          return ev.items[0]?.message;
        },
        30_000,
      );
    const podsOf = async (name: string) =>
      (
        await c.kubectl([
          'get',
          'pods',
          '-n',
          renter,
          '-l',
          `batch.kubernetes.io/job-name=${name}`,
          '-o',
          'name',
        ])
      ).stdout.trim();
    const uidOf = async (name: string) =>
      (await c.kubectl(['get', 'job', name, '-n', renter, '-o', 'jsonpath={.metadata.uid}'])).stdout.trim();
    const grant = (uid: string, nodes: string[]) =>
      c.kubectl([
        'patch',
        'jobgrants',
        grants ?? '',
        '-n',
        farm,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { jobs: { [uid]: nodes } } }),
      ]);

    // The renter's own GPU Job: the Job controller's pod is refused.
    expect(
      (await as(alice, ['apply', '--server-side', '-f', '-'], gpuJob('own', ['gpu-a'], false))).code,
    ).toBe(0);
    expect(await failedCreate('own')).toMatch(/get GPUs only through rigshift/);
    expect(await podsOf('own')).toBe('');
    // Granted by the operator (here the test, as the farm admin) for gpu-a, pinned to gpu-a: the pod is created.
    expect(
      (await as(alice, ['apply', '--server-side', '-f', '-'], gpuJob('granted', ['gpu-a'], true))).code,
    ).toBe(0);
    await grant(await uidOf('granted'), ['gpu-a', 'gpu-b']);
    expect(
      (
        await as(alice, [
          'patch',
          'job',
          'granted',
          '-n',
          renter,
          '--type=merge',
          '-p',
          '{"spec":{"suspend":false}}',
        ])
      ).code,
    ).toBe(0);
    await waitFor('the granted Job’s pod', async () => (await podsOf('granted')) !== '', 30_000);
    // Granted, but pinned to a node it was not granted: refused.
    expect(
      (await as(alice, ['apply', '--server-side', '-f', '-'], gpuJob('astray', ['gpu-c'], true))).code,
    ).toBe(0);
    await grant(await uidOf('astray'), ['gpu-a']);
    expect(
      (
        await as(alice, [
          'patch',
          'job',
          'astray',
          '-n',
          renter,
          '--type=merge',
          '-p',
          '{"spec":{"suspend":false}}',
        ])
      ).code,
    ).toBe(0);
    expect(await failedCreate('astray')).toMatch(/get GPUs only through rigshift/);
    expect(await podsOf('astray')).toBe('');
    // And the renter can neither write nor read the grants, nor make grants of their own.
    expect(
      forbidden(
        await as(alice, [
          'patch',
          'jobgrants',
          grants ?? '',
          '-n',
          farm,
          '--type=merge',
          '-p',
          JSON.stringify({ spec: { jobs: { [await uidOf('own')]: ['gpu-a'] } } }),
        ]),
      ),
    ).toBe(true);
    expect(forbidden(await as(alice, ['get', 'jobgrants', '-n', farm]))).toBe(true);
    expect(
      forbidden(
        await as(
          alice,
          ['create', '-f', '-'],
          yaml.dump({
            apiVersion: 'rigshift.io/v1alpha1',
            kind: 'JobGrants',
            metadata: { name: grants, namespace: renter },
            spec: { jobs: { [await uidOf('own')]: ['gpu-a'] } },
          }),
        ),
      ),
    ).toBe(true);
  }, 90_000);

  it('cannot read another namespace’s TrainingJobs', async () => {
    await c.kubectl(['apply', '--server-side', '-f', '-'], { input: job(other, 'secret-project') });
    expect(forbidden(await as(alice, ['get', 'trainingjobs', '-n', other]))).toBe(true);
    expect(forbidden(await as(alice, ['get', 'trainingjob', 'secret-project', '-n', other]))).toBe(true);
    expect(forbidden(await as(alice, ['get', 'trainingjobs', '--all-namespaces']))).toBe(true);
  });

  it('creates a TrainingJob and reads its status, but cannot write the status', async () => {
    const created = await as(alice, ['apply', '--server-side', '-f', '-'], job(renter));
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    // Status as the operator writes it (its ServiceAccount may patch trainingjobs/status).
    const written = await as(rbac.username, [
      'patch',
      'trainingjob',
      'finetune',
      '-n',
      renter,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"state":"Queued","waitingReason":"needs 1 × 8 GPUs"}}',
    ]);
    expect(written.stderr).toBe('');
    const read = await as(alice, [
      'get',
      'trainingjob',
      'finetune',
      '-n',
      renter,
      '-o',
      'jsonpath={.status.state}: {.status.waitingReason}',
    ]);
    expect(read.stdout).toBe('Queued: needs 1 × 8 GPUs');
    const sub = await as(alice, [
      'get',
      'trainingjob',
      'finetune',
      '-n',
      renter,
      '--subresource=status',
      '-o',
      'jsonpath={.status.state}',
    ]);
    expect(sub.stdout).toBe('Queued');
    const forged = await as(alice, [
      'patch',
      'trainingjob',
      'finetune',
      '-n',
      renter,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"state":"Succeeded"}}',
    ]);
    expect(forbidden(forged)).toBe(true);
    expect(
      forbidden(await as(alice, ['delete', 'trainingjob', 'finetune', '-n', renter, '--dry-run=server'])),
    ).toBe(false);
  });
});

describe("the operator's ServiceAccount", () => {
  it('creates GPU pods at both rigshift priorities where it may create pods', async () => {
    for (const pc of [classes.mining, classes.training]) {
      const r = await as(rbac.username, ['create', '--dry-run=server', '-f', '-'], pod(renter, pc, 8));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// The matrix: SubjectAccessReviews for each role, plus the admission policy's verdict on pods.

interface Cell {
  verb: string;
  resource: string;
  namespace?: string | undefined;
  label: string;
}

const R = (resource: string) => `${resource}.rigshift.io`;
function rows(): Cell[] {
  const out: Cell[] = [];
  const add = (verbs: string[], resource: string, namespace: string | undefined, where: string) => {
    for (const verb of verbs)
      out.push({
        verb,
        resource,
        namespace,
        label: `${verb} ${resource.replace('.rigshift.io', '')} ${where}`,
      });
  };
  const rw = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
  add(rw, R('trainingjobs'), renter, '(own ns)');
  add(['get', 'update', 'patch'], R('trainingjobs/status'), renter, '(own ns)');
  add(['get', 'list', 'create', 'delete'], R('trainingjobs'), other, '(other ns)');
  add(rw, R('miningpools'), renter, '(own ns)');
  add(['get', 'update', 'patch'], R('miningpools/status'), renter, '(own ns)');
  add(['get', 'list', 'create', 'patch', 'delete'], R('miningpools'), farm, '(farm ns)');
  add(rw, R('fleetpolicies'), undefined, '(cluster)');
  add(['update', 'patch'], R('fleetpolicies/status'), undefined, '(cluster)');
  // The namespace's bill: readable by its renters, written by the operator only.
  add(rw, R('usagerecords'), renter, '(own ns)');
  add(['get', 'update', 'patch'], R('usagerecords/status'), renter, '(own ns)');
  add(['get', 'list'], R('usagerecords'), other, '(other ns)');
  return out;
}

async function allowed(user: string, cell: Cell): Promise<boolean> {
  const [resource, subresource] = cell.resource.replace('.rigshift.io', '').split('/');
  const authz = c.kc.makeApiClient(k8s.AuthorizationV1Api);
  const review = await authz.createSubjectAccessReview({
    body: {
      spec: {
        user,
        groups: ['system:authenticated'],
        resourceAttributes: {
          group: 'rigshift.io',
          resource: resource!,
          ...(subresource ? { subresource } : {}),
          verb: cell.verb,
          ...(cell.namespace ? { namespace: cell.namespace } : {}),
        },
      },
    },
  });
  return review.status?.allowed === true;
}

describe('the verb × resource matrix', () => {
  const columns: [string, string][] = [
    ['edit', users.edit],
    ['admin', users.admin],
    ['view', users.view],
  ];
  let table: Record<string, Record<string, boolean>> = {};

  beforeAll(async () => {
    table = {};
    await waitFor(
      'admin and view to include the rigshift roles',
      async () =>
        (await allowed(users.admin, {
          verb: 'create',
          resource: R('trainingjobs'),
          namespace: renter,
          label: '',
        })) &&
        (await allowed(users.view, {
          verb: 'get',
          resource: R('trainingjobs'),
          namespace: renter,
          label: '',
        })),
    );
    for (const cell of rows()) {
      table[cell.label] = {};
      const answers = await Promise.all(columns.map(([, user]) => allowed(user, cell)));
      columns.forEach(([role], i) => (table[cell.label]![role] = answers[i]!));
    }
    // The admission policy's verdict, by real requests (dry run): RBAC allows edit and admin to create pods.
    for (const pc of [classes.mining, classes.training]) {
      const label = `create pod with priorityClassName ${pc.endsWith('-mining') ? 'mining' : 'training'} (own ns)`;
      table[label] = {};
      for (const [role, user] of columns) {
        const r = await as(user, ['create', '--dry-run=server', '-f', '-'], pod(renter, pc));
        table[label]![role] = r.code === 0;
      }
    }
    for (const [label, gpus] of [
      ['create pod without GPU (own ns)', 0],
      ['create pod requesting nvidia.com/gpu (own ns)', 8],
    ] as const) {
      table[label] = {};
      for (const [role, user] of columns) {
        const r = await as(user, ['create', '--dry-run=server', '-f', '-'], pod(renter, undefined, gpus));
        table[label]![role] = r.code === 0;
      }
    }
  }, 120_000);

  afterAll(() => {
    const width = Math.max(...Object.keys(table).map((k) => k.length));
    const header = `${'verb resource (where)'.padEnd(width)}  ${columns.map(([r]) => r.padEnd(5)).join(' ')}`;
    const lines = Object.entries(table).map(
      ([label, cells]) =>
        `${label.padEnd(width)}  ${columns.map(([r]) => (cells[r] ? 'yes' : 'no').padEnd(5)).join(' ')}`,
    );
    const text = [header, ...lines].join('\n');
    if (process.env.RIGSHIFT_TENANCY_MATRIX) writeFileSync(process.env.RIGSHIFT_TENANCY_MATRIX, `${text}\n`);
    process.stdout.write(
      `\nWhat a renter may do (SubjectAccessReview; pods: real dry-run requests, RBAC then the admission policies):\n${text}\n`,
    );
  });

  it('lets edit and admin write TrainingJobs in their namespace only, read its UsageRecords, and nobody write the farm or a bill', () => {
    for (const [label, cells] of Object.entries(table)) {
      const tj = /^\S+ trainingjobs \(own ns\)$/.test(label) || label === 'create pod without GPU (own ns)';
      const read = /^(get|list|watch) /.test(label);
      const readable =
        read &&
        /(trainingjobs|miningpools|usagerecords) \(own ns\)|(trainingjobs|miningpools|usagerecords)\/status \(own ns\)/.test(
          label,
        );
      const expected = {
        edit: tj || readable,
        admin: tj || readable,
        view: readable,
      };
      expect({ label, ...cells }).toEqual({ label, ...expected });
    }
  });
});
