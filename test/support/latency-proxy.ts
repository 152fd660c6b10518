// A latency-injecting TCP proxy for backpressure checks (bench:load, test/integration/backpressure.test.ts): listens on
// 127.0.0.1, forwards every connection to a target (Redis, ClickHouse) and holds each chunk, in each direction, for
// delayMs before passing it on, in order. A request/response round trip therefore gains 2 × delayMs; pipelined chunks
// are delayed together, not one after the other. The delay can be changed while connections are open (setDelay), e.g. to
// let a process start at full speed and then slow its dependency down. Optionally it also caps each connection's
// throughput per direction (bytesPerS: a chunk leaves no sooner than its size allows after the one before it), which
// models a saturated dependency: latency alone is largely absorbed by batching (bigger batches per round trip).
// Buffering is bounded: past maxBufferedBytes held in one direction, the proxy stops reading from that side until it
// drains (TCP backpressure to the sender).
import net from 'node:net';

export interface LatencyProxy {
  readonly host: string;
  readonly port: number;
  /** The target URL with its host and port replaced by the proxy's (credentials, path and database kept). */
  via(url: string): string;
  setDelay(ms: number): void;
  /** Caps each connection's throughput per direction; 0 = no cap. */
  setBandwidth(bytesPerS: number): void;
  readonly delayMs: number;
  stats(): { connections: number; open: number; bytesUp: number; bytesDown: number; maxHeldBytes: number };
  close(): Promise<void>;
}

export interface LatencyProxyOptions {
  targetHost: string;
  targetPort: number;
  delayMs: number;
  /** Throughput cap per connection and direction, bytes/s (default 0: none). */
  bytesPerS?: number;
  /** Bytes held per direction before reading pauses (default 8 MiB). */
  maxBufferedBytes?: number;
}

/** Forwards `from` to `to`, each chunk delayed (and paced by the bandwidth cap), reporting bytes forwarded and held. */
function delayedPipe(
  from: net.Socket,
  to: net.Socket,
  delay: () => number,
  bandwidth: () => number,
  maxBuffered: number,
  onBytes: (n: number) => void,
  onHeld: (n: number) => void,
): void {
  const queue: { chunk: Buffer; due: number }[] = [];
  let held = 0;
  let lastDue = 0;
  let timer: NodeJS.Timeout | null = null;
  let ended = false;
  const flush = () => {
    timer = null;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!;
      held -= chunk.length;
      if (!to.destroyed) to.write(chunk);
      onBytes(chunk.length);
    }
    if (held < maxBuffered / 2 && from.isPaused()) from.resume();
    if (queue.length > 0) timer = setTimeout(flush, Math.max(0, queue[0]!.due - now));
    else if (ended && !to.destroyed) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    // never earlier than the chunk before it (order is kept when the delay is lowered meanwhile), plus its transfer
    // time under the bandwidth cap
    const bytesPerS = bandwidth();
    const due =
      Math.max(performance.now() + delay(), lastDue) + (bytesPerS > 0 ? (1000 * chunk.length) / bytesPerS : 0);
    lastDue = due;
    queue.push({ chunk, due });
    held += chunk.length;
    onHeld(held);
    if (held >= maxBuffered) from.pause();
    if (timer === null) timer = setTimeout(flush, Math.max(0, due - performance.now()));
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0 && timer === null && !to.destroyed) to.end();
  });
  from.on('close', () => {
    if (timer !== null && queue.length === 0) clearTimeout(timer);
  });
}

export async function startLatencyProxy(opts: LatencyProxyOptions): Promise<LatencyProxy> {
  let delayMs = opts.delayMs;
  let bytesPerS = opts.bytesPerS ?? 0;
  const maxBuffered = opts.maxBufferedBytes ?? 8 * 2 ** 20;
  const sockets = new Set<net.Socket>();
  const counters = { connections: 0, bytesUp: 0, bytesDown: 0, maxHeldBytes: 0 };
  const held = (n: number) => void (counters.maxHeldBytes = Math.max(counters.maxHeldBytes, n));
  const server = net.createServer((client) => {
    counters.connections++;
    const upstream = net.connect({ host: opts.targetHost, port: opts.targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
    }
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', kill);
    upstream.on('error', kill);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    delayedPipe(
      client,
      upstream,
      () => delayMs,
      () => bytesPerS,
      maxBuffered,
      (n) => void (counters.bytesUp += n),
      held,
    );
    delayedPipe(
      upstream,
      client,
      () => delayMs,
      () => bytesPerS,
      maxBuffered,
      (n) => void (counters.bytesDown += n),
      held,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    via(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
    },
    setDelay(ms: number) {
      delayMs = ms;
    },
    setBandwidth(b: number) {
      bytesPerS = b;
    },
    get delayMs() {
      return delayMs;
    },
    stats: () => ({ ...counters, open: Math.floor(sockets.size / 2) }),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
