// Immutable, content-addressed model artifacts on disk: <root>/<kind>/<sha256>.<ext> holds the bytes, and
// <root>/<kind>/<version>.manifest.json describes them (version = <kind>-<first 16 hex of sha256>). Nothing is ever
// overwritten: writing the same content twice yields the same version; files are written to a temporary name and
// renamed, so a reader never sees half a file; every load verifies the checksum.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';

export interface ArtifactManifest<M = Record<string, unknown>> {
  kind: string;
  version: string;
  sha256: string;
  bytes: number;
  file: string;
  createdAt: string;
  /** Kind-specific facts: samples, parent version, drift, training parameters, model versions used. */
  meta: M;
}

const SAFE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export class ChecksumError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChecksumError';
  }
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

export class ArtifactStore {
  constructor(readonly root: string) {}

  private dir(kind: string): string {
    if (!SAFE.test(kind)) throw new Error(`artifact kind ${JSON.stringify(kind)} must match ${SAFE}`);
    return join(this.root, kind);
  }

  /** Stores the bytes (if new) and their manifest (if new); returns the manifest of this content. */
  async put<M>(kind: string, content: Buffer, ext: string, meta: M, now = new Date()): Promise<ArtifactManifest<M>> {
    const dir = this.dir(kind);
    await mkdir(dir, { recursive: true });
    const sha256 = createHash('sha256').update(content).digest('hex');
    const version = `${kind}-${sha256.slice(0, 16)}`;
    const file = `${sha256}.${ext}`;
    const manifestPath = join(dir, `${version}.manifest.json`);
    if (await exists(manifestPath)) return this.manifest<M>(kind, version);
    await writeOnce(join(dir, file), content);
    const manifest: ArtifactManifest<M> = {
      kind,
      version,
      sha256,
      bytes: content.length,
      file,
      createdAt: now.toISOString(),
      meta,
    };
    await writeOnce(manifestPath, Buffer.from(JSON.stringify(manifest, null, 2)));
    return manifest;
  }

  async manifest<M = Record<string, unknown>>(kind: string, version: string): Promise<ArtifactManifest<M>> {
    if (!version.startsWith(`${kind}-`) || !SAFE.test(version.slice(kind.length + 1)))
      throw new Error(`not a ${kind} version: ${JSON.stringify(version)}`);
    const path = join(this.dir(kind), `${version}.manifest.json`);
    if (!(await exists(path))) throw new Error(`no ${kind} artifact ${version} under ${this.root}`);
    return JSON.parse(await readFile(path, 'utf8')) as ArtifactManifest<M>;
  }

  /** The artifact's bytes, checked against the manifest's sha256. */
  async load<M = Record<string, unknown>>(
    kind: string,
    version: string,
  ): Promise<{ manifest: ArtifactManifest<M>; content: Buffer }> {
    const manifest = await this.manifest<M>(kind, version);
    const content = await readFile(join(this.dir(kind), manifest.file));
    const sha = createHash('sha256').update(content).digest('hex');
    if (sha !== manifest.sha256)
      throw new ChecksumError(`${kind} artifact ${version} is corrupt: sha256 ${sha} != manifest ${manifest.sha256}`);
    return { manifest, content };
  }

  /** Versions of a kind, oldest first. */
  async list(kind: string): Promise<ArtifactManifest[]> {
    const dir = this.dir(kind);
    if (!(await exists(dir))) return [];
    const names = (await readdir(dir)).filter((n) => n.endsWith('.manifest.json'));
    const manifests = await Promise.all(
      names.map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as ArtifactManifest),
    );
    return manifests.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }
}

async function writeOnce(path: string, content: Buffer): Promise<void> {
  if (await exists(path)) return;
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, content, { flag: 'wx' });
  await rename(tmp, path);
}
