import type { V1EnvVar } from '@kubernetes/client-node';
import type { TrainingJob } from '../../api/v1alpha1/index.js';
import { replicaAddress } from './names.js';

/**
 * Only a gang of two replicas or more gets a headless Service: one replica talks to itself over localhost, and
 * a Service is a write (and EndpointSlice writes by the cluster) for nothing. Nine jobs in ten are one replica.
 */
export function needsService(job: TrainingJob): boolean {
  return job.spec.replicas > 1;
}

/**
 * The env training launchers read to find each other, as Kubeflow's PyTorchJob sets it: replica 0 is the
 * coordinator; WORLD_SIZE and RANK count replicas (one process per pod, env:// initialisation); torchrun reads
 * the PET_* variables as its flags (PET_NNODES is --nnodes, PET_NODE_RANK is --node-rank...) and sets
 * WORLD_SIZE and RANK for each worker process itself (nnodes × nproc-per-node). The static rendezvous torchrun
 * uses by default needs only these; with --rdzv-backend=c10d, PET_RDZV_ENDPOINT names replica 0 as the store.
 */
export function rendezvousEnv(job: TrainingJob, replica: number): V1EnvVar[] {
  // A one-replica job is its own coordinator: no Service, no DNS name to wait for.
  const addr = needsService(job) ? replicaAddress(job, 0) : 'localhost';
  const port = String(job.spec.rendezvous.port);
  const replicas = String(job.spec.replicas);
  const rank = String(replica);
  const endpoint = `${addr}:${port}`;
  const vars: [string, string][] = [
    ['MASTER_ADDR', addr],
    ['MASTER_PORT', port],
    ['WORLD_SIZE', replicas],
    ['RANK', rank],
    ['PET_MASTER_ADDR', addr],
    ['PET_MASTER_PORT', port],
    ['PET_NNODES', replicas],
    ['PET_NPROC_PER_NODE', String(job.spec.gpusPerReplica)],
    ['PET_NODE_RANK', rank],
    ['PET_RDZV_ENDPOINT', endpoint],
    ['JAX_COORDINATOR_ADDRESS', endpoint],
    ['JAX_NUM_PROCESSES', replicas],
    ['JAX_PROCESS_ID', rank],
  ];
  return vars.map(([name, value]) => ({ name, value }));
}
