// A second set of local services (infra/local/services.ts with InfraOptions: another port and data dir), as the fault
// suite runs them: started, crashed with SIGKILL, started again right away, stopped; the shared services are untouched.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import { down, isReachable, layout, status, up, type InfraOptions } from '../../infra/local/services.ts';

function hasRedisServer(): boolean {
  try {
    execFileSync(
      'sh',
      ['-c', 'command -v redis-server || test -x /usr/sbin/redis-server || test -x /usr/bin/redis-server'],
      { stdio: 'ignore' },
    );
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe.skipIf(!hasRedisServer())('local infra with InfraOptions', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rankstream-infra-'));
  let infra: InfraOptions | undefined;
  const quiet = () => undefined;

  afterAll(async () => {
    if (infra) await down(['redis'], quiet, infra);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts its own Redis on another port and data dir, survives SIGKILL with its data, and restarts at once', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    infra = { config: loadConfig({ ...process.env, RANKSTREAM_DATA_DIR: dataDir, REDIS_URL: url }) };
    const shared = loadConfig();
    expect(layout(infra.config).dataDir).toBe(dataDir);

    const [started] = await up({ ...infra, only: ['redis'], log: quiet });
    expect(started).toMatchObject({ name: 'redis', action: 'started', endpoint: url });
    expect(fs.existsSync(path.join(dataDir, 'run', 'redis.pid'))).toBe(true);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    await client.connect();
    await client.set('k', 'v');
    client.disconnect();

    // a crash: the PID is ours, SIGKILL, and once down() returns the port is free (a restart must not find it taken)
    const [killed] = await down(['redis'], quiet, { ...infra, signal: 'SIGKILL' });
    expect(killed).toMatchObject({ name: 'redis', action: 'killed', pid: started!.pid });
    expect(await isReachable('127.0.0.1', port, 200)).toBe(false);

    const [again] = await up({ ...infra, only: ['redis'], log: quiet });
    expect(again).toMatchObject({ action: 'started' });
    expect(again!.pid).not.toBe(started!.pid);
    const after = new Redis(url, { maxRetriesPerRequest: 1 });
    after.on('error', () => undefined);
    expect(await after.get('k')).toBe('v'); // appendonly: acknowledged writes survive a crash of the process
    after.disconnect();

    const rows = await status(infra);
    expect(rows.find((r) => r.name === 'redis')).toMatchObject({ state: 'running', pid: again!.pid, ready: true });
    const [stopped] = await down(['redis'], quiet, infra);
    expect(stopped).toMatchObject({ action: 'stopped', pid: again!.pid });
    // the default set is another one: its Redis (whoever runs it) is still there
    expect(await isReachable(new URL(shared.redisUrl).hostname, Number(new URL(shared.redisUrl).port), 500)).toBe(true);
  });
});
