import type { RawResult, RawSource } from './types.js';

/** A literal value from the spec, e.g. "0.0021". Still validated like any other reading. */
export class StaticSource implements RawSource {
  readonly description: string;

  constructor(private readonly value: string) {
    this.description = `value ${value}`;
  }

  fetch(): Promise<RawResult> {
    return Promise.resolve({ ok: true, raw: this.value });
  }
}
