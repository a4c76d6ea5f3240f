import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour = (req: IncomingMessage, res: ServerResponse) => void;

/** A real HTTP server on 127.0.0.1 whose answer each test sets; it closes every socket on stop(). */
export class PriceServer {
  behaviour: Behaviour = (_req, res) => res.writeHead(404).end();
  requests = 0;
  private server: Server | undefined;
  private port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.requests++;
      res.on('error', () => undefined); // the client aborting mid-body is part of the tests
      this.behaviour(req, res);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(path = '/price'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function json(body: unknown, status = 200, contentType = 'application/json'): Behaviour {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': contentType });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

/** Streams `total` bytes (Infinity: until the client goes away) in chunks, honouring backpressure. */
export function stream(total: number, opts: { declareLength?: boolean } = {}) {
  let written = 0;
  let resolveClosed: (finished: boolean) => void = () => undefined;
  const closed = new Promise<boolean>((resolve) => (resolveClosed = resolve));
  const chunk = Buffer.alloc(16 * 1024, ' ');
  const behaviour: Behaviour = (_req, res) => {
    const headers: Record<string, string | number> = { 'content-type': 'application/json' };
    if (opts.declareLength) headers['content-length'] = total;
    res.writeHead(200, headers);
    let finished = false;
    res.on('finish', () => (finished = true));
    res.on('close', () => resolveClosed(finished));
    const pump = (): void => {
      while (written < total && !res.destroyed) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - written));
        written += piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      if (written >= total) res.end();
    };
    pump();
  };
  return { behaviour, closed, written: () => written };
}

/** The egress rules an admin would set to let price sources reach a server on 127.0.0.1 over plain http. */
export const LOCAL_EGRESS = {
  allowedHosts: ['127.0.0.1'],
  allowHttpHosts: ['127.0.0.1'],
  allowPrivateHosts: ['127.0.0.1'],
};
