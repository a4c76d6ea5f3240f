import { describe, expect, it } from '@jest/globals';
import { buildTrainingPod } from '../../../src/controller/pods.js';
import {
  buildRendezvousService,
  needsService,
  rendezvousEnv,
  replicaHostname,
  serviceName,
} from '../../../src/controller/rendezvous/index.js';
import { job, policy } from './operator-fixtures.js';

const envOf = (vars: { name: string; value?: string }[] | undefined): Record<string, string | undefined> =>
  Object.fromEntries((vars ?? []).map((e) => [e.name, e.value]));

describe('rendezvous names', () => {
  it('the Service is named after the job; hostnames are <service>-<replica>', () => {
    expect(serviceName('llm-pretrain-7b')).toBe('llm-pretrain-7b');
    expect(replicaHostname('llm-pretrain-7b', 3)).toBe('llm-pretrain-7b-3');
  });

  it('a job name that is no Service name (dots, a leading digit, too long) gets a valid, distinct one', () => {
    const valid = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
    for (const name of ['llm.v2', '7b-run', 'x'.repeat(63) + 'y', `a${'-b'.repeat(100)}`]) {
      const s = serviceName(name);
      expect(s).toMatch(valid);
      expect(s.length).toBeLessThanOrEqual(63);
      for (const r of [0, 9, 255]) {
        const h = replicaHostname(name, r);
        expect(h).toMatch(valid);
        expect(h.length).toBeLessThanOrEqual(63);
        expect(h.endsWith(`-${r}`)).toBe(true);
      }
    }
    expect(serviceName('llm.v2')).not.toBe(serviceName('llm-v2'));
    expect(serviceName('x'.repeat(64))).not.toBe(serviceName('x'.repeat(65)));
  });
});

describe('rendezvous env', () => {
  it('a one-replica job is its own coordinator: localhost, and no Service', () => {
    const j = job('solo', { replicas: 1, gpusPerReplica: 8 });
    expect(needsService(j)).toBe(false);
    expect(needsService(job('pair', { replicas: 2, gpusPerReplica: 8 }))).toBe(true);
    expect(envOf(rendezvousEnv(j, 0))).toMatchObject({
      MASTER_ADDR: 'localhost',
      PET_RDZV_ENDPOINT: 'localhost:29500',
      WORLD_SIZE: '1',
      RANK: '0',
    });
  });

  it('a 4×8 gang: replica 2 knows replica 0 as its coordinator, its rank, and the torchrun and JAX variables', () => {
    const j = job('llm', { replicas: 4, gpusPerReplica: 8 });
    expect(envOf(rendezvousEnv(j, 2))).toEqual({
      MASTER_ADDR: 'llm-0.llm.ml.svc',
      MASTER_PORT: '29500',
      WORLD_SIZE: '4',
      RANK: '2',
      PET_MASTER_ADDR: 'llm-0.llm.ml.svc',
      PET_MASTER_PORT: '29500',
      PET_NNODES: '4',
      PET_NPROC_PER_NODE: '8',
      PET_NODE_RANK: '2',
      PET_RDZV_ENDPOINT: 'llm-0.llm.ml.svc:29500',
      JAX_COORDINATOR_ADDRESS: 'llm-0.llm.ml.svc:29500',
      JAX_NUM_PROCESSES: '4',
      JAX_PROCESS_ID: '2',
    });
  });

  it('the port is the job’s', () => {
    const j = job('llm', { rendezvous: { port: 23456 } });
    const env = envOf(rendezvousEnv(j, 0));
    expect(env.MASTER_PORT).toBe('23456');
    expect(env.PET_RDZV_ENDPOINT).toBe('llm-0.llm.ml.svc:23456');
  });

  it('ranks of a gang are distinct and complete', () => {
    const j = job('llm', { replicas: 5 });
    const ranks = [0, 1, 2, 3, 4].map((r) => envOf(rendezvousEnv(j, r)));
    expect(ranks.map((e) => e.RANK).sort()).toEqual(['0', '1', '2', '3', '4']);
    expect(new Set(ranks.map((e) => e.MASTER_ADDR)).size).toBe(1);
  });
});

describe('a replica under the Service', () => {
  it('hostname and subdomain fixed across runs; rendezvous env first, the job’s env may override and refer to it', () => {
    const j = job('llm', {
      env: [
        { name: 'MASTER_PORT', value: '1234' },
        { name: 'INIT', value: 'tcp://$(MASTER_ADDR):1234' },
      ],
    });
    const run0 = buildTrainingPod(j, 0, 1, 'gpu-1', policy());
    const run3 = buildTrainingPod(j, 3, 1, 'gpu-9', policy());
    expect(run0.metadata?.name).not.toBe(run3.metadata?.name);
    for (const p of [run0, run3]) {
      expect(p.spec?.hostname).toBe('llm-1');
      expect(p.spec?.subdomain).toBe('llm');
    }
    const env = run0.spec?.containers[0]?.env ?? [];
    const names = env.map((e) => e.name);
    expect(names.filter((n) => n === 'MASTER_PORT')).toHaveLength(1);
    expect(envOf(env).MASTER_PORT).toBe('1234');
    expect(names.indexOf('MASTER_ADDR')).toBeLessThan(names.indexOf('INIT'));
    expect(names.indexOf('INIT')).toBeLessThan(names.indexOf('RIGSHIFT_REPLICA_INDEX'));
  });

  it('the Service: headless, publishes unready pods, selects the job’s trainers, owned by the job', () => {
    const j = job('llm', { rendezvous: { port: 29400 } });
    const svc = buildRendezvousService(j);
    expect(svc.metadata).toMatchObject({ name: 'llm', namespace: 'ml' });
    expect(svc.metadata?.ownerReferences).toEqual([
      {
        apiVersion: 'rigshift.io/v1alpha1',
        kind: 'TrainingJob',
        name: 'llm',
        uid: 'uid-llm',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(svc.spec).toEqual({
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: {
        'app.kubernetes.io/managed-by': 'rigshift',
        'rigshift.io/trainingjob': 'llm',
        'app.kubernetes.io/component': 'trainer',
      },
      ports: [{ name: 'rendezvous', port: 29400, targetPort: 29400, protocol: 'TCP' }],
    });
    // Every replica of every run carries the labels the Service selects.
    const pod = buildTrainingPod(j, 2, 1, 'gpu-1', policy());
    expect(pod.metadata?.labels).toMatchObject(svc.spec?.selector ?? {});
  });
});
