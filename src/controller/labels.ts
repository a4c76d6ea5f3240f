import { NVIDIA } from '../api/v1alpha1/gpus.js';
import { GPU_RESOURCE, MANAGED_BY, MANAGED_BY_LABEL, MINING_POOL_LABEL } from './pool-keys.js';

/** Labels, annotations and names the operator writes. Mode label and taint keys come from the FleetPolicy. */

export { GPU_RESOURCE, MANAGED_BY, MANAGED_BY_LABEL, MINING_POOL_LABEL };

/** GPU Feature Discovery labels on GPU nodes (other vendors' labels: api/v1alpha1/gpus.ts). */
export const PRODUCT_LABEL = NVIDIA.productLabel;

/** On training pods: the TrainingJob they belong to, their replica index and run (preemptions so far). */
export const TRAINING_JOB_LABEL = 'rigshift.io/trainingjob';
export const REPLICA_LABEL = 'rigshift.io/replica';
export const RUN_LABEL = 'rigshift.io/run';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** On the operator's pods: the node they are pinned to (spec.nodeName is empty until scheduled). */
export const POD_NODE_ANNOTATION = 'rigshift.io/node';
/** On mining pods: hash of what they were built from, so a changed pool or GPU count replaces them. */
export const SPEC_HASH_ANNOTATION = 'rigshift.io/spec-hash';

/** Node annotations written by the node reconciler (field manager `rigshift`). */
export const MODE_SINCE = 'rigshift.io/mode-since';
export const DRAINING_TO = 'rigshift.io/draining-to';
export const DRAIN_STARTED = 'rigshift.io/drain-started';
/** Set when a drain was given up (policy Abort): the planner leaves the node alone for a drain timeout. */
export const DRAIN_ABORTED = 'rigshift.io/drain-aborted';
/** Which pods keep a drain from finishing and why (PDB, finalizer...): set while stalled and after an Abort. */
export const DRAIN_STALLED = 'rigshift.io/drain-stalled';
/** The label and taint keys the mode was last written under, so a policy that changes them removes the old. */
export const MODE_LABEL_KEY = 'rigshift.io/mode-label-key';
export const TAINT_KEY = 'rigshift.io/taint-key';

/** Node annotations written by the fleet planner (field manager `rigshift-planner`). */
export const TARGET_MODE = 'rigshift.io/target-mode';
export const TARGET_REASON = 'rigshift.io/target-reason';
/** GPUs the plan has mining on the node (a training node's leftover GPUs may mine). */
export const TARGET_MINING_GPUS = 'rigshift.io/target-mining-gpus';

export const FINALIZER = 'rigshift.io/cleanup';
export const TAINT_VALUE = 'training';

/**
 * Field managers. Each actor owns its own fields so that server-side apply never removes another's: the node
 * and job reconcilers own modes, pods and progress; the planner owns targets, admission and queueing.
 */
export const FIELD_MANAGER = 'rigshift';
export const PLANNER_MANAGER = 'rigshift-planner';

/** Label selector of the pods the operator owns. */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
