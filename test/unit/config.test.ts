// loadConfig: the settings' defaults are what an unset variable gives, and a bad configuration is refused as a whole.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import { SETTINGS } from '../../config/settings.ts';

describe('loadConfig', () => {
  it('gives, for an unset variable, the default the settings table declares', () => {
    const asEnvText = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v));
    const explicit = Object.fromEntries(
      Object.entries(SETTINGS).flatMap(([env, s]) => (s.default === undefined ? [] : [[env, asEnvText(s.default)]])),
    );
    expect(loadConfig(explicit)).toEqual(loadConfig({}));
  });

  it('names every offending variable in one error', () => {
    let message = '';
    try {
      loadConfig({ HTTP_PORT: '70000', AUTH_REQUIRED: 'yes', CLICKHOUSE_DATABASE: 'a-b', REDIS_URL: 'redis://x' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^invalid configuration: /);
    for (const v of ['HTTP_PORT', 'AUTH_REQUIRED', 'CLICKHOUSE_DATABASE']) expect(message).toContain(`${v}: `);
    expect(message).not.toContain('REDIS_URL');
    expect(message.split('; ')).toHaveLength(3);
  });

  it('derives the artifacts directory from the data directory unless it is set', () => {
    expect(loadConfig({ RANKSTREAM_DATA_DIR: '/d' }).artifactsDir).toBe('/d/artifacts');
    expect(loadConfig({ RANKSTREAM_DATA_DIR: '/d', ARTIFACTS_DIR: '/a' }).artifactsDir).toBe('/a');
  });
});
