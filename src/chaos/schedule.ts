/** The chaos run's seeded randomness: when each fault happens and which jobs arrive. Pure. */

export type FaultKind =
  'kill' | 'second-replica-up' | 'second-replica-down' | 'apiserver-restart' | 'freeze' | 'thaw';

export interface Fault {
  kind: FaultKind;
  /** Seconds from the start of the run. */
  at: number;
}

/** mulberry32: a small, well-mixed 32-bit PRNG; the same seed gives the same run plan. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `kills` SIGKILLs at random instants in the first 90% of the run, a second replica from 30% to 70%, two API
 * server restarts (one in each half) and one watch freeze (a quarter of the run, at most 30 s), sorted.
 */
export function planFaults(random: () => number, durationSeconds: number, kills: number): Fault[] {
  const d = durationSeconds;
  const out: Fault[] = [];
  for (let i = 0; i < kills; i++) out.push({ kind: 'kill', at: d * (0.05 + 0.85 * random()) });
  out.push({ kind: 'second-replica-up', at: d * 0.3 }, { kind: 'second-replica-down', at: d * 0.7 });
  out.push({ kind: 'apiserver-restart', at: d * (0.1 + 0.3 * random()) });
  out.push({ kind: 'apiserver-restart', at: d * (0.55 + 0.3 * random()) });
  const freezeAt = d * (0.2 + 0.5 * random());
  out.push({ kind: 'freeze', at: freezeAt }, { kind: 'thaw', at: freezeAt + Math.min(30, d / 4) });
  return out.sort((a, b) => a.at - b.at);
}

const pick = <T>(random: () => number, xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;

/**
 * The n-th job of the stream: either tier, gangs of 1..4 replicas of 2, 4 or 8 GPUs, bids around the mining
 * yield, finishing after 10..60 s. About one in six goes to the namespace whose quota lets only two training
 * pods exist, so its gangs of three or more cannot start.
 */
export function nextJob(random: () => number, n: number, ns: { farm: string; limited: string }): object {
  const limited = random() < 1 / 6;
  const replicas = 1 + Math.floor(random() * 4);
  const gpus = pick(random, [2, 4, 8]);
  const tier = random() < 0.5 ? 'OnDemand' : 'Interruptible';
  const bid = 0.05 + random() * 0.95;
  const runSeconds = 10 + Math.floor(random() * 50);
  return {
    apiVersion: 'rigshift.io/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name: `job-${n}`, namespace: limited ? ns.limited : ns.farm },
    spec: {
      image: 'train:1',
      replicas,
      gpusPerReplica: gpus,
      bidUsdPerGpuHour: bid.toFixed(2),
      tier,
      minRuntimeSeconds: tier === 'Interruptible' ? 5 : 0,
      checkpointGracePeriodSeconds: 1,
      startTimeoutSeconds: 30,
      podAnnotations: {
        'pod-complete.stage.kwok.x-k8s.io/delay': `${runSeconds}s`,
        'pod-complete.stage.kwok.x-k8s.io/jitter-delay': `${runSeconds + 1}s`,
      },
    },
  };
}
