/**
 * Placeholders allowed in MiningPool spec.miner.args (and spec.miner.env values), expanded by the operator
 * for each node it starts a miner on.
 */
export const MINER_PLACEHOLDERS = {
  STRATUM: 'the primary stratum URL, spec.stratum.primary',
  FAILOVERS: 'the failover stratum URLs, comma-separated, or empty',
  WALLET: 'spec.wallet',
  WORKER: 'the worker name, spec.workerName with ${NODE} expanded',
  NODE: 'the name of the node the miner runs on',
  COIN: 'spec.coin',
  ALGORITHM: 'spec.algorithm',
  GPU_COUNT: 'the number of GPUs the miner gets, all GPUs of the node',
  PASSWORD:
    'a reference, $(RIGSHIFT_POOL_PASSWORD), to the env var the operator fills from spec.credentialsSecretRef, ' +
    'so the secret never appears in the pod spec, or empty when no credentials are set',
} as const;

export type MinerPlaceholder = keyof typeof MINER_PLACEHOLDERS;

/** Env var the operator fills from spec.credentialsSecretRef; ${PASSWORD} expands to a reference to it. */
export const POOL_PASSWORD_ENV = 'RIGSHIFT_POOL_PASSWORD';

const NAMES = Object.keys(MINER_PLACEHOLDERS).join('|');

/** An argument may contain `$` freely, but `${...}` only with a known placeholder name. No backslashes (CEL). */
export const MINER_TEMPLATE = new RegExp(`^([^$]|[$]([^{]|$)|[$][{](${NAMES})[}])*$`);

/** `${NODE}` is the only placeholder allowed in a worker name. */
export const WORKER_NAME = /^([-A-Za-z0-9._]|[$][{]NODE[}])+$/;

/** Human-readable list of the placeholders, for descriptions. */
export function describePlaceholders(): string {
  return Object.entries(MINER_PLACEHOLDERS)
    .map(([k, v]) => `\${${k}} is ${v}`)
    .join('; ');
}

/** Expands the placeholders in one template string; unknown `${...}` are left as they are. */
export function expandMinerTemplate(
  template: string,
  values: Partial<Record<MinerPlaceholder, string>>,
): string {
  return template.replace(/\$\{([A-Z_]+)\}/g, (whole, name: string) => {
    const v = values[name as MinerPlaceholder];
    return v === undefined ? whole : v;
  });
}
