import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { sleep, systemClock, type Clock } from './clock.js';

/** The API server's Status body (the part we read). */
export interface ApiStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    kind?: string;
    retryAfterSeconds?: number;
    /** StatusCause: its Go field Type is serialised as `reason`. */
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

/** A non-2xx answer from the API server, carrying its own message. */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly method: string,
    readonly path: string,
    readonly statusCode: number,
    readonly status: ApiStatus | undefined,
    readonly retryAfterSeconds: number | undefined,
    rawBody?: string,
  ) {
    const serverMessage =
      status?.message ?? (rawBody ? rawBody.slice(0, 500) : http.STATUS_CODES[statusCode]);
    super(
      `${method} ${path}: ${statusCode} ${status?.reason || http.STATUS_CODES[statusCode] || ''}: ${serverMessage}`,
    );
  }

  /** The server's own message (Status.message). */
  get serverMessage(): string {
    return this.status?.message ?? this.message;
  }

  get reason(): string | undefined {
    return this.status?.reason;
  }

  get causes(): NonNullable<NonNullable<ApiStatus['details']>['causes']> {
    return this.status?.details?.causes ?? [];
  }
}

export const isApiError = (err: unknown, code?: number): err is ApiError =>
  err instanceof ApiError && (code === undefined || err.statusCode === code);
export const isNotFound = (err: unknown): boolean => isApiError(err, 404);
export const isConflict = (err: unknown): boolean => isApiError(err, 409);
export const isAlreadyExists = (err: unknown): boolean =>
  isApiError(err, 409) && err.reason === 'AlreadyExists';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RestRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  /** Wait for Retry-After and try again on 429 (default true; the eviction API turns it off). */
  retryOn429?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface RestResponse<T> {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: T;
}

export interface RestClientOptions {
  clock?: Clock;
  /** 429 retries before giving up (default 5). */
  max429Retries?: number;
  /** Longest Retry-After we wait for (default 60 s). */
  maxRetryAfterMs?: number;
  /** Default per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** Called once per HTTP round trip (for request counting metrics); `path` without its query. */
  onRequest?(method: string, statusCode: number, ms: number, path: string): void;
  /**
   * The signal every write (any method but GET) is bound to: refused once it is aborted, cancelled when it
   * aborts mid-request. The operator passes its leadership term, so nothing is written after losing it.
   */
  writeFence?(): AbortSignal | undefined;
}

/** Thin JSON client over the KubeConfig's TLS and auth settings; errors carry the server's message. */
export interface RestClient {
  readonly kc: KubeConfig;
  request<T = unknown>(req: RestRequest): Promise<RestResponse<T>>;
}

export function createRestClient(kc: KubeConfig, opts: RestClientOptions = {}): RestClient {
  const clock = opts.clock ?? systemClock;
  const max429 = opts.max429Retries ?? 5;
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? 60_000;
  const defaultTimeout = opts.timeoutMs ?? 30_000;
  let agent: http.Agent | undefined;
  let agentKey: string | undefined;

  async function requestOptions(): Promise<{ url: URL; options: https.RequestOptions }> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const options: https.RequestOptions = {};
    // Fresh each time: tokens (in-cluster, exec plugins) rotate.
    await kc.applyToHTTPSOptions(options);
    if (!cluster.proxyUrl) {
      // applyToHTTPSOptions builds a new agent per call; keep one keep-alive agent per TLS identity instead.
      const key = [options.ca, options.cert, options.key, options.rejectUnauthorized, options.servername]
        .map((v) => (v === undefined ? '' : String(v)))
        .join('|');
      if (!agent || key !== agentKey) {
        agent?.destroy();
        const tls = {
          keepAlive: true,
          ca: options.ca,
          cert: options.cert,
          key: options.key,
          servername: options.servername,
          ...(options.rejectUnauthorized !== undefined
            ? { rejectUnauthorized: options.rejectUnauthorized }
            : {}),
        };
        agent = cluster.server.startsWith('http:')
          ? new http.Agent({ keepAlive: true })
          : new https.Agent(tls);
        agentKey = key;
      }
      options.agent = agent;
    }
    return { url: new URL(cluster.server), options };
  }

  async function once<T>(req: RestRequest): Promise<RestResponse<T> & { raw: string }> {
    const { url: base, options } = await requestOptions();
    const url = new URL(base.href.replace(/\/$/, '') + req.path);
    for (const [k, v] of Object.entries(req.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const payload =
      req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    const headers: http.OutgoingHttpHeaders = {
      ...((options.headers as http.OutgoingHttpHeaders | undefined) ?? {}),
      Accept: 'application/json',
    };
    if (payload !== undefined) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(payload);
    }
    const mod = url.protocol === 'http:' ? http : https;
    const started = clock.now();
    return new Promise((resolve, reject) => {
      const r = mod.request(
        url,
        {
          ...options,
          method: req.method,
          headers,
          signal: req.signal,
          timeout: req.timeoutMs ?? defaultTimeout,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            let body: unknown = raw;
            if (raw && (res.headers['content-type'] ?? '').includes('json')) {
              try {
                body = JSON.parse(raw);
              } catch {
                body = raw;
              }
            }
            opts.onRequest?.(req.method, res.statusCode ?? 0, clock.now() - started, req.path);
            resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: body as T, raw });
          });
        },
      );
      r.on('timeout', () => r.destroy(new Error(`timed out after ${req.timeoutMs ?? defaultTimeout} ms`)));
      r.on('error', (err) => reject(new Error(`${req.method} ${req.path}: ${err.message}`, { cause: err })));
      r.end(payload);
    });
  }

  return {
    kc,
    async request<T>(req: RestRequest): Promise<RestResponse<T>> {
      for (let attempt = 0; ; attempt++) {
        const res = await once<T>(fenced(req));
        if (res.statusCode >= 200 && res.statusCode < 300) {
          return { statusCode: res.statusCode, headers: res.headers, body: res.body };
        }
        const status = isStatus(res.body) ? res.body : undefined;
        const retryAfter = retryAfterSeconds(res.headers, status);
        if (res.statusCode === 429 && (req.retryOn429 ?? true) && attempt < max429) {
          await sleep(clock, Math.min(maxRetryAfterMs, (retryAfter ?? 1) * 1000), req.signal);
          continue;
        }
        throw new ApiError(req.method, req.path, res.statusCode, status, retryAfter, res.raw);
      }
    },
  };

  /** The request bound to the write fence (checked again before every attempt). */
  function fenced(req: RestRequest): RestRequest {
    const fence = req.method === 'GET' ? undefined : opts.writeFence?.();
    if (!fence) return req;
    if (fence.aborted) {
      const why = fence.reason instanceof Error ? fence.reason.message : String(fence.reason ?? 'fenced');
      throw new WriteFencedError(req.method, req.path, why);
    }
    return { ...req, signal: req.signal ? AbortSignal.any([req.signal, fence]) : fence };
  }
}

/**
 * The resource (and subresource) a request path names, as the API server's metrics label it: `pods`,
 * `pods/eviction`, `trainingjobs/status`; `namespaces` for a namespace itself; '' for discovery and others.
 */
export function resourceOf(path: string): string {
  const segs = path.split('?')[0]!.split('/').filter(Boolean);
  const rest = segs[0] === 'api' ? segs.slice(2) : segs[0] === 'apis' ? segs.slice(3) : [];
  const named = rest[0] === 'namespaces' && rest.length > 2 ? rest.slice(2) : rest;
  if (named.length === 0) return '';
  return named.length > 2 ? `${named[0]}/${named[2]}` : named[0]!;
}

/** A write refused before it was sent: the fence (the leadership term) has ended. */
export class WriteFencedError extends Error {
  override readonly name = 'WriteFencedError';

  constructor(method: string, path: string, why: string) {
    super(`${method} ${path}: not sent: ${why}`);
  }
}

function isStatus(body: unknown): body is ApiStatus {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'Status';
}

/** Retry-After in seconds from the header (seconds or HTTP date) or the Status details. */
export function retryAfterSeconds(
  headers: http.IncomingHttpHeaders,
  status: ApiStatus | undefined,
  nowMs = Date.now(),
): number | undefined {
  const h = headers['retry-after'];
  if (typeof h === 'string' && h.trim() !== '') {
    if (/^\d+$/.test(h.trim())) return Number(h.trim());
    const at = Date.parse(h);
    if (!Number.isNaN(at)) return Math.max(0, Math.ceil((at - nowMs) / 1000));
  }
  return status?.details?.retryAfterSeconds;
}
