// Redis (Debian's redis-server): readiness probe, redis.conf rendering and start command.
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../../config/config.ts';
import { findBin } from './executables.ts';
import { servicePaths, type Layout } from './layout.ts';
import { hostPort } from './probes.ts';
import type { ServiceDef } from './service-def.ts';

/** Raw RESP PING: avoids ioredis' reconnect loop and its log noise while a server is still starting. */
export function probeRedis(redisUrl: string, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = hostPort(redisUrl, 6379);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let buf = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

/** Quoted string for redis.conf. */
function redisStr(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function redisDef(cfg: Config, l: Layout): ServiceDef {
  const b = servicePaths('redis', l);
  const { host, port } = hostPort(cfg.redisUrl, 6379);
  const configFile = path.join(b.confDir, 'redis.conf');
  return {
    name: 'redis',
    host,
    port,
    ports: [port],
    endpoint: cfg.redisUrl,
    ...b,
    readyTimeoutMs: 30_000,
    // Redis rewrites its argv (process title); the template below keeps the config path in it.
    cmdlineMarkers: ['redis-server', configFile],
    isReady: () => probeRedis(cfg.redisUrl),
    installed: () => findBin('redis-server') !== undefined,
    async prepare() {
      const bin = findBin('redis-server');
      if (bin === undefined) throw new Error('redis-server not found (run infra/local/install.sh redis)');
      await fsp.mkdir(b.dataDir, { recursive: true });
      await fsp.writeFile(
        configFile,
        [
          'bind 127.0.0.1',
          'protected-mode yes',
          `port ${port}`,
          'daemonize no',
          'supervised no',
          'logfile ""',
          `dir ${redisStr(b.dataDir)}`,
          'appendonly yes',
          'appendfsync everysec',
          'save 3600 1 300 100 60 10000',
          'proc-title-template "{title} {listen-addr} {server-mode} {config-file}"',
          '',
        ].join('\n'),
      );
      return { command: bin, args: [configFile], cwd: b.dataDir };
    },
  };
}
