// Reachability: TCP connect and HTTP 200. Standalone (no service definitions), like the service modules' readiness
// probes built on them, so test/setup can probe containers on mapped ports with the same checks.
import net from 'node:net';

/** True when something accepts a TCP connection (says nothing about which program it is). */
export function isReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function httpOk(url: string, expectBody?: (body: string) => boolean, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await res.text();
    return res.status === 200 && (expectBody === undefined || expectBody(body));
  } catch {
    return false;
  }
}

export function hostPort(urlOrHostPort: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(urlOrHostPort.includes('://') ? urlOrHostPort : `tcp://${urlOrHostPort}`);
  // URL keeps IPv6 literals bracketed; net.connect wants them bare.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: u.port === '' ? defaultPort : Number(u.port) };
}
