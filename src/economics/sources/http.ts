import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import {
  checkTarget,
  errorDetail,
  NO_EGRESS,
  type EgressRules,
  type ResolvedAddress,
  type Resolver,
} from './egress.js';
import { lookupField, parseFieldPath } from './field-path.js';
import type { PriceProblemCode, RawResult, RawSource } from './types.js';

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** One GET; the global fetch fits (tests inject it), the default connects to the checked address. */
export type Transport = (
  url: string,
  init: { signal: AbortSignal; headers: Record<string, string>; redirect: 'manual' },
) => Promise<Response>;

/** A header whose value is read from a Secret in the pool's namespace on every fetch. */
export interface SecretHeader {
  name: string;
  secretKeyRef: { name: string; key: string };
}

/** Reads one key of a Secret: its value, undefined when the Secret or key does not exist; throws otherwise. */
export type SecretReader = (name: string, key: string) => Promise<string | undefined>;

export interface HttpSourceOptions {
  url: string;
  fieldPath?: string;
  timeoutSeconds: number;
  /** Bodies beyond this are cut off while streaming, never buffered whole. */
  maxBodyBytes?: number;
  /** Where the source may connect (default: nowhere). */
  egress?: EgressRules;
  /** DNS for the egress check (tests); the system resolver otherwise. */
  resolve?: Resolver;
  headers?: readonly SecretHeader[];
  readSecret?: SecretReader;
  /** Replaces the connection to the checked address (tests); the egress rules still apply. */
  fetch?: Transport;
  /** Details kept out of status and Events (socket errors, resolved addresses): the operator's debug log. */
  debug?: (detail: Record<string, unknown>, message: string) => void;
}

/**
 * A JSON endpoint with a numeric field. One request per fetch(); the refresh interval lives in the wrapper.
 * Reasons end up in the pool's status and Events, readable by whoever wrote the pool: they are fixed words
 * and sizes, never the body, a field's content or a socket error.
 */
export class HttpJsonSource implements RawSource {
  readonly description: string;
  private readonly shownUrl: string;
  private readonly segments: string[];
  private readonly maxBodyBytes: number;

  constructor(private readonly options: HttpSourceOptions) {
    this.shownUrl = redactUrl(options.url);
    this.segments = parseFieldPath(options.fieldPath);
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const field = this.segments.length > 0 ? ` field ${this.segments.join('.')}` : '';
    this.description = `HTTP ${this.shownUrl}${field}`;
  }

  async fetch(): Promise<RawResult> {
    const fail = (code: PriceProblemCode, reason: string, detail?: unknown): RawResult => {
      if (detail !== undefined)
        this.options.debug?.({ url: this.shownUrl, code, detail: errorDetail(detail) }, 'price fetch failed');
      return { ok: false, code, reason };
    };
    let url: URL;
    try {
      url = new URL(this.options.url);
    } catch {
      return fail('InvalidSource', 'http.url is not a URL');
    }
    const check = await checkTarget(url, this.options.egress ?? NO_EGRESS, this.options.resolve);
    if (!check.ok) return fail(check.code, check.reason, check.detail);
    const headers: Record<string, string> = { accept: 'application/json, text/plain;q=0.9, */*;q=0.1' };
    for (const h of this.options.headers ?? []) {
      const { name, key } = h.secretKeyRef;
      let value: string | undefined;
      try {
        value = await this.options.readSecret?.(name, key);
      } catch (err) {
        return fail('FetchFailed', `Secret ${name} could not be read for header ${h.name}`, err);
      }
      if (value === undefined)
        return fail('FetchFailed', `Secret ${name} key ${key} not found (header ${h.name})`);
      headers[h.name.toLowerCase()] = value.trim();
    }

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.options.timeoutSeconds * 1000);
    const failed = (err: unknown, stage: string): RawResult =>
      timedOut
        ? fail('Timeout', `${stage} took longer than ${this.options.timeoutSeconds}s`)
        : fail('FetchFailed', 'connection or TLS handshake failed (details in the operator log)', err);
    try {
      const transport = this.options.fetch ?? pinnedTransport(check.target, check.host);
      let response: Response;
      try {
        response = await transport(url.toString(), {
          signal: controller.signal,
          headers,
          redirect: 'manual',
        });
      } catch (err) {
        return failed(err, 'answer');
      }
      if (response.status >= 300 && response.status < 400) {
        controller.abort();
        return fail('FetchFailed', `redirect not followed (HTTP ${response.status})`);
      }
      if (!response.ok) {
        controller.abort();
        return fail('FetchFailed', `HTTP ${response.status}`);
      }
      const declared = Number(response.headers.get('content-length') ?? NaN);
      if (declared > this.maxBodyBytes) {
        controller.abort();
        return fail('BodyTooLarge', `answer is ${declared} bytes, more than ${this.maxBodyBytes}`);
      }
      let body: Buffer | 'tooLarge';
      try {
        body = await readCapped(response, this.maxBodyBytes, controller);
      } catch (err) {
        return failed(err, 'body');
      }
      if (body === 'tooLarge') return fail('BodyTooLarge', `answer is more than ${this.maxBodyBytes} bytes`);
      return this.extract(body);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Any content type is tried as JSON (servers often say text/plain). */
  private extract(body: Buffer): RawResult {
    const text = new TextDecoder().decode(body).replace(/^\uFEFF/, '');
    let parsed: unknown;
    try {
      if (text.trim() === '') throw new Error('empty');
      parsed = JSON.parse(text);
    } catch {
      const size = text.trim() === '' ? 'empty' : `${body.byteLength} bytes`;
      return { ok: false, code: 'NotJson', reason: `answer is not JSON (${size})` };
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

/**
 * GET over a new connection to the address the egress check approved, with the URL's host as Host header
 * and TLS server name (certificates are checked against the name). Redirects are never followed.
 */
export function pinnedTransport(target: ResolvedAddress, host: string): Transport {
  return (raw, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(raw);
      const secure = url.protocol === 'https:';
      const options: https.RequestOptions = {
        host: target.address,
        family: target.family,
        port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { ...init.headers, host: url.host },
        agent: false,
        signal: init.signal,
      };
      if (secure && isIP(host) === 0) options.servername = host;
      const req = (secure ? https : http).request(options, (res) => {
        try {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) headers.append(k, one);
          }
          const status = res.statusCode ?? 0;
          const empty = status === 204 || status === 205 || status === 304;
          if (empty) res.resume();
          const body = empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
          resolve(new Response(body, { status, headers }));
        } catch (err) {
          res.destroy();
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
      req.on('error', reject);
      req.end();
    });
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
