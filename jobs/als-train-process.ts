// Runs ALS training in a child process: a training run takes seconds to minutes of pure CPU, and in the calling
// process it would starve Kafka heartbeats, HTTP and BullMQ lock renewals. (A worker thread would do, but Node 20
// workers cannot load TypeScript through tsx.) The matrix goes in and the factors come back over IPC with the
// structured-clone serialisation, which carries typed arrays.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trainAls, type AlsModel, type AlsParams } from '../core/models/als.ts';
import type { SparseMatrix } from '../core/models/sparse.ts';

interface Input {
  R: SparseMatrix;
  params: AlsParams;
}

type Message = { kind: 'iteration'; iteration: number; seconds: number } | { kind: 'done'; model: AlsModel } | { kind: 'error'; message: string };

export function trainAlsInChild(R: SparseMatrix, params: AlsParams, onIteration?: (iteration: number, seconds: number) => void): Promise<AlsModel> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let settled = false;
    child.on('message', (m: Message) => {
      if (m.kind === 'iteration') onIteration?.(m.iteration, m.seconds);
      else {
        settled = true;
        if (m.kind === 'done') resolve(m.model);
        else reject(new Error(`ALS training failed: ${m.message}`));
        child.disconnect();
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (!settled) reject(new Error(`ALS training process exited (${signal ?? `code ${code}`}) before finishing`));
    });
    child.send({ R, params } satisfies Input);
  });
}

// Child side: one job, then exit.
if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  const send = process.send.bind(process);
  process.once('message', (input: Input) => {
    try {
      const model = trainAls(input.R, input.params, (iteration, seconds) => send({ kind: 'iteration', iteration, seconds } satisfies Message));
      send({ kind: 'done', model } satisfies Message);
    } catch (err) {
      send({ kind: 'error', message: err instanceof Error ? err.message : String(err) } satisfies Message);
    }
  });
}
