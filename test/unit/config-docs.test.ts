// docs/configuration.md is generated from the settings table: it must be what the generator produces now, every
// setting must say what it means, and every variable the configuration reads must be documented.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../config/config.ts';
import { allowedValues, renderConfigurationDocs } from '../../config/docs.ts';
import { SECTIONS, SETTINGS } from '../../config/settings.ts';

const docsPath = new URL('../../docs/configuration.md', import.meta.url);

describe('docs/configuration.md', () => {
  it('is what the generator produces from config/settings.ts', () => {
    const onDisk = readFileSync(docsPath, 'utf8');
    expect(
      onDisk === renderConfigurationDocs(),
      'docs/configuration.md is out of date: run `npm run docs:config`',
    ).toBe(true);
  });

  it('documents every env var the configuration reads', () => {
    const docs = readFileSync(docsPath, 'utf8');
    const missing = CONFIG_VARIABLES.filter((v) => !docs.includes(`| \`${v}\``));
    expect(missing, 'run `npm run docs:config`').toEqual([]);
  });

  it('has a meaning for every setting and every section', () => {
    for (const section of SECTIONS) {
      expect(section.title.trim(), 'section title').not.toBe('');
      expect(section.about.trim(), `${section.title}: about`).not.toBe('');
      for (const [env, s] of Object.entries(section.settings)) expect(s.doc.trim(), `${env}: doc`).not.toBe('');
    }
  });

  it('lists each setting in exactly one section', () => {
    const listed = SECTIONS.flatMap((s) => Object.keys(s.settings));
    expect(listed.length).toBe(new Set(listed).size);
    expect([...listed].sort()).toEqual(Object.keys(SETTINGS).sort());
    expect([...CONFIG_VARIABLES].sort()).toEqual(Object.keys(SETTINGS).sort());
  });

  it('derives the allowed values from the schemas', () => {
    const allowed = (env: keyof typeof SETTINGS) => allowedValues(SETTINGS[env].schema);
    expect(allowed('HTTP_PORT')).toBe('an integer from 0 to 65535');
    expect(allowed('TOPIC_PARTITIONS')).toBe('an integer ≥ 1');
    expect(allowed('RANKER_TREE_DEPTH')).toBe('an integer from 1 to 8');
    expect(allowed('RANKER_PRIOR_CTR')).toBe('a number in (0, 0.5]');
    expect(allowed('RERANK_MMR_LAMBDA')).toBe('a number in [0, 1]');
    expect(allowed('EXPLORATION')).toBe('one of `none`, `epsilon-greedy`, `thompson`');
    expect(allowed('AUTH_REQUIRED')).toBe('`true` or `false`');
    expect(allowed('KAFKA_BROKERS')).toBe('comma-separated values');
    expect(allowed('CLICKHOUSE_URL')).toBe('a URL');
    expect(allowed('QUEUE_PREFIX')).toBe('text matching `^[A-Za-z0-9_-]+$`');
    expect(allowed('REDIS_URL')).toBeNull();
  });
});
