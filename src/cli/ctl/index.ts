import { KubeConfig, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { Command } from 'commander';
import yaml from 'js-yaml';
import {
  FLEET_POLICY_NAME,
  parseFleetPolicy,
  parseMiningPool,
  parseTrainingJob,
  type MiningPool,
  type TrainingJob,
} from '../../api/v1alpha1/index.js';
import { defaultPolicySpec, loadPolicyFile } from '../../controller/policy.js';
import { createKubeClient, type KubeClient } from '../../kube/client.js';
import { Kinds, resourcePath } from '../../kube/resources.js';
import { isNotFound } from '../../kube/rest.js';
import { queueView, quote, statusView, whyJob, whyNode, type ClusterView } from './views.js';

/** Where the chart installs the operator, whose pools it honours by default. */
const DEFAULT_POOL_NAMESPACE = 'rigshift-system';

/**
 * `kubectl rigshift ...` (the kubectl-rigshift executable) and `rigshift ctl ...`: the fleet at a glance, the
 * queue, quotes, why a node or a job is where it is, suspend and resume. Flags as kubectl has them.
 */

interface Global {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces?: boolean;
  output?: 'table' | 'json' | 'yaml';
  selector?: string;
  policyFile?: string;
  poolNamespace?: string[];
  watchNamespace?: string;
}

interface Ctx {
  client: KubeClient;
  namespace: string;
  all: boolean;
  output: 'table' | 'json' | 'yaml';
  selector: string;
  policyFile?: string;
  poolNamespaces: string[];
  /** The operator's --namespace: the only TrainingJobs its planner sees. */
  watchNamespace?: string;
}

function connect(g: Global): Ctx {
  const kc = new KubeConfig();
  if (g.kubeconfig) kc.loadFromFile(g.kubeconfig);
  else kc.loadFromDefault();
  if (g.context) kc.setCurrentContext(g.context);
  const ctxNs = kc.getContextObject(kc.getCurrentContext())?.namespace;
  const output = g.output ?? 'table';
  if (!['table', 'json', 'yaml'].includes(output))
    throw new Error(`-o must be json, yaml or table, not ${output}`);
  return {
    client: createKubeClient(kc),
    namespace: g.namespace ?? ctxNs ?? 'default',
    all: Boolean(g.allNamespaces),
    output,
    selector: g.selector ?? 'nvidia.com/gpu.product',
    poolNamespaces: g.poolNamespace?.length ? g.poolNamespace : [DEFAULT_POOL_NAMESPACE],
    ...(g.policyFile ? { policyFile: g.policyFile } : {}),
    ...(g.watchNamespace ? { watchNamespace: g.watchNamespace } : {}),
  };
}

async function list<T>(
  c: Ctx,
  kind: (typeof Kinds)[keyof typeof Kinds],
  query: Record<string, string> = {},
  namespace?: string,
): Promise<T[]> {
  const r = await c.client.rest.request<{ items: T[] }>({
    method: 'GET',
    path: resourcePath(kind, namespace ? { namespace } : {}),
    query,
  });
  return r.body.items;
}

/** Everything the views read; jobs of one namespace unless -A (the planner's view needs all for quotes). */
async function read(c: Ctx, allJobs: boolean): Promise<ClusterView> {
  const [nodes, pods, jobs, pools, policy] = await Promise.all([
    list<V1Node>(c, Kinds.Node, { labelSelector: c.selector }),
    list<V1Pod>(c, Kinds.Pod, {
      fieldSelector: 'spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed',
    }),
    list<unknown>(c, Kinds.TrainingJob, {}, c.watchNamespace ?? (allJobs || c.all ? undefined : c.namespace)),
    Promise.all(c.poolNamespaces.map((ns) => list<unknown>(c, Kinds.MiningPool, {}, ns))).then((l) =>
      l.flat(),
    ),
    c.client.rest
      .request({ method: 'GET', path: resourcePath(Kinds.FleetPolicy, { name: FLEET_POLICY_NAME }) })
      .then((r) => r.body)
      .catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      }),
  ]);
  const parsedPolicy = policy ? parseFleetPolicy(policy) : undefined;
  const names = new Set(nodes.map((n) => n.metadata?.name));
  return {
    nowMs: Date.now(),
    nodes,
    pods: pods.filter((p) => names.has(p.spec?.nodeName)),
    jobs: jobs.map(parseTrainingJob).flatMap((r) => (r.ok ? [r.value as TrainingJob] : [])),
    pools: pools.map(parseMiningPool).flatMap((r) => (r.ok ? [r.value as MiningPool] : [])),
    policy: c.policyFile
      ? loadPolicyFile(c.policyFile)
      : parsedPolicy?.ok
        ? parsedPolicy.value.spec
        : defaultPolicySpec(),
  };
}

function print(c: Ctx, data: unknown, table: () => string): void {
  if (c.output === 'json') console.log(JSON.stringify(data, null, 2));
  else if (c.output === 'yaml') console.log(yaml.dump(data, { lineWidth: 120 }).trimEnd());
  else console.log(table());
}

/** Aligned columns, kubectl style: upper-case headers, two spaces between columns. */
export function columns(header: string[], rows: (string | number)[][]): string {
  const all = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '))
    .join('\n');
}

const usd = (n: number | null): string => (n === null || !Number.isFinite(n) ? '-' : n.toFixed(2));

function splitRef(ref: string): { kind: 'node' | 'trainingjob'; name: string } {
  const [kind = '', name = ''] = ref.split('/');
  if (['node', 'nodes', 'no'].includes(kind) && name) return { kind: 'node', name };
  if (['tj', 'trainingjob', 'trainingjobs'].includes(kind) && name) return { kind: 'trainingjob', name };
  throw new Error(`expected node/NAME or tj/NAME, got '${ref}'`);
}

export function buildCtl(name: string): Command {
  const cmd = new Command(name)
    .description('rigshift for kubectl users: the fleet, the queue, quotes, why, suspend and resume')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context')
    .option('-n, --namespace <ns>', 'namespace of TrainingJobs (default: the context’s)')
    .option('-A, --all-namespaces', 'TrainingJobs of every namespace')
    .option('-o, --output <format>', 'table, json or yaml', 'table')
    .option('-l, --selector <labels>', 'GPU nodes to show', 'nvidia.com/gpu.product')
    .option('--policy-file <file>', 'the policy the operator runs with, if it runs with --policy-file')
    .option(
      '--pool-namespace <ns...>',
      `namespaces whose MiningPools the operator honours, as its --pool-namespace (default: ${DEFAULT_POOL_NAMESPACE})`,
    )
    .option(
      '--watch-namespace <ns>',
      'the operator’s --namespace, if it watches one namespace only: the jobs its planner sees (default: all)',
    );
  const ctx = (): Ctx => connect(cmd.opts<Global>());

  cmd
    .command('status')
    .description('the fleet at a glance: nodes by mode and product, yields, pending jobs, earnings rate')
    .action(async () => {
      const c = ctx();
      const s = statusView(await read(c, false));
      print(c, s, () =>
        [
          columns(
            ['PRODUCT', 'MODE', 'NODES', 'GPUS'],
            s.nodes.map((r) => [r.product, r.mode, r.nodes, r.gpus]),
          ),
          '',
          columns(
            ['POOL', 'PRODUCT', 'YIELD USD/GPU-H', 'KNOWN'],
            s.yields.map((y) => [
              y.pool,
              y.product,
              usd(y.usdPerGpuHour),
              y.known ? 'yes' : `no: ${y.reason}`,
            ]),
          ),
          '',
          `earning now  ${usd(s.rate.trainingUsdPerHour + s.rate.miningUsdPerHour)} USD/h (training ${usd(s.rate.trainingUsdPerHour)}, mining ${usd(s.rate.miningUsdPerHour)}); always-mine would earn ${usd(s.rate.alwaysMineUsdPerHour)} USD/h`,
          `earned by the jobs shown: ${usd(s.earnedUsd)} USD`,
          '',
          s.pending.length === 0
            ? 'no pending jobs'
            : columns(
                ['PENDING', 'GPUS', 'BID', 'REASON'],
                s.pending.map((p) => [p.job, p.gpus, usd(p.bid), p.reason]),
              ),
        ].join('\n'),
      );
    });

  cmd
    .command('queue')
    .description('pending jobs in the order they would be placed, each with why it waits')
    .action(async () => {
      const c = ctx();
      const rows = queueView(await read(c, false));
      print(c, rows, () =>
        rows.length === 0
          ? 'no pending jobs'
          : columns(
              ['#', 'JOB', 'TIER', 'GPUS', 'BID', 'WAITING', 'REASON'],
              rows.map((r) => [r.position, r.job, r.tier, r.gpus, usd(r.bid), r.waiting, r.reason]),
            ),
      );
    });

  cmd
    .command('quote')
    .description('the bid that would place a job of N GPUs now')
    .requiredOption('--gpus <n>', 'GPUs in all', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--gpus must be a positive integer, got ${v}`);
      return n;
    })
    .option('--product <p>', 'GPU product, e.g. NVIDIA-GeForce-RTX-4090')
    .option('--tier <t>', 'OnDemand or Interruptible', 'OnDemand')
    .action(async (o: { gpus: number; product?: string; tier: string }) => {
      if (o.tier !== 'OnDemand' && o.tier !== 'Interruptible')
        throw new Error(`--tier must be OnDemand or Interruptible`);
      const c = ctx();
      const q = quote(await read(c, true), {
        gpus: o.gpus,
        tier: o.tier,
        ...(o.product ? { product: o.product } : {}),
      });
      print(c, q, () =>
        q.bidUsdPerGpuHour === null
          ? `no bid places ${q.replicas} × ${q.gpusPerReplica} GPUs now: ${q.reason}`
          : `a ${q.tier} job of ${q.replicas} × ${q.gpusPerReplica} GPUs${q.product ? ` on ${q.product}` : ''} is placed now at a bid of ${usd(q.bidUsdPerGpuHour)} USD/GPU-hour or more\n  ${q.placement}`,
      );
    });

  cmd
    .command('why <ref>')
    .description(
      'why node/NAME is in its mode, or why tj/NAME is where it is: the planner’s reason and numbers',
    )
    .action(async (ref: string) => {
      const c = ctx();
      const r = splitRef(ref);
      if (r.kind === 'node') {
        const v = await read(c, true);
        const node = await c.client.rest.request<V1Node>({
          method: 'GET',
          path: resourcePath(Kinds.Node, { name: r.name }),
        });
        const w = whyNode(v, node.body);
        print(c, w, () => columns(['FIELD', 'VALUE'], w.lines));
      } else {
        const res = await c.client.rest.request({
          method: 'GET',
          path: resourcePath(Kinds.TrainingJob, { namespace: c.namespace, name: r.name }),
        });
        const parsed = parseTrainingJob(res.body);
        if (!parsed.ok) throw new Error(`trainingjob ${r.name} does not parse: ${parsed.error}`);
        const w = whyJob(parsed.value);
        print(c, w, () => columns(['FIELD', 'VALUE'], w.lines));
      }
    });

  for (const [verb, suspend] of [
    ['suspend', true],
    ['resume', false],
  ] as const) {
    cmd
      .command(`${verb} <ref>`)
      .description(
        suspend
          ? 'stop tj/NAME’s pods (checkpoint grace) and free its GPUs'
          : 'let tj/NAME be queued and placed again',
      )
      .action(async (ref: string) => {
        const c = ctx();
        const r = splitRef(ref);
        if (r.kind !== 'trainingjob') throw new Error(`${verb} takes tj/NAME`);
        await c.client.rest.request({
          method: 'PATCH',
          path: resourcePath(Kinds.TrainingJob, { namespace: c.namespace, name: r.name }),
          contentType: 'application/merge-patch+json',
          body: { spec: { suspend } },
        });
        console.log(`trainingjob.rigshift.io/${r.name} ${suspend ? 'suspended' : 'resumed'}`);
      });
  }
  return cmd;
}

export function registerCtl(program: Command): void {
  program.addCommand(buildCtl('ctl'));
}
