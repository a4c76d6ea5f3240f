import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type {
  KubeConfig,
  KubernetesObject,
  V1ConfigMap,
  V1Job,
  V1Node,
  V1Pod,
  V1ResourceQuota,
} from '@kubernetes/client-node';
import { FLEET_POLICY_NAME, GROUP, VERSION, type FleetPolicySpec } from '../api/v1alpha1/index.js';
import { systemClock, type Clock } from '../kube/clock.js';
import { createKubeClient, type KubeClient } from '../kube/client.js';
import { EventRecorder, type ObjectReference } from '../kube/events.js';
import { operatorReadiness, startHttpServer, type RunningHttpServer } from '../kube/http.js';
import { Informer, waitForCacheSync } from '../kube/informer.js';
import { LeaderElector } from '../kube/leader.js';
import { createMetrics, queueHooks, type OperatorMetrics } from '../kube/metrics.js';
import { MetricsAuthorizer } from '../kube/metrics-auth.js';
import { Kinds, resourcePath } from '../kube/resources.js';
import { createRestClient, isApiError, isNotFound, resourceOf, type RestClient } from '../kube/rest.js';
import { objectKey, WorkQueue, type ReconcileFn } from '../kube/workqueue.js';
import type { Logger } from '../log.js';
import { Grouped, Parsed, mergedStore, type Caches } from './caches.js';
import { Expectations } from './expectations.js';
import type { StaleCache } from './freshness.js';
import { createFleetReconciler, FLEET_KEY, MIN_PLAN_INTERVAL_MS } from './fleet.js';
import { createJobReconciler } from './job.js';
import { GPU_VENDORS } from '../api/v1alpha1/gpus.js';
import { MANAGED_BY, MANAGED_BY_LABEL, MANAGED_SELECTOR } from './labels.js';
import { createNodeReconciler } from './node.js';
import { podNode, trainingJobKeyOf, trimForeignPod } from './pods.js';
import { effectivePolicy, loadPolicyFile, withPolicyReadiness } from './policy.js';
import { createPoolReconciler } from './pool.js';
import { poolKeyForPod, poolKeysForConfigMap } from './pool-keys.js';
import { retryWriteRaces } from './retry.js';
import type { EgressRules } from '../economics/sources/egress.js';
import { PoolScope, scopedPoolReconciler } from './scoping.js';
import { ReferencedConfigMaps } from './configmaps.js';
import { createUsageReconciler, usageFigures } from './usage/index.js';
import {
  batchKey,
  createBatchJobReconciler,
  DEFAULT_JOB_GRANTS,
  LEDGER_LABEL,
  LEDGER_LABEL_VALUE,
  ledgerJobKey,
  optedIn,
  trimBatchJob,
} from './batchjob/index.js';

export interface ManagerOptions {
  /** This replica's name in the Lease and in Events. */
  identity?: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
  /** `host:port` of /metrics, /healthz, /readyz; undefined: no HTTP server. */
  metricsAddress?: string | undefined;
  /** `kubernetes`: /metrics needs a bearer token allowed to get /metrics (TokenReview + SubjectAccessReview). */
  metricsAuth: 'kubernetes' | 'none';
  /** Serve HTTPS with these PEM files instead of plain HTTP. */
  metricsTls?: { certFile: string; keyFile: string } | undefined;
  /** Export every TrainingJob's bid (rigshift_training_bid_usd_per_gpu_hour); off: renters' bids stay private. */
  metricsJobBids: boolean;
  dryRun: boolean;
  /** Watch MiningPools, TrainingJobs and their pods in this namespace only. */
  namespace?: string | undefined;
  /**
   * Namespaces whose MiningPools are honoured (default: `namespace`, else `leaderElectionNamespace`, the
   * operator's own); pools elsewhere are ignored and say so. `rigshift run` refuses one outside `namespace`.
   */
  poolNamespaces?: readonly string[] | undefined;
  /** Manage only the GPU nodes matching this label selector (e.g. `pool=west`). */
  nodeSelector?: string | undefined;
  /** Read the policy from this file instead of the FleetPolicy `default`. */
  policyFile?: string | undefined;
  minerGracePeriodSeconds: number;
  nodeWorkers: number;
  jobWorkers: number;
  poolWorkers: number;
  /**
   * Renters' batch/v1 Jobs (opted in with rigshift.io/bid-usd-per-gpu-hour) are planned like TrainingJobs;
   * their ledgers live in `leaderElectionNamespace`. Default true.
   */
  batchJobs: boolean;
  /** The JobGrants (in `leaderElectionNamespace`) the chart's renter GPU policy reads. */
  jobGrants: string;
  cacheSyncTimeoutMs: number;
  /**
   * Watch liveness bound: an informer whose watch delivers neither an event nor a bookmark for this long is
   * relisted, /readyz names it, and nothing is planned or written from the caches until it delivers again.
   */
  watchSilenceSeconds: number;
  /** Where HTTP price sources may connect (flags --price-*-hosts); default: nowhere. */
  priceEgress?: EgressRules | undefined;
  /**
   * Benchmarks only: also cache whole foreign pods and every ConfigMap, as the operator once did, to measure
   * what trimming them saves (`rigshift bench-caches`). Never read.
   */
  fullCaches?: boolean | undefined;
}

export const DEFAULT_MANAGER_OPTIONS: ManagerOptions = {
  metricsAuth: 'kubernetes',
  metricsJobBids: false,
  leaderElect: false,
  leaderElectionNamespace: 'default',
  leaderElectionId: 'rigshift-operator',
  leaseDurationSeconds: 15,
  renewDeadlineSeconds: 10,
  retryPeriodSeconds: 2,
  dryRun: false,
  minerGracePeriodSeconds: 10,
  nodeWorkers: 16,
  jobWorkers: 8,
  poolWorkers: 2,
  batchJobs: true,
  jobGrants: DEFAULT_JOB_GRANTS,
  cacheSyncTimeoutMs: 120_000,
  watchSilenceSeconds: 90,
};

/** The write fence outside any term: a standby writes nothing through the operator's client. */
const NOT_LEADING = AbortSignal.abort(new Error('not leading'));

interface Queues {
  fleet: WorkQueue;
  node: WorkQueue;
  job: WorkQueue;
  pool: WorkQueue;
  /** UsageRecords, keyed by namespace. */
  usage: WorkQueue;
  batchjob: WorkQueue;
}

/** Events written in the background at most at once; beyond, new ones are dropped (and counted). */
const MAX_PENDING_EVENTS = 1000;
/**
 * A pod's change reaches its job this much later, so that a gang's pods starting one after the other are
 * one status write, not one each (the batch/v1 Job controller batches pod updates the same way).
 */
const POD_TO_JOB_BATCH_MS = 500;
const POD_TO_POOL_BATCH_MS = 2000;

/** What of a MiningPool its nodes depend on (selector, profiles, miner: the spec), not its status. */
function poolSpecMark(p: KubernetesObject): string {
  const m = p.metadata;
  return `${m?.uid ?? ''}|${m?.generation ?? ''}|${m?.deletionTimestamp ?? ''}`;
}

/** Job status changes within this long are folded into one UsageRecord write per namespace. */
const USAGE_COALESCE_MS = 2000;

/**
 * The operator: informers on nodes, pods (foreign ones trimmed), TrainingJobs, MiningPools, the FleetPolicy,
 * ResourceQuotas and the ConfigMaps pools reference; one work queue per reconciler; leader election (only the leader reconciles, a standby keeps its caches warm);
 * /metrics, /healthz and /readyz.
 */
export class Manager {
  readonly client: KubeClient;
  readonly metrics: OperatorMetrics;
  readonly identity: string;
  /** API requests sent, by verb (for benchmarks). */
  readonly requests = new Map<string, number>();
  private readonly opts: ManagerOptions;
  private readonly clock: Clock;
  private readonly log: Logger | undefined;
  private readonly events: EventRecorder;
  private readonly parsed: Parsed;
  private readonly expectations = new Expectations();
  private readonly policyFileSpec: FleetPolicySpec | undefined;
  readonly poolScope: PoolScope;
  readonly informers: {
    /** One per GPU vendor (label selectors cannot OR): nodes carrying its product label. */
    nodes: Informer<V1Node>[];
    managedPods: Informer<V1Pod>;
    foreignPods: Informer<V1Pod>;
    jobs: Informer<KubernetesObject>;
    pools: Informer<KubernetesObject>;
    /** Only with fullCaches: every ConfigMap (benchmarks). */
    allConfigMaps: Informer<V1ConfigMap> | undefined;
    quotas: Informer<V1ResourceQuota>;
    policies: Informer<KubernetesObject> | undefined;
    usageRecords: Informer<KubernetesObject>;
    /** batch/v1 Jobs (those not opted in trimmed), and the ledgers of opted-in ones. */
    batchJobs: Informer<V1Job> | undefined;
    ledgers: Informer<V1ConfigMap> | undefined;
    jobGrants: Informer<KubernetesObject> | undefined;
  };
  readonly caches: Caches;
  /** The ConfigMaps honoured pools read prices from. */
  readonly configMaps: ReferencedConfigMaps;
  private queues: Queues | undefined;
  /** The leadership term: every write through `client` is bound to it (see `writeFence` in rest.ts). */
  private term: AbortSignal | undefined;
  private ownTerm: AbortController | undefined;
  private stopping = false;
  /** Lease writes and metrics auth reviews: not bound to the term (a standby campaigns and serves). */
  private readonly unfenced: RestClient;
  private readonly onLeadershipLost: ((why: string) => void) | undefined;
  private elector: LeaderElector | undefined;
  private http: RunningHttpServer | undefined;
  private started = false;

  constructor(
    kc: KubeConfig,
    opts: Partial<ManagerOptions> = {},
    deps: {
      logger?: Logger;
      clock?: Clock;
      /**
       * Called once the lease is lost (its writes already cancelled). `rigshift run` exits the process here,
       * as controller-runtime does; without it the manager stands by and campaigns again.
       */
      onLeadershipLost?: (why: string) => void;
    } = {},
  ) {
    this.opts = { ...DEFAULT_MANAGER_OPTIONS, ...opts };
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger;
    this.onLeadershipLost = deps.onLeadershipLost;
    this.identity = this.opts.identity ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
    this.metrics = createMetrics({ jobBids: this.opts.metricsJobBids });
    const onRequest = (verb: string, code: number, ms: number, path: string): void => {
      this.metrics.apiRequests.inc({ verb, code: String(code), resource: resourceOf(path) });
      if (verb !== 'GET') this.log?.debug({ verb, path, code, ms }, 'api write');
      this.requests.set(verb, (this.requests.get(verb) ?? 0) + 1);
    };
    this.client = createKubeClient(kc, { onRequest, writeFence: () => this.term ?? NOT_LEADING });
    this.unfenced = createRestClient(kc, { onRequest });
    this.policyFileSpec = this.opts.policyFile ? loadPolicyFile(this.opts.policyFile) : undefined;
    this.events = new EventRecorder(this.client, {
      reportingInstance: this.identity.slice(0, 128),
      logger: this.log,
      background: { maxPending: MAX_PENDING_EVENTS },
    });
    this.parsed = new Parsed((kind, error) =>
      this.log?.warn({ kind, error }, 'object does not parse; ignored'),
    );

    const ns = this.opts.namespace;
    this.poolScope = new PoolScope(this.opts.poolNamespaces ?? [ns ?? this.opts.leaderElectionNamespace]);
    const common = { logger: this.log, clock: this.clock, silenceSeconds: this.opts.watchSilenceSeconds };
    this.informers = {
      nodes: GPU_VENDORS.map(
        (v) =>
          new Informer<V1Node>(this.client, Kinds.Node, {
            ...common,
            name: `${v.name} nodes`,
            labelSelector: [v.productLabel, this.opts.nodeSelector].filter(Boolean).join(','),
          }),
      ),
      managedPods: new Informer<V1Pod>(this.client, Kinds.Pod, {
        ...common,
        name: 'managed pods',
        namespace: ns,
        labelSelector: MANAGED_SELECTOR,
      }),
      // Every scheduled pod of the cluster passes through here: keep only node, phase and GPUs of each.
      foreignPods: new Informer<V1Pod>(this.client, Kinds.Pod, {
        ...common,
        name: 'other pods on nodes',
        labelSelector: `${MANAGED_BY_LABEL}!=${MANAGED_BY}`,
        fieldSelector: 'spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed',
        ...(this.opts.fullCaches ? {} : { transform: trimForeignPod }),
      }),
      jobs: new Informer(this.client, Kinds.TrainingJob, { ...common, namespace: ns }),
      pools: new Informer(this.client, Kinds.MiningPool, { ...common, namespace: ns }),
      allConfigMaps: this.opts.fullCaches
        ? new Informer<V1ConfigMap>(this.client, Kinds.ConfigMap, { ...common, namespace: ns })
        : undefined,
      quotas: new Informer<V1ResourceQuota>(this.client, Kinds.ResourceQuota, { ...common, namespace: ns }),
      usageRecords: new Informer(this.client, Kinds.UsageRecord, { ...common, namespace: ns }),
      policies: this.policyFileSpec
        ? undefined
        : new Informer(this.client, Kinds.FleetPolicy, {
            ...common,
            fieldSelector: `metadata.name=${FLEET_POLICY_NAME}`,
          }),
      batchJobs: undefined,
      ledgers: undefined,
      jobGrants: undefined,
    };
    const batch = this.opts.batchJobs;
    this.informers.batchJobs = batch
      ? new Informer<V1Job>(this.client, Kinds.Job, {
          ...common,
          name: 'batch jobs',
          namespace: ns,
          transform: trimBatchJob,
        })
      : undefined;
    this.informers.ledgers = batch
      ? new Informer<V1ConfigMap>(this.client, Kinds.ConfigMap, {
          ...common,
          name: 'job ledgers',
          namespace: this.opts.leaderElectionNamespace,
          labelSelector: `${LEDGER_LABEL}=${LEDGER_LABEL_VALUE}`,
        })
      : undefined;
    this.informers.jobGrants = batch
      ? new Informer(this.client, Kinds.JobGrants, {
          ...common,
          name: 'job grants',
          namespace: this.opts.leaderElectionNamespace,
          fieldSelector: `metadata.name=${this.opts.jobGrants}`,
        })
      : undefined;
    const inf = this.informers;
    this.caches = {
      ...(inf.batchJobs && { batchJobs: inf.batchJobs }),
      ...(inf.ledgers && { ledgers: inf.ledgers }),
      ...(inf.jobGrants && { jobGrants: inf.jobGrants }),
      nodes: mergedStore(inf.nodes),
      managedPods: inf.managedPods,
      foreignPods: inf.foreignPods,
      jobs: inf.jobs,
      pools: this.poolScope.filter(inf.pools),
      quotas: inf.quotas,
      usageRecords: inf.usageRecords,
      policy: () => effectivePolicy(this.policyFileSpec, inf.policies?.get(undefined, FLEET_POLICY_NAME)),
      byNode: {
        managedPods: new Grouped(
          () => inf.managedPods.list(),
          (p) => [podNode(p) ?? ''],
        ),
        foreignPods: new Grouped(
          () => inf.foreignPods.list(),
          (p) => [p.spec?.nodeName ?? ''],
        ),
        podsOfJob: new Grouped(
          () => inf.managedPods.list(),
          (p) => [trainingJobKeyOf(p) ?? ''],
        ),
        jobs: new Grouped(
          () => inf.jobs.list(),
          (j) => (j as { status?: { assignedNodes?: string[] } }).status?.assignedNodes ?? [],
        ),
      },
    };
    this.configMaps = new ReferencedConfigMaps(
      (namespace, name) =>
        new Informer<V1ConfigMap>(this.client, Kinds.ConfigMap, {
          ...common,
          namespace,
          fieldSelector: `metadata.name=${name}`,
        }),
      (cm) => {
        for (const key of poolKeysForConfigMap(cm, this.caches.pools.list())) this.queues?.pool.add(key);
      },
    );
    // Every replica exports the usage its cache holds, once synced (never a zero before it knows).
    this.metrics.usage.figures = () =>
      inf.usageRecords.hasSynced() ? usageFigures(inf.usageRecords, this.clock.now()) : undefined;
    this.wire();
  }

  /** Resolves once the Events sent so far are written (they are written in the background). */
  eventsWritten(): Promise<void> {
    return this.events.settled();
  }

  /** Checks the cluster, starts the caches and the HTTP server, then campaigns (or leads at once). */
  async start(): Promise<void> {
    if (this.started) throw new Error('manager already started');
    this.started = true;
    await this.preflight();
    for (const i of this.allInformers()) i.start();
    if (this.opts.metricsAddress !== undefined) {
      const auth =
        this.opts.metricsAuth === 'kubernetes'
          ? new MetricsAuthorizer({ rest: this.unfenced, clock: this.clock })
          : undefined;
      const tls = this.opts.metricsTls;
      this.http = await startHttpServer({
        address: this.opts.metricsAddress,
        registry: this.metrics.registry,
        readiness: () =>
          withPolicyReadiness(
            operatorReadiness(this.allInformers(), this.elector),
            this.caches.policy(),
            this.informers.policies?.hasSynced() ?? true,
          ),
        ...(auth && { authorizeMetrics: (header: string | undefined) => auth.check(header) }),
        ...(tls && { tls: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } }),
      });
      this.log?.info(
        { url: this.http.url, metricsAuth: this.opts.metricsAuth },
        'serving /metrics, /healthz and /readyz',
      );
    }
    await waitForCacheSync(this.allInformers(), this.opts.cacheSyncTimeoutMs);
    this.log?.info({ identity: this.identity, poolNamespaces: this.poolScope.namespaces }, 'caches synced');
    if (!this.opts.leaderElect) {
      this.lead();
      return;
    }
    this.elector = new LeaderElector(
      { rest: this.unfenced },
      {
        namespace: this.opts.leaderElectionNamespace,
        name: this.opts.leaderElectionId,
        identity: this.identity,
        leaseDurationMs: this.opts.leaseDurationSeconds * 1000,
        renewDeadlineMs: this.opts.renewDeadlineSeconds * 1000,
        retryPeriodMs: this.opts.retryPeriodSeconds * 1000,
        clock: this.clock,
        logger: this.log,
        onStartedLeading: (signal) => this.lead(signal),
        onStoppedLeading: (why) => this.lost(why),
        onNewLeader: (id) => this.log?.info({ leader: id, me: this.identity }, 'leader observed'),
      },
    );
    this.elector.start();
  }

  /** Stops reconciling (in-flight work finishes), hands the lease over, stops the caches and the server. */
  async stop(): Promise<void> {
    this.stopping = true;
    // Still leading: in-flight reconciles and pending Event writes finish, then the term ends.
    await this.standDown();
    await this.events.close();
    if (this.elector) await this.elector.stop({ release: true });
    this.ownTerm?.abort(new Error('operator stopped'));
    this.term = undefined;
    await Promise.all([...this.allInformers().map((i) => i.stop()), this.configMaps.stop()]);
    await this.http?.close();
    this.http = undefined;
  }

  isLeader(): boolean {
    return this.queues !== undefined;
  }

  /** Port of the HTTP server, once started. */
  get httpPort(): number | undefined {
    return this.http?.port;
  }

  /** Resolves when every queue is idle (no key queued or in progress; timers may be pending). */
  async idle(): Promise<void> {
    const q = this.queues;
    if (!q) return;
    await Promise.all([
      q.fleet.whenIdle(),
      q.node.whenIdle(),
      q.job.whenIdle(),
      q.pool.whenIdle(),
      q.usage.whenIdle(),
      q.batchjob.whenIdle(),
    ]);
  }

  /** Events about a missing FleetPolicy: on the operator's Lease when it has one, else on its Namespace. */
  private policyEventRef(): ObjectReference {
    const uid = this.elector?.leaseUid();
    if (uid) {
      return {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        namespace: this.opts.leaderElectionNamespace,
        name: this.opts.leaderElectionId,
        uid,
      };
    }
    return { apiVersion: 'v1', kind: 'Namespace', name: this.opts.leaderElectionNamespace };
  }

  private allInformers(): Informer<KubernetesObject>[] {
    const i = this.informers;
    const list = [
      ...i.nodes,
      i.managedPods,
      i.foreignPods,
      i.jobs,
      i.pools,
      i.quotas,
      i.policies,
      i.allConfigMaps,
      i.usageRecords,
      i.batchJobs,
      i.ledgers,
      i.jobGrants,
    ];
    return list.filter(
      (x): x is Informer<KubernetesObject> => x !== undefined,
    ) as Informer<KubernetesObject>[];
  }

  /** Refuses to start on a cluster that cannot work: CRDs missing, PriorityClasses missing, bad selector. */
  private async preflight(): Promise<void> {
    const rest = this.client.rest;
    try {
      const res = await rest.request<{ resources?: { name: string }[] }>({
        method: 'GET',
        path: `/apis/${GROUP}/${VERSION}`,
      });
      const kinds = [Kinds.TrainingJob, Kinds.MiningPool, Kinds.FleetPolicy, Kinds.UsageRecord];
      if (this.opts.batchJobs) kinds.push(Kinds.JobGrants);
      const missing = kinds
        .map((k) => k.resource)
        .filter((r) => !(res.body.resources ?? []).some((x) => x.name === r));
      if (missing.length > 0) {
        throw new Error(
          `the ${GROUP}/${VERSION} CRDs of ${missing.join(', ')} are not installed: apply crds/ (or upgrade the Helm chart) first`,
        );
      }
    } catch (err) {
      if (isNotFound(err)) {
        throw new Error(
          `the ${GROUP}/${VERSION} CRDs are not installed: apply crds/ (or install the Helm chart) first`,
        );
      }
      throw err;
    }
    if (this.opts.nodeSelector) {
      try {
        await rest.request({
          method: 'GET',
          path: resourcePath(Kinds.Node),
          query: { labelSelector: this.opts.nodeSelector, limit: 1 },
        });
      } catch (err) {
        if (isApiError(err, 400))
          throw new Error(`invalid --node-selector '${this.opts.nodeSelector}': ${err.serverMessage}`);
        throw err;
      }
    }
    let policy = this.policyFileSpec ? effectivePolicy(this.policyFileSpec, undefined) : undefined;
    if (!policy) {
      let obj: unknown;
      try {
        const path = resourcePath(Kinds.FleetPolicy, { name: FLEET_POLICY_NAME });
        obj = (await rest.request({ method: 'GET', path })).body;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      policy = effectivePolicy(undefined, obj);
    }
    // Without a valid policy the operator starts but writes nothing (and is not Ready) until one exists.
    if (policy.source === 'none') {
      this.log?.warn({ reason: policy.reason, problem: policy.problem }, 'no valid policy at start');
      return;
    }
    const spec = policy.spec;
    const missing: string[] = [];
    for (const [mode, name] of Object.entries(spec.priorityClasses)) {
      try {
        await rest.request({ method: 'GET', path: resourcePath(Kinds.PriorityClass, { name }) });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        missing.push(`${name} (for ${mode} pods)`);
      }
    }
    if (missing.length > 0) {
      throw new Error(
        `PriorityClass ${missing.join(' and ')} does not exist: create ${missing.length === 1 ? 'it' : 'them'} ` +
          '(the Helm chart does, priorityClasses.create) or name existing ones in the FleetPolicy spec.priorityClasses',
      );
    }
  }

  /** Informer events → queue keys. Keys are only queued while leading; a new term enqueues everything. */
  private wire(): void {
    const inf = this.informers;
    const exp = this.expectations;
    const q = (): Queues | undefined => this.queues;
    const fleet = (): void => q()?.fleet.add(FLEET_KEY);
    const allNodes = (): void => {
      for (const n of this.caches.nodes.list()) q()?.node.add(n.metadata?.name ?? '');
    };
    const poolMarks = new Map<string, string>();
    const jobsOnNode = (node: string): void => {
      for (const j of this.caches.byNode?.jobs.get(node) ?? []) q()?.job.add(objectKey(j));
      // Batch Jobs admitted there: the ledger's admission names the node.
      for (const l of inf.ledgers?.list() ?? []) {
        const key = ledgerJobKey(l);
        if (key && (l.data?.admission ?? '').includes(`"${node}"`)) q()?.batchjob.add(key);
      }
    };

    const byNode = this.caches.byNode;
    for (const ev of ['add', 'update', 'delete'] as const) {
      // First, so that reconcilers woken by the handlers below see the regrouped caches.
      inf.managedPods.on(ev, () => {
        byNode?.managedPods.changed();
        byNode?.podsOfJob.changed();
      });
      inf.foreignPods.on(ev, () => byNode?.foreignPods.changed());
      inf.jobs.on(ev, () => byNode?.jobs.changed());
      for (const nodes of inf.nodes) {
        nodes.on(ev, (n) => {
          const name = n.metadata?.name ?? '';
          exp.observe('Node', name, ev === 'delete' ? undefined : n.metadata?.resourceVersion);
          q()?.node.add(name);
          jobsOnNode(name);
          fleet();
        });
      }
      inf.managedPods.on(ev, (p) => {
        const node = podNode(p);
        if (node) q()?.node.add(node);
        const job = trainingJobKeyOf(p);
        if (job) q()?.job.addAfter(job, POD_TO_JOB_BATCH_MS);
        // A pool's status counts its miners: a price move starts and stops hundreds of them, one write per batch.
        const pool = poolKeyForPod(p);
        if (pool) q()?.pool.addAfter(pool, POD_TO_POOL_BATCH_MS);
        fleet();
      });
      inf.foreignPods.on(ev, (p) => {
        if (p.spec?.nodeName) q()?.node.add(p.spec.nodeName);
        fleet();
      });
      inf.jobs.on(ev, (j) => {
        const key = objectKey(j);
        // A deleted job waits for its usage to be recorded: no coalescing delay for it.
        const ns = j.metadata?.namespace;
        if (ns && j.metadata?.deletionTimestamp) q()?.usage.add(ns);
        else if (ns) q()?.usage.addAfter(ns, USAGE_COALESCE_MS);
        exp.observe('TrainingJob', key, ev === 'delete' ? undefined : j.metadata?.resourceVersion);
        q()?.job.add(key);
        for (const n of (j as { status?: { assignedNodes?: string[] } }).status?.assignedNodes ?? [])
          q()?.node.add(n);
        fleet();
      });
      inf.pools.on(ev, (p) => {
        // Events only come once started (the first list's adds arrive after start()).
        if (this.started) this.configMaps.sync(this.caches.pools.list());
        q()?.pool.add(objectKey(p));
        // Nodes read pools' specs only: the pool's own status writes (prices, yields) wake the planner, not
        // every node (at a thousand nodes that fan-out took the node workers from the nodes that switch).
        const key = objectKey(p);
        const mark = ev === 'delete' ? undefined : poolSpecMark(p);
        if (mark !== poolMarks.get(key)) allNodes();
        if (mark === undefined) poolMarks.delete(key);
        else poolMarks.set(key, mark);
        fleet();
      });
      inf.usageRecords.on(ev, (r) => {
        const ns = r.metadata?.namespace;
        if (ns) q()?.usage.add(ns);
        // A job being deleted waits for its line.
        for (const j of inf.jobs.list(ns)) if (j.metadata?.deletionTimestamp) q()?.job.add(objectKey(j));
      });
      inf.batchJobs?.on(ev, (j) => {
        q()?.batchjob.add(objectKey(j));
        if (optedIn(j) || inf.ledgers?.list().some((l) => ledgerJobKey(l) === objectKey(j))) fleet();
      });
      inf.ledgers?.on(ev, (l) => {
        const key = ledgerJobKey(l);
        if (!key) return;
        const [ns = '', name = ''] = key.split('/');
        exp.observe(
          'BatchJobLedger',
          batchKey(ns, name),
          ev === 'delete' ? undefined : l.metadata?.resourceVersion,
        );
        q()?.batchjob.add(key);
        fleet();
      });
      // A quota raised or freed may let a waiting gang in.
      inf.quotas.on(ev, () => fleet());
      inf.policies?.on(ev, () => {
        allNodes();
        for (const j of inf.jobs.list()) q()?.job.add(objectKey(j));
        for (const j of inf.batchJobs?.list() ?? []) if (optedIn(j)) q()?.batchjob.add(objectKey(j));
        fleet();
      });
    }
  }

  private reconcilers(): Record<keyof Queues, ReconcileFn> {
    const base = {
      client: this.client,
      caches: this.caches,
      parsed: this.parsed,
      events: this.events,
      clock: this.clock,
      dryRun: this.opts.dryRun,
    };
    const fleetLog = this.log?.child({ controller: 'fleet' });
    const nodeLog = this.log?.child({ controller: 'node' });
    const jobLog = this.log?.child({ controller: 'job' });
    const usageLog = this.log?.child({ controller: 'usage' });
    const batchLog = this.log?.child({ controller: 'batchjob' });
    return {
      fleet: retryWriteRaces(
        createFleetReconciler({
          ...base,
          expectations: this.expectations,
          staleCaches: () => this.staleCaches(),
          metrics: this.metrics,
          logger: fleetLog,
          policyRef: () => this.policyEventRef(),
          ledgerNamespace: this.opts.batchJobs ? this.opts.leaderElectionNamespace : undefined,
          minPlanIntervalMs: MIN_PLAN_INTERVAL_MS,
        }),
        fleetLog,
      ),
      node: this.holdWhileStale(
        retryWriteRaces(
          createNodeReconciler({
            ...base,
            minerGracePeriodSeconds: this.opts.minerGracePeriodSeconds,
            metrics: this.metrics,
            logger: nodeLog,
          }),
          nodeLog,
        ),
      ),
      job: this.holdWhileStale(
        retryWriteRaces(
          createJobReconciler({
            ...base,
            metrics: this.metrics,
            logger: jobLog,
            recordUsage: (ns) => this.queues?.usage.add(ns),
          }),
          jobLog,
        ),
      ),
      usage: this.holdWhileStale(
        retryWriteRaces(
          createUsageReconciler({
            client: this.client,
            jobs: this.informers.jobs,
            records: this.informers.usageRecords,
            parsed: this.parsed,
            clock: this.clock,
            logger: usageLog,
          }),
          usageLog,
        ),
      ),
      batchjob: this.holdWhileStale(
        retryWriteRaces(
          createBatchJobReconciler({
            ...base,
            ledgerNamespace: this.opts.leaderElectionNamespace,
            jobGrants: this.opts.jobGrants,
            logger: batchLog,
          }),
          batchLog,
        ),
      ),
      pool: createPoolReconciler({
        getPool: (ns, name) => this.informers.pools.get(ns, name),
        getConfigMap: (ns, name) => this.configMaps.get(ns, name),
        configMapReady: (ns, name) => this.configMaps.ready(ns, name),
        listPods: (ns) => this.informers.managedPods.list(ns),
        client: this.client,
        events: this.events,
        metrics: this.metrics,
        clock: this.clock,
        logger: this.log?.child({ controller: 'pool' }),
        onPoolChanged: () => this.queues?.fleet.add(FLEET_KEY),
        sources: this.opts.priceEgress ? { egress: this.opts.priceEgress } : undefined,
        readSecret: (ns, name, key) => this.readSecretKey(ns, name, key),
      }),
    };
  }

  /** Informers whose watch is silent past the liveness bound (their caches may miss changes). */
  private staleCaches(): StaleCache[] {
    return this.allInformers().flatMap((i) => {
      const silentMs = i.staleFor();
      return silentMs === undefined ? [] : [{ name: i.name, silentMs }];
    });
  }

  /**
   * Node and job reconcilers act on nothing while a cache is stale (the fleet reconciler says why); the key
   * is looked at again shortly, and every key once the caches are fresh (their relist's events).
   */
  private holdWhileStale(fn: ReconcileFn): ReconcileFn {
    return async (key, signal) => {
      if (this.staleCaches().length > 0) return { requeueAfterMs: 1000 };
      return fn(key, signal);
    };
  }

  /**
   * One key of a Secret a pool's http.headers names, read on demand: no Secret informer, so the operator
   * holds no Secret it was not pointed at (RBAC: get, in the workload namespaces only).
   */
  private async readSecretKey(namespace: string, name: string, key: string): Promise<string | undefined> {
    try {
      const res = await this.client.rest.request<{ data?: Record<string, string> }>({
        method: 'GET',
        path: resourcePath(Kinds.Secret, { namespace, name }),
      });
      const value = res.body.data?.[key];
      return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** A new term: fresh queues, every object enqueued once; writes are bound to the term's signal. */
  private lead(signal?: AbortSignal): void {
    if (this.queues || this.stopping) return;
    if (!signal) {
      this.ownTerm = new AbortController();
      signal = this.ownTerm.signal;
    }
    this.term = signal;
    const r = this.reconcilers();
    // Pools outside the pool namespaces are only told that they are ignored.
    r.pool = scopedPoolReconciler(r.pool, {
      scope: this.poolScope,
      getPool: (ns, name) => this.informers.pools.get(ns, name),
      listPods: (ns) => this.informers.managedPods.list(ns),
      client: this.client,
      events: this.events,
      clock: this.clock,
      logger: this.log?.child({ controller: 'pool' }),
    });
    const hooks = queueHooks(this.metrics);
    const make = (name: keyof Queues, concurrency: number): WorkQueue =>
      new WorkQueue(r[name], { name, concurrency, clock: this.clock, hooks, logger: this.log });
    const queues: Queues = {
      fleet: make('fleet', 1),
      node: make('node', this.opts.nodeWorkers),
      job: make('job', this.opts.jobWorkers),
      pool: make('pool', this.opts.poolWorkers),
      usage: make('usage', 2),
      batchjob: make('batchjob', this.opts.jobWorkers),
    };
    this.queues = queues;
    this.metrics.leader.set(1);
    this.log?.info({ identity: this.identity }, 'leading: reconciling');
    const inf = this.informers;
    for (const p of inf.pools.list()) queues.pool.add(objectKey(p));
    for (const j of inf.jobs.list()) queues.job.add(objectKey(j));
    for (const j of inf.jobs.list()) queues.usage.add(j.metadata?.namespace ?? '');
    for (const j of inf.batchJobs?.list() ?? []) if (optedIn(j)) queues.batchjob.add(objectKey(j));
    for (const l of inf.ledgers?.list() ?? []) {
      const key = ledgerJobKey(l);
      if (key) queues.batchjob.add(key);
    }
    for (const n of this.caches.nodes.list()) queues.node.add(n.metadata?.name ?? '');
    queues.fleet.add(FLEET_KEY);
    for (const queue of Object.values(queues)) queue.start();
  }

  /**
   * The lease was lost (or given up by stop()). Lost: the term's signal is already aborted, so every write in
   * flight is cancelled and no new one is sent; the reconciles return, then the owner is told (and exits).
   */
  private async lost(why: string): Promise<void> {
    this.term = undefined;
    if (this.stopping) {
      await this.standDown();
      return;
    }
    this.log?.error({ identity: this.identity, why }, 'leadership lost: writes cancelled');
    await this.standDown();
    this.onLeadershipLost?.(why);
  }

  /** End of a term: no new work, in-flight reconciles finish. */
  private async standDown(): Promise<void> {
    const queues = this.queues;
    if (!queues) return;
    this.queues = undefined;
    this.metrics.leader.set(0);
    await Promise.all(Object.values(queues).map((queue) => queue.shutdown()));
    this.log?.info({ identity: this.identity }, 'stopped reconciling');
  }
}
