// The latency-injecting TCP proxy used by bench:load and the backpressure integration test: delay per direction, order
// kept when the delay changes, URL rewriting, close.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatencyProxy, type LatencyProxy } from '../support/latency-proxy.ts';

let echo: net.Server;
let echoPort: number;

beforeAll(async () => {
  echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen({ host: '127.0.0.1', port: 0 }, r));
  echoPort = (echo.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => echo.close(() => r())));

/** Sends `message`, resolves with what came back once `expected` bytes arrived, and the round-trip time. */
async function roundTrip(
  proxy: LatencyProxy,
  send: (s: net.Socket) => void,
  expected: number,
): Promise<{ data: string; ms: number }> {
  const socket = net.connect({ host: proxy.host, port: proxy.port });
  await new Promise<void>((r) => socket.once('connect', r));
  const t = performance.now();
  let data = '';
  const done = new Promise<void>((resolve) =>
    socket.on('data', (c: Buffer) => {
      data += c.toString();
      if (data.length >= expected) resolve();
    }),
  );
  send(socket);
  await done;
  socket.destroy();
  return { data, ms: performance.now() - t };
}

describe('latency proxy', () => {
  it('adds the delay in each direction (a round trip gains twice the delay)', async () => {
    const proxy = await startLatencyProxy({ targetHost: '127.0.0.1', targetPort: echoPort, delayMs: 150 });
    const { data, ms } = await roundTrip(proxy, (s) => s.write('ping'), 4);
    expect(data).toBe('ping');
    expect(ms).toBeGreaterThanOrEqual(295);
    expect(ms).toBeLessThan(2000);
    proxy.setDelay(0);
    const fast = await roundTrip(proxy, (s) => s.write('pong'), 4);
    expect(fast.ms).toBeLessThan(250);
    expect(proxy.stats().bytesUp).toBe(8);
    expect(proxy.stats().bytesDown).toBe(8);
    await proxy.close();
  });

  it('keeps the order of chunks when the delay is lowered meanwhile', async () => {
    const proxy = await startLatencyProxy({ targetHost: '127.0.0.1', targetPort: echoPort, delayMs: 150 });
    const { data } = await roundTrip(
      proxy,
      (s) => {
        s.write('a');
        setTimeout(() => {
          proxy.setDelay(0);
          s.write('b');
        }, 20);
      },
      2,
    );
    expect(data).toBe('ab');
    await proxy.close();
  });

  it('pipelines chunks: many chunks cost one delay, not one each', async () => {
    const proxy = await startLatencyProxy({ targetHost: '127.0.0.1', targetPort: echoPort, delayMs: 50 });
    const parts = Array.from({ length: 20 }, (_, i) => `${i};`);
    const { data, ms } = await roundTrip(
      proxy,
      (s) => {
        for (const p of parts) s.write(p);
      },
      parts.join('').length,
    );
    expect(data).toBe(parts.join(''));
    expect(ms).toBeLessThan(900);
    await proxy.close();
  });

  it('caps throughput per direction when asked', async () => {
    const proxy = await startLatencyProxy({
      targetHost: '127.0.0.1',
      targetPort: echoPort,
      delayMs: 0,
      bytesPerS: 20_000,
    });
    const payload = 'x'.repeat(4000); // 200 ms each way at 20 kB/s
    const { data, ms } = await roundTrip(proxy, (s) => s.write(payload), payload.length);
    expect(data).toBe(payload);
    expect(ms).toBeGreaterThanOrEqual(350);
    proxy.setBandwidth(0);
    expect((await roundTrip(proxy, (s) => s.write(payload), payload.length)).ms).toBeLessThan(300);
    await proxy.close();
  });

  it('rewrites a URL to go through it, keeping credentials and path', async () => {
    const proxy = await startLatencyProxy({ targetHost: '127.0.0.1', targetPort: echoPort, delayMs: 0 });
    expect(proxy.via('redis://:secret@127.0.0.1:16379/2')).toBe(`redis://:secret@127.0.0.1:${proxy.port}/2`);
    expect(proxy.via('redis://127.0.0.1:16379')).toBe(`redis://127.0.0.1:${proxy.port}`);
    expect(proxy.via('http://localhost:18123')).toBe(`http://127.0.0.1:${proxy.port}`);
    await proxy.close();
  });

  it('closes with connections open', async () => {
    const proxy = await startLatencyProxy({ targetHost: '127.0.0.1', targetPort: echoPort, delayMs: 0 });
    const socket = net.connect({ host: proxy.host, port: proxy.port });
    await new Promise<void>((r) => socket.once('connect', r));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    await proxy.close();
    await closed;
  });
});
