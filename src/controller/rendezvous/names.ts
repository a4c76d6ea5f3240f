import { createHash } from 'node:crypto';
import type { TrainingJob } from '../../api/v1alpha1/index.js';

/**
 * DNS names of a job's rendezvous: the headless Service (named after the job) and each replica's hostname under
 * it. Both are fixed for the life of the job: pod names change with every run, the names here never do.
 */

/** A Service name is a DNS-1035 label: lower-case letters, digits and '-', starting with a letter, ≤ 63. */
const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 8);
}

/** The job's name when it is a valid Service name; otherwise a readable prefix of it and a hash of the whole. */
export function serviceName(jobName: string): string {
  if (jobName.length <= 63 && DNS_1035.test(jobName)) return jobName;
  let base = jobName.replace(/[^-a-z0-9]/g, '-');
  if (!/^[a-z]/.test(base)) base = `j-${base}`;
  base = base.slice(0, 63 - 9).replace(/-+$/, '');
  return `${base}-${shortHash(jobName)}`;
}

/** Hostname of a replica (spec.hostname, a DNS label ≤ 63): `<service>-<replica>`, the same in every run. */
export function replicaHostname(jobName: string, replica: number): string {
  const suffix = `-${replica}`;
  const base = serviceName(jobName)
    .slice(0, 63 - suffix.length)
    .replace(/-+$/, '');
  return `${base}${suffix}`;
}

/**
 * A replica's DNS name, `<hostname>.<service>.<namespace>.svc`: resolvable from every pod of the cluster
 * through the search path, whatever the cluster domain is.
 */
export function replicaAddress(job: TrainingJob, replica: number): string {
  const name = job.metadata.name ?? '';
  return `${replicaHostname(name, replica)}.${serviceName(name)}.${job.metadata.namespace ?? 'default'}.svc`;
}
