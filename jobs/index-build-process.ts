// Index builds in a child process (platform/child-task.ts): inserting 1M points into an HNSW graph takes minutes of CPU,
// and the reader that asked for it must keep answering meanwhile.
import { buildSnapshot, type IndexInput, type IndexManifest } from '../state/index-snapshots.ts';
import { runInChild, serveChildTask } from '../platform/child-task.ts';

interface Input {
  root: string;
  index: IndexInput;
}

export function buildSnapshotInChild(
  root: string,
  index: IndexInput,
  onProgress?: (points: number) => void,
): Promise<IndexManifest> {
  return runInChild<Input, IndexManifest>(import.meta.url, { root, index }, onProgress);
}

serveChildTask<Input, IndexManifest>(import.meta.url, ({ root, index }, progress) =>
  buildSnapshot(root, index, progress),
);
