import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy the test controls, in front of a shared server (a database or Redis) that keeps running for
 * other tests. Four faults, each undone by `restore()`:
 * - `cut()`: every connection dropped, new ones refused;
 * - `stall()`: every connection dropped, new ones accepted and never answered;
 * - `blackhole()`: every connection, open or new, kept open but silent either way (a half-open link);
 * - `drop()`: the connections open now go silent for good while new ones work, as when a NAT or a load
 *   balancer forgets idle connections: only a client that notices the silence and reconnects gets through.
 * None of them sends anything or closes a socket the client could notice, except `cut()` and `stall()`.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<[Socket, Socket]>();
  private stalled = false;
  private silent = false;
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
      this.track(client);
      // Accept and say nothing: the server looks alive but never answers.
      if (this.stalled || this.silent) return;
      const upstream = connect(this.targetPort, this.targetHost);
      this.track(upstream);
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

  /** Closes the listener and every open connection: the server is unreachable. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.destroyAll();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Drops open connections and holds new ones without an answer. */
  stall(): void {
    this.stalled = true;
    this.destroyAll();
  }

  /** Keeps every connection open but stops carrying bytes either way, on open and new connections alike. */
  blackhole(): void {
    this.silent = true;
    this.silence();
  }

  /** The connections open now stop carrying bytes, without any socket event; new connections work. */
  drop(): void {
    this.silence();
  }

  /** Listens again on the same port, forwarding traffic; the connections of a fault are reset. */
  async restore(): Promise<void> {
    this.stalled = false;
    this.silent = false;
    this.destroyAll();
    if (!this.server) await this.start(this.port);
  }

  async stop(): Promise<void> {
    await this.cut();
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  /** Unpipes every open pair: the sockets stay open (and tracked, so `restore()` resets them) but silent. */
  private silence(): void {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    this.pairs.clear();
  }

  private destroyAll(): void {
    this.pairs.clear();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

/** A copy of `url` that goes through `127.0.0.1:<port>` instead. */
export function throughProxy(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.toString();
}
