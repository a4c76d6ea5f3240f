// A small TCP proxy between an operator and the API server that can freeze watches: the operator speaks plain
// HTTP to it (a kubeconfig pointing at http://127.0.0.1:<port>), it speaks TLS to the API server and passes the
// bytes through unchanged, reading only the request lines. While frozen, the answers on watch connections
// (existing and new) are held back and never delivered, as when a watch silently stops; every other request
// passes. Thawing closes the frozen connections.
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';

export interface ProxiedRequest {
  at: number;
  method: string;
  path: string;
  watch: boolean;
}

export interface WatchProxy {
  port: number;
  /** Every request line the operator sent, in order. */
  requests: ProxiedRequest[];
  /** Watch connections open now (frozen or not). */
  watchConnections(): number;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

interface Conn {
  client: Socket;
  upstream: Socket;
  watch: boolean;
  frozen: boolean;
}

const REQUEST_LINE = /^(GET|POST|PUT|PATCH|DELETE) (\S+) HTTP\/1\.[01]\r?$/gm;

export async function startWatchProxy(kc: KubeConfig): Promise<WatchProxy> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no cluster');
  const target = new URL(cluster.server);
  const ca = cluster.caData
    ? Buffer.from(cluster.caData, 'base64')
    : cluster.caFile
      ? readFileSync(cluster.caFile)
      : undefined;
  const conns = new Set<Conn>();
  const requests: ProxiedRequest[] = [];
  let frozen = false;

  const server = createServer((client) => {
    const upstream = tlsConnect({
      host: target.hostname,
      port: Number(target.port || 443),
      servername: target.hostname === '127.0.0.1' ? undefined : target.hostname,
      ...(ca ? { ca } : { rejectUnauthorized: false }),
    });
    const conn: Conn = { client, upstream, watch: false, frozen: false };
    conns.add(conn);
    const end = (): void => {
      conns.delete(conn);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(REQUEST_LINE)) {
        const path = m[2] ?? '';
        const watch = /[?&]watch=(true|1)\b/.test(path);
        if (watch) {
          conn.watch = true;
          if (frozen) conn.frozen = true;
        }
        requests.push({ at: Date.now(), method: m[1] ?? '', path, watch });
      }
      upstream.write(chunk);
    });
    // Held answers are dropped: a frozen watch never delivers again (thaw closes it).
    upstream.on('data', (chunk: Buffer) => {
      if (!conn.frozen) client.write(chunk);
    });
    client.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
    upstream.on('close', () => {
      if (!conn.frozen) end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  return {
    port,
    requests,
    watchConnections: () => [...conns].filter((c) => c.watch).length,
    freeze() {
      frozen = true;
      for (const c of conns) if (c.watch) c.frozen = true;
    },
    thaw() {
      frozen = false;
      for (const c of [...conns]) {
        if (!c.frozen) continue;
        conns.delete(c);
        c.client.destroy();
        c.upstream.destroy();
      }
    },
    async close() {
      for (const c of conns) {
        c.client.destroy();
        c.upstream.destroy();
      }
      conns.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
