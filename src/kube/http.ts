import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A readiness answer: ready, or not with the reasons shown to the prober. */
export type Readiness = { ready: true; detail?: string } | { ready: false; reasons: string[] };

export interface HttpServerOptions {
  /** `host:port`, `:port` (all interfaces) or a port; port 0 picks a free one. */
  address: string | number;
  registry: Registry;
  /** Caches synced, and leading or standing by. */
  readiness: () => Readiness | Promise<Readiness>;
  /** Liveness (default: always alive while the event loop answers). */
  liveness?: () => boolean;
  /**
   * Who may read /metrics (e.g. a MetricsAuthorizer: TokenReview + SubjectAccessReview); undefined: anyone.
   * /healthz and /readyz stay open for the kubelet.
   */
  authorizeMetrics?: (
    authorization: string | undefined,
  ) => Promise<{ ok: true } | { ok: false; status: number; reason: string }>;
  /** Serve HTTPS with this certificate and key (PEM) instead of plain HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface RunningHttpServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export function parseAddress(address: string | number): { host: string | undefined; port: number } {
  if (typeof address === 'number') return { host: undefined, port: address };
  const m = /^(?:\[?([^\]]*)\]?)?:(\d+)$/.exec(address) ?? /^()(\d+)$/.exec(address);
  if (!m) throw new Error(`invalid listen address ${address}: expected host:port or :port`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`invalid port in ${address}`);
  return { host: m[1] ? m[1] : undefined, port };
}

/** Serves /metrics, /healthz and /readyz. */
export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const { host, port } = parseAddress(opts.address);
  const listener: http.RequestListener = (req, res) => {
    void handle(opts, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  };
  const server = opts.tls
    ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, listener)
    : http.createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const shownHost = host && host !== '0.0.0.0' && host !== '::' ? host : '127.0.0.1';
  return {
    port: bound,
    url: `${opts.tls ? 'https' : 'http'}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${bound}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(
  opts: HttpServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  switch (path) {
    case '/metrics': {
      if (opts.authorizeMetrics) {
        const auth = await opts.authorizeMetrics(req.headers.authorization);
        if (!auth.ok) {
          const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'text/plain' };
          if (auth.status === 401) headers['WWW-Authenticate'] = 'Bearer';
          res.writeHead(auth.status, headers).end(`${auth.reason}\n`);
          return;
        }
      }
      const body = await opts.registry.metrics();
      res.writeHead(200, { 'Content-Type': opts.registry.contentType }).end(body);
      return;
    }
    case '/healthz':
    case '/livez': {
      const alive = opts.liveness?.() ?? true;
      res.writeHead(alive ? 200 : 503, { 'Content-Type': 'text/plain' }).end(alive ? 'ok\n' : 'not alive\n');
      return;
    }
    case '/readyz': {
      const r = await opts.readiness();
      if (r.ready) {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`ok${r.detail ? `: ${r.detail}` : ''}\n`);
      } else {
        res.writeHead(503, { 'Content-Type': 'text/plain' }).end(`not ready: ${r.reasons.join('; ')}\n`);
      }
      return;
    }
    default:
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  }
}

/**
 * Ready when every cache has synced and its watch delivers, and the elector is leading or standing by (a
 * standby is ready: it is healthy and will take over). Not ready while syncing, while a watch is silent past
 * its liveness bound (the operator then acts on nothing), or after the elector stopped.
 */
export function operatorReadiness(
  caches: readonly {
    resource: { resource: string };
    name?: string;
    hasSynced(): boolean;
    staleFor?(): number | undefined;
  }[],
  elector?: { state(): 'standby' | 'leader' | 'stopped' },
): Readiness {
  const reasons: string[] = [];
  for (const c of caches) {
    const name = c.name ?? c.resource.resource;
    if (!c.hasSynced()) {
      reasons.push(`cache of ${name} not synced`);
      continue;
    }
    const stale = c.staleFor?.();
    if (stale !== undefined) reasons.push(staleText(name, stale));
  }
  const state = elector?.state();
  if (state === 'stopped') reasons.push('leader election stopped');
  if (reasons.length > 0) return { ready: false, reasons };
  return { ready: true, detail: state ?? 'no leader election' };
}

/** How a stale cache is named in /readyz and logs. */
export function staleText(name: string, silentMs: number): string {
  return `watch of ${name} silent for ${Math.floor(silentMs / 1000)} s (no event or bookmark): relisting, acting on nothing until it delivers again`;
}
