// ALS training in a child process (platform/child-task.ts): a run takes seconds to minutes of pure CPU.
import { trainAls, type AlsModel, type AlsParams } from '../core/models/als.ts';
import type { SparseMatrix } from '../core/math/sparse.ts';
import { runInChild, serveChildTask } from '../platform/child-task.ts';

interface Input {
  R: SparseMatrix;
  params: AlsParams;
}

/** Trains in a child process; `onIteration` receives each finished sweep's number. */
export function trainAlsInChild(
  R: SparseMatrix,
  params: AlsParams,
  onIteration?: (iteration: number) => void,
): Promise<AlsModel> {
  return runInChild<Input, AlsModel>(import.meta.url, { R, params }, onIteration).catch((err: unknown) => {
    throw new Error(`ALS training failed: ${err instanceof Error ? err.message : String(err)}`);
  });
}

serveChildTask<Input, AlsModel>(import.meta.url, ({ R, params }, progress) =>
  trainAls(R, params, (iteration) => progress(iteration)),
);
