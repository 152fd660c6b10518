// The folder layering in .dependency-cruiser.cjs, exercised: the rules reject an import from core/ to an I/O module or
// to a higher layer, from state/ to serving/, between sibling layers, and cycles; and the repository itself has none.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import { afterAll, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const rules = require('../../.dependency-cruiser.cjs') as { forbidden: unknown[]; options: Record<string, unknown> };
const repoRoot = new URL('../../', import.meta.url).pathname;

async function violations(baseDir: string, folders: string[]): Promise<IViolation[]> {
  const { output } = await cruise(folders, {
    validate: true,
    ruleSet: { forbidden: rules.forbidden } as never,
    baseDir,
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(\\.rankstream|dist|coverage)/' },
  });
  return (output as ICruiseResult).summary.violations;
}

const described = (vs: IViolation[]) => vs.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();

describe('folder layering rules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-layering-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };

  it('rejects core -> I/O and core -> state, state -> serving, sibling and cyclic imports; accepts downward ones', async () => {
    write('core/pure.ts', `export const one = 1;\n`);
    write(
      'core/leaky.ts',
      `import { readFileSync } from 'node:fs';\nimport { store } from '../state/store.ts';\nexport const x = [readFileSync, store];\n`,
    );
    write('core/a.ts', `import { b } from './b.ts';\nexport const a = () => b;\n`);
    write('core/b.ts', `import { a } from './a.ts';\nexport const b = () => a;\n`);
    write(
      'state/store.ts',
      `import { one } from '../core/pure.ts';\nimport { feed } from '../serving/feed.ts';\nexport const store = [one, feed];\n`,
    );
    write(
      'serving/feed.ts',
      `import type { run } from '../processors/run.ts';\nexport const feed = 1 as unknown as typeof run;\n`,
    );
    write('processors/run.ts', `import { one } from '../core/pure.ts';\nexport const run = one;\n`);

    expect(described(await violations(dir, ['core', 'state', 'serving', 'processors']))).toEqual([
      'core-no-io: core/leaky.ts -> fs',
      'layer-core: core/leaky.ts -> state/store.ts',
      'layer-serving: serving/feed.ts -> processors/run.ts',
      'layer-state: state/store.ts -> serving/feed.ts',
      'no-circular: core/a.ts -> core/b.ts',
    ]);
  });

  it('the repository has no violations', async () => {
    const folders = [
      'apps',
      'bench',
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
      'state',
      'streams',
      'test',
    ];
    expect(described(await violations(repoRoot, folders))).toEqual([]);
  }, 60_000);
});
