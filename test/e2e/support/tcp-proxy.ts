import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy the test controls, in front of a shared database server: `cut()` drops every connection and
 * refuses new ones, `restore()` lets traffic through again. The real server keeps running for other tests.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private stalled = false;
  private silent = false;
  private readonly pairs = new Set<[Socket, Socket]>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** A proxy in front of the server of `url` (a database or Redis URL), listening. */
  static async startFor(url: string): Promise<TcpProxy> {
    const { hostname, port } = new URL(url);
    const proxy = new TcpProxy(hostname, Number(port));
    await proxy.start();
    return proxy;
  }

  async start(port = 0): Promise<number> {
    this.server = createServer((client) => {
      if (this.stalled || this.silent) {
        // Accept and say nothing: the server looks alive but never answers.
        this.sockets.add(client);
        client.on('close', () => this.sockets.delete(client));
        client.on('error', () => client.destroy());
        return;
      }
      const upstream = connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      client.on('close', () => this.pairs.delete(pair));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  /** Closes the listener and every open connection: the database is unreachable. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Drops open connections and holds new ones without an answer. */
  stall(): void {
    this.stalled = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /**
   * Keeps every connection open but stops carrying bytes either way: a half-open link (an idle connection
   * dropped by a NAT or a load balancer) that no socket event reveals.
   */
  blackhole(): void {
    this.silent = true;
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** Listens again on the same port, forwarding traffic. */
  async restore(): Promise<void> {
    this.stalled = false;
    this.silent = false;
    this.pairs.clear();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (!this.server) await this.start(this.port);
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}

/** A copy of `url` that goes through `127.0.0.1:<port>` instead. */
export function throughProxy(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.toString();
}
