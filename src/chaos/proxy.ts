import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy between the operator and the API server (TLS passes through untouched). `freeze()` stops
 * forwarding on every connection open at that moment — long-lived watches go silent without closing, as
 * when a load balancer or a NAT table drops them — while new connections pass.
 */
export class FreezingProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<{ a: Socket; b: Socket; frozen: boolean }>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<number> {
    this.server = createServer((client) => {
      const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
      const pair = { a: client, b: upstream, frozen: false };
      this.pairs.add(pair);
      const forward = (from: Socket, to: Socket): void => {
        from.on('data', (chunk: Buffer) => {
          if (!pair.frozen) to.write(chunk);
        });
      };
      forward(client, upstream);
      forward(upstream, client);
      const close = (): void => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close);
      upstream.on('error', close);
      client.on('close', close);
      upstream.on('close', close);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    return this.port;
  }

  /** Silences every connection open now (bytes are dropped both ways); returns how many. */
  freeze(): number {
    for (const p of this.pairs) p.frozen = true;
    return this.pairs.size;
  }

  /** Closes the frozen connections (their clients notice and reconnect). */
  thaw(): void {
    for (const p of [...this.pairs]) {
      if (!p.frozen) continue;
      p.a.destroy();
      p.b.destroy();
      this.pairs.delete(p);
    }
  }

  async stop(): Promise<void> {
    for (const p of this.pairs) {
      p.a.destroy();
      p.b.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
