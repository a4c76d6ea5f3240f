import type { Logger } from '../log.js';
import { microTime, monotonicNow, sleep, systemClock, type Clock, type TimerHandle } from './clock.js';
import type { KubeClient } from './client.js';
import { Kinds, resourcePath } from './resources.js';
import { isConflict, isNotFound } from './rest.js';

/** coordination.k8s.io/v1 Lease, the fields we use. */
export interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string; uid?: string };
  spec: LeaseSpec;
}

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  /** Unique per replica (e.g. pod name + random suffix). */
  identity: string;
  /** How long others wait after the last renewal they saw before taking over (default 15 s). */
  leaseDurationMs?: number;
  /** The leader steps down when it could not renew for this long (default 10 s; < leaseDuration). */
  renewDeadlineMs?: number;
  /** Time between attempts (default 2 s). */
  retryPeriodMs?: number;
  /** Called on becoming leader; the signal aborts when leadership ends. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /**
   * Called after leadership ends, with why (awaited before the lease is released, and before a new term can
   * begin). The term's signal is aborted before it is called.
   */
  onStoppedLeading?(why: string): void | Promise<void>;
  /** Called when the observed holder changes (including to ourselves). */
  onNewLeader?(identity: string): void;
  clock?: Clock;
  logger?: Logger;
}

export type ElectorState = 'standby' | 'leader' | 'stopped';

/**
 * What a candidate may do given the lease as last observed, judged on the local clock only (the holder's
 * renewTime is never compared with our clock, so clock skew between replicas does not matter).
 */
export function canAcquire(
  spec: LeaseSpec,
  identity: string,
  observedAtMs: number,
  nowMs: number,
): { ok: true } | { ok: false; holder: string; expiresInMs: number } {
  const holder = spec.holderIdentity ?? '';
  if (!holder || holder === identity) return { ok: true };
  const expiresAt = observedAtMs + (spec.leaseDurationSeconds ?? 0) * 1000;
  if (nowMs >= expiresAt) return { ok: true };
  return { ok: false, holder, expiresInMs: expiresAt - nowMs };
}

/**
 * Lease-based leader election. Updates carry the lease's resourceVersion (opaque, compared only for
 * equality by the server), so two candidates can never both win the same round. All timing is monotonic
 * (a wall-clock step cannot extend a term); the wall clock only fills the Lease's timestamps. A renewal
 * counts from when its request was sent, not from its answer: the server may have stored it at any time in
 * between, and others count the lease duration from when they saw it.
 */
export class LeaderElector {
  private readonly clock: Clock;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly path: string;
  private current: ElectorState = 'standby';
  private running = false;
  private loop: Promise<void> | undefined;
  private wake = new AbortController();
  private leading: AbortController | undefined;
  private lease: Lease | undefined;
  private observedKey = '';
  private observedAtMs = 0;
  private lastRenewMs = 0;
  private deadline: TimerHandle | undefined;
  private holder = '';
  private stepping: Promise<void> | undefined;

  constructor(
    private readonly client: Pick<KubeClient, 'rest'>,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    if (!opts.identity) throw new Error('leader election needs an identity');
    if (this.leaseDurationMs < 1000 || this.leaseDurationMs % 1000 !== 0) {
      throw new Error('leaseDurationMs must be whole seconds, at least 1 s');
    }
    if (this.renewDeadlineMs >= this.leaseDurationMs)
      throw new Error('renewDeadline must be shorter than leaseDuration');
    if (this.retryPeriodMs >= this.renewDeadlineMs)
      throw new Error('retryPeriod must be shorter than renewDeadline');
    this.path = resourcePath(Kinds.Lease, { namespace: opts.namespace, name: opts.name });
  }

  start(): void {
    if (this.running) return;
    if (this.current === 'stopped') throw new Error('leader elector was stopped');
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stops campaigning. A leader first ends its term (aborts the signal, awaits onStoppedLeading) and, with
   * release (default), hands the lease over at once by clearing the holder; without it, others wait for expiry.
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    if (this.current === 'stopped') return;
    this.running = false;
    this.wake.abort();
    await this.loop;
    const wasLeader = this.current === 'leader';
    await this.stepDown('stopping');
    this.current = 'stopped';
    if (wasLeader && (opts.release ?? true)) await this.release();
  }

  isLeader(): boolean {
    return this.current === 'leader';
  }

  state(): ElectorState {
    return this.current;
  }

  /** The uid of the Lease as last read or written (Events about the operator are recorded on it). */
  leaseUid(): string | undefined {
    return this.lease?.metadata?.uid;
  }

  /** The holder last observed on the lease ('' when none). */
  leader(): string {
    return this.holder;
  }

  /** Runs `fn` only while leading, with the term's signal; returns undefined on a standby. */
  async runIfLeader<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
    const term = this.leading;
    if (this.current !== 'leader' || !term) return undefined;
    return fn(term.signal);
  }

  private mono(): number {
    return monotonicNow(this.clock);
  }

  private async run(): Promise<void> {
    while (this.running) {
      const sentAt = this.mono();
      let ok = await this.tryAcquireOrRenew().catch((err: unknown) => {
        this.opts.logger?.warn({ err, lease: this.opts.name }, 'lease acquire/renew failed');
        return false;
      });
      if (!this.running) break;
      // An answer that came after the deadline (counted from the request) renews nothing.
      if (ok && this.mono() - sentAt >= this.renewDeadlineMs) ok = false;
      // A term that is ending finishes (its writes cancelled, its reconciles returned) before a new one begins.
      if (this.stepping) await this.stepping;
      if (ok) {
        this.lastRenewMs = sentAt;
        this.armDeadline(sentAt);
        if (this.current !== 'leader') this.becomeLeader();
      } else if (this.current === 'leader' && this.mono() - this.lastRenewMs >= this.renewDeadlineMs) {
        await this.stepDown('renew deadline passed');
      }
      try {
        await sleep(this.clock, this.retryPeriodMs, this.wake.signal);
      } catch {
        break;
      }
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now(); // wall clock: only for the Lease's timestamps
    const timeoutMs = this.renewDeadlineMs;
    // Fast path while leading: update the lease we last wrote, without reading it first.
    if (this.current === 'leader' && this.lease) {
      try {
        await this.write(this.lease, now, timeoutMs);
        return true;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    let lease: Lease;
    try {
      lease = (await this.client.rest.request<Lease>({ method: 'GET', path: this.path, timeoutMs })).body;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return this.create(now, timeoutMs);
    }
    // Observed when the answer came (the later time: others' leases are never cut short).
    this.observe(lease);
    const verdict = canAcquire(lease.spec ?? {}, this.opts.identity, this.observedAtMs, this.mono());
    if (!verdict.ok) {
      this.lease = undefined;
      // Someone else holds a live lease: our term is over whatever our deadline says.
      if (this.current === 'leader') await this.stepDown(`lease held by ${verdict.holder}`);
      return false;
    }
    try {
      await this.write(lease, now, timeoutMs);
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // someone else wrote first
      throw err;
    }
  }

  private async create(now: number, timeoutMs: number): Promise<boolean> {
    const lease: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.opts.name, namespace: this.opts.namespace },
      spec: {
        holderIdentity: this.opts.identity,
        leaseDurationSeconds: this.leaseDurationMs / 1000,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      },
    };
    try {
      const res = await this.client.rest.request<Lease>({
        method: 'POST',
        path: resourcePath(Kinds.Lease, { namespace: this.opts.namespace }),
        body: lease,
        timeoutMs,
      });
      this.lease = res.body;
      this.observe(res.body);
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // created by another candidate meanwhile
      throw err;
    }
  }

  /** PUT with the read resourceVersion as precondition: a 409 means we lost the race. */
  private async write(base: Lease, now: number, timeoutMs: number): Promise<void> {
    const old = base.spec ?? {};
    const mine = old.holderIdentity === this.opts.identity;
    const next: Lease = {
      ...base,
      spec: {
        ...old,
        holderIdentity: this.opts.identity,
        leaseDurationSeconds: this.leaseDurationMs / 1000,
        acquireTime: mine && old.acquireTime ? old.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: mine ? (old.leaseTransitions ?? 0) : (old.leaseTransitions ?? 0) + 1,
      },
    };
    const res = await this.client.rest.request<Lease>({
      method: 'PUT',
      path: this.path,
      body: next,
      timeoutMs,
    });
    this.lease = res.body;
    this.observe(res.body);
  }

  private observe(lease: Lease): void {
    const now = this.mono();
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ''}|${spec.renewTime ?? ''}|${lease.metadata.resourceVersion ?? ''}`;
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedAtMs = now;
    }
    const holder = spec.holderIdentity ?? '';
    if (holder !== this.holder) {
      this.holder = holder;
      if (holder) this.opts.onNewLeader?.(holder);
    }
  }

  private becomeLeader(): void {
    this.current = 'leader';
    const term = new AbortController();
    this.leading = term;
    this.opts.logger?.info({ lease: this.opts.name, identity: this.opts.identity }, 'became leader');
    void Promise.resolve()
      .then(() => this.opts.onStartedLeading(term.signal))
      .catch((err: unknown) => this.opts.logger?.error({ err }, 'onStartedLeading failed'));
  }

  /**
   * Steps down when no renewal has succeeded by the deadline (from the last renewal request sent), even while
   * a request hangs. The run loop awaits the step-down before it may start another term.
   */
  private armDeadline(sentAt: number): void {
    if (this.deadline) this.clock.clearTimeout(this.deadline);
    this.deadline = this.clock.setTimeout(
      () => {
        this.deadline = undefined;
        if (this.current === 'leader') void this.stepDown('renew deadline passed');
      },
      sentAt + this.renewDeadlineMs - this.mono(),
    );
  }

  private stepDown(why: string): Promise<void> {
    if (this.stepping) return this.stepping;
    if (this.deadline) this.clock.clearTimeout(this.deadline);
    this.deadline = undefined;
    if (this.current !== 'leader') return Promise.resolve();
    this.stepping = (async () => {
      this.current = 'standby';
      this.lease = undefined;
      this.leading?.abort(new Error(`leadership lost: ${why}`));
      this.leading = undefined;
      this.opts.logger?.warn({ lease: this.opts.name, identity: this.opts.identity, why }, 'stopped leading');
      try {
        await this.opts.onStoppedLeading?.(why);
      } catch (err) {
        this.opts.logger?.error({ err }, 'onStoppedLeading failed');
      }
    })().finally(() => {
      this.stepping = undefined;
    });
    return this.stepping;
  }

  /** Clears the holder and shortens the lease so the next candidate takes over on its next try. */
  private async release(): Promise<void> {
    try {
      const lease = (await this.client.rest.request<Lease>({ method: 'GET', path: this.path })).body;
      if (lease.spec?.holderIdentity !== this.opts.identity) return;
      const now = microTime(this.clock.now());
      await this.client.rest.request<Lease>({
        method: 'PUT',
        path: this.path,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: now,
            acquireTime: now,
          },
        },
      });
      this.opts.logger?.info({ lease: this.opts.name, identity: this.opts.identity }, 'released lease');
    } catch (err) {
      this.opts.logger?.warn(
        { err, lease: this.opts.name },
        'could not release lease; others wait for expiry',
      );
    }
  }
}
