import { lookupField, parseFieldPath } from './field-path.js';
import type { PriceProblemCode, RawResult, RawSource } from './types.js';

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export interface HttpSourceOptions {
  url: string;
  fieldPath?: string;
  timeoutSeconds: number;
  /** Bodies beyond this are cut off while streaming, never buffered whole. */
  maxBodyBytes?: number;
  /** Injected for tests; Node's global fetch otherwise. */
  fetch?: typeof fetch;
}

/** A JSON endpoint with a numeric field. One request per fetch(); the refresh interval lives in the wrapper. */
export class HttpJsonSource implements RawSource {
  readonly description: string;
  private readonly shownUrl: string;
  private readonly segments: string[];
  private readonly maxBodyBytes: number;
  private readonly fetchImpl: typeof fetch;
  private readonly requestUrl: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: HttpSourceOptions) {
    this.shownUrl = redactUrl(options.url);
    this.segments = parseFieldPath(options.fieldPath);
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    // fetch refuses URLs with credentials: send them as Basic auth instead.
    const { url, authorization } = splitCredentials(options.url);
    this.requestUrl = url;
    this.headers = { accept: 'application/json, text/plain;q=0.9, */*;q=0.1' };
    if (authorization) this.headers.authorization = authorization;
    const field = this.segments.length > 0 ? ` field ${this.segments.join('.')}` : '';
    this.description = `HTTP ${this.shownUrl}${field}`;
  }

  async fetch(): Promise<RawResult> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.options.timeoutSeconds * 1000);
    const fail = (code: PriceProblemCode, reason: string): RawResult => ({ ok: false, code, reason });
    const failed = (err: unknown, stage: string): RawResult =>
      timedOut
        ? fail('Timeout', `${stage} from ${this.shownUrl} took longer than ${this.options.timeoutSeconds}s`)
        : fail('FetchFailed', `${stage} from ${this.shownUrl} failed: ${this.scrub(errorText(err))}`);
    try {
      let response: Response;
      try {
        response = await this.fetchImpl(this.requestUrl, {
          signal: controller.signal,
          headers: this.headers,
        });
      } catch (err) {
        return failed(err, 'answer');
      }
      if (!response.ok) {
        controller.abort();
        return fail('FetchFailed', `HTTP ${response.status} from ${this.shownUrl}`);
      }
      const declared = Number(response.headers.get('content-length') ?? NaN);
      if (declared > this.maxBodyBytes) {
        controller.abort();
        return fail(
          'BodyTooLarge',
          `response from ${this.shownUrl} is ${declared} bytes, more than ${this.maxBodyBytes}`,
        );
      }
      let body: Buffer | 'tooLarge';
      try {
        body = await readCapped(response, this.maxBodyBytes, controller);
      } catch (err) {
        return failed(err, 'body');
      }
      if (body === 'tooLarge') {
        return fail('BodyTooLarge', `response from ${this.shownUrl} is more than ${this.maxBodyBytes} bytes`);
      }
      return this.extract(body, response.headers.get('content-type'));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Error texts may quote the URL; show only its redacted form. */
  private scrub(text: string): string {
    return text.split(this.options.url).join(this.shownUrl).split(this.requestUrl).join(this.shownUrl);
  }

  /** Any content type is tried as JSON (servers often say text/plain); the type only helps the message. */
  private extract(body: Buffer, contentType: string | null): RawResult {
    const text = new TextDecoder().decode(body).replace(/^\uFEFF/, '');
    let parsed: unknown;
    try {
      if (text.trim() === '') throw new Error('empty');
      parsed = JSON.parse(text);
    } catch {
      const type = contentType ? ` (${contentType.split(';')[0]?.trim()})` : '';
      const snippet = text.trim() === '' ? 'an empty body' : `'${oneLine(text, 60)}'`;
      return {
        ok: false,
        code: 'NotJson',
        reason: `response from ${this.shownUrl}${type} is not JSON: ${snippet}`,
      };
    }
    const found = lookupField(parsed, this.segments);
    if (!found.found) {
      return {
        ok: false,
        code: 'Missing',
        reason: `field ${this.segments.join('.')} missing: ${found.reason}`,
      };
    }
    if (found.value === null || found.value === undefined) {
      return { ok: false, code: 'Missing', reason: `field ${this.segments.join('.') || '(body)'} is null` };
    }
    return { ok: true, raw: found.value };
  }
}

/** Streams the body, aborting the request as soon as it passes `cap` bytes. */
async function readCapped(
  response: Response,
  cap: number,
  controller: AbortController,
): Promise<Buffer | 'tooLarge'> {
  if (response.body === null) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > cap) {
      controller.abort();
      await reader.cancel().catch(() => undefined);
      return 'tooLarge';
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Messages end up in conditions and Events: never show credentials or query strings (API keys live there). */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.username = '';
    url.password = '';
    const hidden = url.search !== '' ? '?…' : '';
    url.search = '';
    url.hash = '';
    return `${url.toString()}${hidden}`;
  } catch {
    return '(invalid URL)';
  }
}

function splitCredentials(raw: string): { url: string; authorization?: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { url: raw };
  }
  if (url.username === '' && url.password === '') return { url: raw };
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  return {
    url: url.toString(),
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
  };
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici wraps the interesting part: "fetch failed" with cause ECONNREFUSED, "other side closed", ...
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} (${cause.message})` : cause.message;
  }
  return err.message;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
