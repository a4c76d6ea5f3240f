import { Option, type Command } from 'commander';
import { z } from 'zod';
import { DEFAULT_MANAGER_OPTIONS } from '../controller/manager.js';
import { parseHostList } from '../economics/sources/egress.js';
import { runOperator } from '../main.js';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const namespaceName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'not a namespace name');
const seconds = (what: string) => z.coerce.number().int(`${what} must be whole seconds`).min(1).max(3600);
/** Comma-separated host names or IP literals (`*.example.com` and `*` in the allowlist only). */
const hostList = (what: string, wildcards: boolean) =>
  z
    .string()
    .optional()
    .transform((s) => parseHostList(s))
    .refine(
      (hosts) =>
        hosts.every((h) => /^[A-Za-z0-9.:_[\]-]+$/.test(wildcards ? h.replace(/^\*(\.|$)/, '') || 'x' : h)),
      {
        message: `${what} must be host names or IP addresses separated by commas${wildcards ? ' (*.domain and * allowed)' : ''}`,
      },
    );
const workers = (what: string) => z.coerce.number().int(`${what} must be a whole number`).min(1).max(256);

/** Flags and their environment variables, validated together. */
export const runOptionsSchema = z
  .object({
    kubeconfig: z.string().min(1).optional(),
    context: z.string().min(1).optional(),
    inCluster: z.boolean().default(false),
    metricsAddress: z
      .string()
      .regex(
        /^(\[[^\]]*\]|[^:]*)?:\d{1,5}$|^\d{1,5}$|^off$/,
        'metrics address must be host:port, :port, a port or off',
      )
      .default(':8080'),
    metricsAuth: z.enum(['kubernetes', 'none']).default('kubernetes'),
    metricsCertFile: z.string().min(1).optional(),
    metricsKeyFile: z.string().min(1).optional(),
    metricsJobBids: z.boolean().default(false),
    leaderElect: z.boolean().default(false),
    leaderElectionNamespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'not a namespace name')
      .default('default'),
    leaderElectionId: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'not a Lease name')
      .default(DEFAULT_MANAGER_OPTIONS.leaderElectionId),
    jobGrants: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'not a JobGrants name')
      .default(DEFAULT_MANAGER_OPTIONS.jobGrants),
    leaseDuration: seconds('--lease-duration').default(DEFAULT_MANAGER_OPTIONS.leaseDurationSeconds),
    renewDeadline: seconds('--renew-deadline').default(DEFAULT_MANAGER_OPTIONS.renewDeadlineSeconds),
    retryPeriod: seconds('--retry-period').default(DEFAULT_MANAGER_OPTIONS.retryPeriodSeconds),
    watchSilence: z.coerce
      .number()
      .int('--watch-silence must be whole seconds')
      .min(3)
      .max(3600)
      .default(DEFAULT_MANAGER_OPTIONS.watchSilenceSeconds),
    logLevel: z.enum(LOG_LEVELS).default('info'),
    dryRun: z.boolean().default(false),
    identity: z.string().min(1).max(128).optional(),
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'not a namespace name')
      .optional(),
    poolNamespace: z.array(namespaceName.max(63)).min(1).optional(),
    nodeSelector: z.string().min(1).max(1024).optional(),
    policyFile: z.string().min(1).optional(),
    minerGracePeriod: z.coerce
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(DEFAULT_MANAGER_OPTIONS.minerGracePeriodSeconds),
    nodeWorkers: workers('--node-workers').default(DEFAULT_MANAGER_OPTIONS.nodeWorkers),
    jobWorkers: workers('--job-workers').default(DEFAULT_MANAGER_OPTIONS.jobWorkers),
    priceAllowedHosts: hostList('--price-allowed-hosts', true),
    priceAllowHttpHosts: hostList('--price-allow-http-hosts', false),
    priceAllowPrivateHosts: hostList('--price-allow-private-hosts', false),
  })
  .refine((o) => !o.metricsCertFile === !o.metricsKeyFile, {
    message: '--metrics-cert-file and --metrics-key-file go together',
  })
  .refine((o) => !(o.kubeconfig && o.inCluster), {
    message: 'use either --kubeconfig or --in-cluster, not both',
  })
  .refine((o) => !o.namespace || (o.poolNamespace ?? []).every((p) => p === o.namespace), {
    message: '--pool-namespace must be the --namespace the operator watches (pools elsewhere are never seen)',
  })
  .refine((o) => o.retryPeriod < o.renewDeadline && o.renewDeadline < o.leaseDuration, {
    message: 'leader election needs --retry-period < --renew-deadline < --lease-duration',
  });

export type RunOptions = z.infer<typeof runOptionsSchema>;

/** Turns raw flag values into validated options, or a one-line error per problem. */
export function parseRunOptions(
  raw: Record<string, unknown>,
): { ok: true; value: RunOptions } | { ok: false; error: string } {
  const r = runOptionsSchema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const error = r.error.issues
    .map((i) => {
      const flag =
        i.path.length > 0 ? `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ` : '';
      return `${flag}${i.message}`;
    })
    .join('\n');
  return { ok: false, error };
}

export function registerRun(program: Command): void {
  const opt = (flags: string, description: string, env?: string): Option => {
    const o = new Option(flags, description);
    return env ? o.env(env) : o;
  };
  program
    .command('run')
    .description(
      'Run the operator: watch MiningPools, TrainingJobs, the FleetPolicy and GPU nodes, and switch nodes between mining and training',
    )
    .addOption(
      opt('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster)'),
    )
    .addOption(opt('--context <name>', 'kubeconfig context to use'))
    .addOption(opt('--in-cluster', 'use the pod’s service account'))
    .addOption(
      opt(
        '--metrics-address <addr>',
        '/metrics, /healthz and /readyz on host:port, :port, or off',
        'RIGSHIFT_METRICS_ADDRESS',
      ),
    )
    .addOption(
      opt(
        '--metrics-auth <mode>',
        'who may read /metrics: kubernetes (a bearer token allowed to get the non-resource URL /metrics, checked ' +
          'with TokenReview and SubjectAccessReview) or none; /healthz and /readyz are always open',
        'RIGSHIFT_METRICS_AUTH',
      ),
    )
    .addOption(
      opt('--metrics-cert-file <path>', 'serve the metrics port over HTTPS with this PEM certificate'),
    )
    .addOption(opt('--metrics-key-file <path>', 'the private key (PEM) of --metrics-cert-file'))
    .addOption(
      opt(
        '--metrics-job-bids',
        'export per-job series: every TrainingJob’s bid, wait and preemptions (labels job_namespace, training_job); off by default',
      ),
    )
    .addOption(opt('--leader-elect', 'run for leadership through a Lease; only the leader acts'))
    .addOption(opt('--leader-election-namespace <ns>', 'namespace of the Lease', 'POD_NAMESPACE'))
    .addOption(opt('--leader-election-id <name>', 'name of the Lease'))
    .addOption(
      opt(
        '--job-grants <name>',
        'JobGrants in --leader-election-namespace listing the renter batch Jobs the operator started, and their ' +
          'nodes (the chart’s renter GPU policy reads it); default rigshift-job-grants',
      ),
    )
    .addOption(opt('--lease-duration <seconds>', 'how long a standby waits for a silent leader'))
    .addOption(
      opt('--renew-deadline <seconds>', 'the leader steps down when it could not renew for this long'),
    )
    .addOption(opt('--retry-period <seconds>', 'time between lease attempts'))
    .addOption(
      opt(
        '--watch-silence <seconds>',
        'a watch that delivers no event or bookmark for this long is relisted, and nothing is planned or ' +
          'written until it delivers again (/readyz names it); default 90',
      ),
    )
    .addOption(opt('--log-level <level>', `one of ${LOG_LEVELS.join(', ')}`, 'LOG_LEVEL'))
    .addOption(opt('--dry-run', 'plan and report (statuses, Events, metrics) but never touch nodes or pods'))
    .addOption(
      opt(
        '--identity <id>',
        'name of this replica in the Lease and Events (default: host name + random)',
        'POD_NAME',
      ),
    )
    .addOption(
      opt(
        '--namespace <ns>',
        'watch MiningPools and TrainingJobs in this namespace only (default: all)',
        'RIGSHIFT_NAMESPACE',
      ),
    )
    .addOption(
      opt(
        '--pool-namespace <ns>',
        'honour MiningPools only in this namespace (repeat or comma-separate for several; default: --namespace, ' +
          'else the Lease’s, --leader-election-namespace); pools elsewhere are ignored and say why',
        'RIGSHIFT_POOL_NAMESPACES',
      ).argParser((value: string, previous: string[] | undefined) => [
        ...(previous ?? []),
        ...value
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean),
      ]),
    )
    .addOption(
      opt(
        '--node-selector <selector>',
        'manage only GPU nodes matching this label selector, e.g. farm=west',
        'RIGSHIFT_NODE_SELECTOR',
      ),
    )
    .addOption(
      opt(
        '--policy-file <path>',
        'read the FleetPolicy spec from this YAML file instead of the FleetPolicy "default"',
        'RIGSHIFT_POLICY_FILE',
      ),
    )
    .addOption(opt('--miner-grace-period <seconds>', 'seconds a mining pod gets to stop when evicted'))
    .addOption(opt('--node-workers <n>', 'nodes switched in parallel'))
    .addOption(opt('--job-workers <n>', 'TrainingJobs reconciled in parallel'))
    .addOption(
      opt(
        '--price-allowed-hosts <hosts>',
        'hosts HTTP price sources may fetch from, comma-separated (*.example.com, or * for any public host); default none',
        'RIGSHIFT_PRICE_ALLOWED_HOSTS',
      ),
    )
    .addOption(
      opt(
        '--price-allow-http-hosts <hosts>',
        'allowed hosts that may be fetched over plain http (https only otherwise)',
        'RIGSHIFT_PRICE_ALLOW_HTTP_HOSTS',
      ),
    )
    .addOption(
      opt(
        '--price-allow-private-hosts <hosts>',
        'allowed hosts that may resolve to loopback, link-local or private addresses',
        'RIGSHIFT_PRICE_ALLOW_PRIVATE_HOSTS',
      ),
    )
    .action(async (raw: Record<string, unknown>) => {
      const parsed = parseRunOptions(raw);
      if (!parsed.ok) {
        console.error(`rigshift run: ${parsed.error}`);
        process.exitCode = 2;
        return;
      }
      const o = parsed.value;
      const code = await runOperator({
        kubeconfig: o.kubeconfig,
        context: o.context,
        inCluster: o.inCluster,
        logLevel: o.logLevel,
        metricsAddress: o.metricsAddress === 'off' ? undefined : o.metricsAddress,
        metricsAuth: o.metricsAuth,
        metricsTls:
          o.metricsCertFile && o.metricsKeyFile
            ? { certFile: o.metricsCertFile, keyFile: o.metricsKeyFile }
            : undefined,
        metricsJobBids: o.metricsJobBids,
        leaderElect: o.leaderElect,
        leaderElectionNamespace: o.leaderElectionNamespace,
        leaderElectionId: o.leaderElectionId,
        jobGrants: o.jobGrants,
        leaseDurationSeconds: o.leaseDuration,
        renewDeadlineSeconds: o.renewDeadline,
        retryPeriodSeconds: o.retryPeriod,
        watchSilenceSeconds: o.watchSilence,
        dryRun: o.dryRun,
        identity: o.identity,
        namespace: o.namespace,
        poolNamespaces: o.poolNamespace,
        nodeSelector: o.nodeSelector,
        policyFile: o.policyFile,
        minerGracePeriodSeconds: o.minerGracePeriod,
        nodeWorkers: o.nodeWorkers,
        jobWorkers: o.jobWorkers,
        priceEgress: {
          allowedHosts: o.priceAllowedHosts,
          allowHttpHosts: o.priceAllowHttpHosts,
          allowPrivateHosts: o.priceAllowPrivateHosts,
        },
      });
      process.exit(code);
    });
}
