import type { RawResult, RawSource } from './types.js';

/** The data of a ConfigMap, or undefined when it does not exist (the operator passes an informer-cache lookup). */
export type ConfigMapData = () => Record<string, string> | undefined;

/** One key of a ConfigMap. Kubernetes I/O stays outside: the getter reads whatever cache the caller has. */
export class ConfigMapKeySource implements RawSource {
  readonly description: string;

  constructor(
    private readonly name: string,
    private readonly key: string,
    private readonly data: ConfigMapData,
  ) {
    this.description = `ConfigMap ${name} key ${key}`;
  }

  fetch(): Promise<RawResult> {
    let data: Record<string, string> | undefined;
    try {
      data = this.data();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return Promise.resolve({
        ok: false,
        code: 'FetchFailed',
        reason: `ConfigMap ${this.name}: ${message}`,
      });
    }
    if (data === undefined) {
      return Promise.resolve({ ok: false, code: 'Missing', reason: `ConfigMap ${this.name} not found` });
    }
    if (!Object.hasOwn(data, this.key)) {
      return Promise.resolve({
        ok: false,
        code: 'Missing',
        reason: `key ${this.key} missing from ConfigMap ${this.name}`,
      });
    }
    return Promise.resolve({ ok: true, raw: data[this.key] });
  }
}
