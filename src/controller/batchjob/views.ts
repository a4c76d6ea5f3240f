import type { TrainingJob } from '../../api/v1alpha1/index.js';
import type { Caches } from '../caches.js';
import { adaptBatchJob, optedIn, readLedger } from './adapt.js';
import { findLedger } from './ledger.js';

/** Every opted-in Job that reads as a renter's job, as the planner's TrainingJob views. */
export function batchJobViews(
  caches: Caches,
  ledgerNamespace: string,
  onSkip?: (job: string, reason: string, message: string) => void,
): TrainingJob[] {
  const out: TrainingJob[] = [];
  for (const job of caches.batchJobs?.list() ?? []) {
    const cm = findLedger(caches.ledgers, ledgerNamespace, job.metadata?.uid ?? '');
    if (!optedIn(job) && !cm) continue;
    const a = adaptBatchJob(job, readLedger(cm));
    if (a.ok) out.push(a.view);
    else onSkip?.(`${job.metadata?.namespace ?? ''}/${job.metadata?.name ?? ''}`, a.reason, a.message);
  }
  return out;
}
