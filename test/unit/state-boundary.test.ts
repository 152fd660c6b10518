// state/ is the one place that knows the Redis key space and the ClickHouse tables: no production file outside it spells
// a Redis key or channel (they are built in state/keys.ts) or names a table in SQL (system.* tables aside: they are
// ClickHouse's own). A key spelled elsewhere drifts from the Lua scripts and tenant-wide scans that state/ keeps in step.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = new URL('../../', import.meta.url).pathname;

/** Production folders other than state/ (the layers of .dependency-cruiser.cjs that ship). */
const SCANNED = [
  'apps',
  'cli',
  'config',
  'core',
  'datasets',
  'infra',
  'jobs',
  'platform',
  'processors',
  'schemas',
  'serving',
  'streams',
];

/** `rs:` starting a word, then `{` (a tenant's hash tag), a letter (a global key or channel) or `$` (interpolated). */
const REDIS_KEY = /(?<![\w.-])rs:[{A-Za-z$]/g;
/** A SQL clause naming a table, and the name (or the interpolation that builds it). */
const SQL_TABLE =
  /\b(FROM|INSERT\s+INTO|(?:CREATE|DROP|ALTER|OPTIMIZE|TRUNCATE)\s+TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?)\s+([^\s(),;]+)/g;

/** What a source file outside state/ must not contain, one line each (empty when it keeps the boundary). */
function boundaryViolations(path: string, text: string): string[] {
  const out: string[] = [];
  const lineOf = (index: number) => text.slice(0, index).split('\n').length;
  for (const m of text.matchAll(REDIS_KEY)) out.push(`${path}:${lineOf(m.index)}: Redis key ${m[0]}…`);
  for (const m of text.matchAll(SQL_TABLE)) {
    const table = m[2]!;
    if (!table.startsWith('system.')) out.push(`${path}:${lineOf(m.index)}: SQL ${m[1]} ${table}`);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|js|mjs|cjs)$/.test(e.name) ? [path] : [];
  });
}

describe('the state boundary', () => {
  it('flags Redis keys and SQL table names, and lets system tables and look-alike words through', () => {
    const bad = [
      'const key = (tenant: string) => `rs:{${tenant}}:scaler:${what}`;',
      "await redis.srem('rs:tenants', tenant);",
      'const prefix = `rs:${name}`;',
      'query: `SELECT count() AS n FROM ${db}.${table} FINAL`,',
      'return `CREATE TABLE IF NOT EXISTS ${sqlIdentifier(database)}.${sqlIdentifier(table)} (',
      'await ch.command({ query: `INSERT INTO ledger VALUES (1)` });',
      'query: `DROP TABLE IF EXISTS ${db}.${table}`,',
    ];
    for (const line of bad) expect(boundaryViolations('x.ts', line), line).toHaveLength(1);
    const fine = [
      'const s = { users: [], factors: 3, headers: {}, errors: 0 };',
      "import { seenKey } from '../state/keys.ts';",
      'query: `SELECT partition FROM system.parts WHERE active`,',
      '// keys are built in state/keys.ts',
    ];
    for (const line of fine) expect(boundaryViolations('x.ts', line), line).toEqual([]);
  });

  it('holds for every production file outside state/', () => {
    const violations = SCANNED.flatMap((folder) =>
      sourceFiles(join(repoRoot, folder)).flatMap((file) =>
        boundaryViolations(relative(repoRoot, file), readFileSync(file, 'utf8')),
      ),
    );
    expect(violations).toEqual([]);
  });
});
