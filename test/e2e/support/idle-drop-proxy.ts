import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy that can forget the connections open through it the way a NAT or a load balancer forgets idle
 * ones: `dropOpenConnections()` stops carrying bytes on every open connection, without closing it or sending
 * anything (no socket event reveals it), while new connections are forwarded as usual. The server is reachable
 * again at once, but only a client that notices the silence on its old connection and makes a new one gets to
 * it. (`TcpProxy.blackhole()` silences new connections too; its `restore()` resets the old ones.)
 */
export class IdleDropProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  private readonly dropped = new Set<Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<number> {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      const pair: [Socket, Socket] = [client, upstream];
      for (const socket of pair) socket.on('error', () => socket.destroy());
      client.pipe(upstream).pipe(client);
      this.pairs.add(pair);
      client.on('close', () => {
        this.pairs.delete(pair);
        upstream.destroy();
      });
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  /** Every connection open now goes silent for good; connections made afterwards work. */
  dropOpenConnections(): void {
    for (const pair of this.pairs) {
      const [client, upstream] = pair;
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
      this.dropped.add(client).add(upstream);
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    for (const socket of [...[...this.pairs].flat(), ...this.dropped]) socket.destroy();
    this.pairs.clear();
    this.dropped.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
