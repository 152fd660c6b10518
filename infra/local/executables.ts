// Finding the programs the services run: a binary on PATH (or the sbin/bin dirs), a java of the right major version.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export function findBin(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const javaMajorCache = new Map<string, number | undefined>();

/** Major version of a java binary (1.8 -> 8); undefined when it does not run. */
async function javaMajor(bin: string): Promise<number | undefined> {
  if (javaMajorCache.has(bin)) return javaMajorCache.get(bin);
  let major: number | undefined;
  try {
    // -version output goes to stderr; exit code 0.
    const { stderr } = await execFileP(bin, ['-XshowSettings:properties', '-version'], { timeout: 15_000 });
    const m = /java\.specification\.version = (\S+)/.exec(stderr);
    if (m?.[1] !== undefined) {
      const v = m[1];
      major = Number(v.startsWith('1.') ? v.slice(2) : v.split('.')[0]);
    }
  } catch {
    major = undefined;
  }
  javaMajorCache.set(bin, major);
  return major;
}

export function jvmDirJavas(): string[] {
  try {
    return fs
      .readdirSync('/usr/lib/jvm')
      .sort()
      .map((d) => path.join('/usr/lib/jvm', d, 'bin/java'))
      .filter((p) => fs.existsSync(p));
  } catch {
    return [];
  }
}

/**
 * First java in `candidates` whose major version is within [min, max]. Explicit env choices are listed first by
 * the caller; duplicates (symlinked alternatives) are harmless.
 */
export async function pickJava(
  what: string,
  candidates: (string | undefined)[],
  min: number,
  max: number,
): Promise<string> {
  const tried: string[] = [];
  for (const c of candidates) {
    if (c === undefined || c === '') continue;
    const major = await javaMajor(c);
    tried.push(`${c} (${major === undefined ? 'does not run' : `Java ${major}`})`);
    if (major !== undefined && major >= min && major <= max) return c;
  }
  throw new Error(
    `${what} needs Java ${min}${max < 1000 ? `..${max}` : '+'}; none found. Tried: ${tried.join(', ') || 'nothing'}`,
  );
}
