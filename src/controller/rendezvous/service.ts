import type { V1Service } from '@kubernetes/client-node';
import { API_VERSION, type TrainingJob } from '../../api/v1alpha1/index.js';
import { Kinds, resourcePath } from '../../kube/resources.js';
import { isAlreadyExists, isNotFound, type RestClient } from '../../kube/rest.js';
import {
  COMPONENT_LABEL,
  FIELD_MANAGER,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  TRAINING_JOB_LABEL,
} from '../labels.js';
import { jobLabelValue } from '../pods.js';
import { serviceName } from './names.js';

/** The labels every training pod of the job carries, in every run: what the Service selects. */
export function trainerSelector(jobName: string): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [TRAINING_JOB_LABEL]: jobLabelValue(jobName),
    [COMPONENT_LABEL]: 'trainer',
  };
}

/**
 * The job's headless Service: no cluster IP, one DNS record per replica (`<hostname>.<service>`), published
 * before the pods are ready so the replicas can rendezvous while they start. It selects the job's pods of every
 * run, which is exactly the current run's: a new run's pods are created only once the old run's are gone, and
 * finished pods leave the endpoints. Owned by the job, so the garbage collector deletes it with the job.
 */
export function buildRendezvousService(job: TrainingJob): V1Service {
  const name = job.metadata.name ?? '';
  const port = job.spec.rendezvous.port;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: serviceName(name),
      namespace: job.metadata.namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [TRAINING_JOB_LABEL]: jobLabelValue(name),
        [COMPONENT_LABEL]: 'rendezvous',
      },
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: 'TrainingJob',
          name,
          uid: job.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      clusterIP: 'None',
      selector: trainerSelector(name),
      publishNotReadyAddresses: true,
      ports: [{ name: 'rendezvous', port, targetPort: port, protocol: 'TCP' }],
    },
  };
}

export type ServiceState =
  | { ready: true; created: boolean }
  | { ready: false; reason: 'RendezvousServiceConflict' | 'RendezvousServicePending'; message: string };

/**
 * Makes sure the job's Service exists before its pods are created (their hostnames resolve only under it).
 * Idempotent: a create that finds it already there checks that it is this job's. A Service of the same name
 * that is not (the renter's own, or one left by a deleted job of the same name that the garbage collector has
 * not removed yet) is never touched: the pods wait, and the job says why.
 */
export async function ensureRendezvousService(
  rest: RestClient,
  job: TrainingJob,
  signal?: AbortSignal,
): Promise<ServiceState> {
  const svc = buildRendezvousService(job);
  const namespace = job.metadata.namespace;
  const name = svc.metadata?.name ?? '';
  try {
    await rest.request({
      method: 'POST',
      path: resourcePath(Kinds.Service, { namespace }),
      body: svc,
      query: { fieldManager: FIELD_MANAGER },
      signal,
    });
    return { ready: true, created: true };
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  let existing: V1Service;
  try {
    existing = (
      await rest.request<V1Service>({
        method: 'GET',
        path: resourcePath(Kinds.Service, { namespace, name }),
        signal,
      })
    ).body;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return { ready: false, reason: 'RendezvousServicePending', message: `Service ${name} is being deleted` };
  }
  const owners = existing.metadata?.ownerReferences ?? [];
  if (owners.some((o) => o.uid === job.metadata.uid)) return { ready: true, created: false };
  if (owners.some((o) => o.kind === 'TrainingJob' && o.name === job.metadata.name)) {
    return {
      ready: false,
      reason: 'RendezvousServicePending',
      message: `Service ${name} of an earlier TrainingJob ${job.metadata.name} is still being deleted`,
    };
  }
  return {
    ready: false,
    reason: 'RendezvousServiceConflict',
    message:
      `Service ${name} already exists and is not this job's: the replicas' hostnames resolve only under the ` +
      `job's own headless Service; delete or rename that Service`,
  };
}
