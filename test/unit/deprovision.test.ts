// deprovision() removes a run's topics, subjects, groups and tables; it must never touch a deployment's names.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import { isolatedEnv } from '../support/isolated-env.ts';
import { deprovision } from '../../apps/provision.ts';
import { createLogger } from '../../platform/logger.ts';

const logger = createLogger('silent', 'test');

describe('deprovision', () => {
  it('refuses the default names before connecting to anything', async () => {
    await expect(deprovision(loadConfig({}), logger)).rejects.toThrow(
      /refusing a config with default names \(rankstream\.events, /,
    );
  });

  it('refuses an isolated run that kept one default name', async () => {
    await expect(
      deprovision(loadConfig({ ...isolatedEnv('bench-x', 'r1'), LEDGER_TABLE: 'ledger' }), logger),
    ).rejects.toThrow('(ledger)');
    await expect(
      deprovision(loadConfig({ ...isolatedEnv('bench-x', 'r1'), CONSUMER_GROUP_PREFIX: 'rankstream' }), logger),
    ).rejects.toThrow('consumer group prefix rankstream');
  });

  it('isolatedEnv names are valid and distinct per run', () => {
    const a = loadConfig(isolatedEnv('bench-x', 'r1'));
    const b = loadConfig(isolatedEnv('bench-x', 'r2'));
    expect(a.topics.events).toBe('bench-x.r1.events');
    expect(a.ledger.table).toBe('ledger_bench_x_r1');
    expect(a.runner.groupPrefix).toBe('bench-x-r1');
    expect(a.queuePrefix).toBe('bench-x-r1');
    expect(a.topics.events).not.toBe(b.topics.events);
    expect(() => isolatedEnv('bad scope', 'r1')).toThrow('isolatedEnv');
  });
});
