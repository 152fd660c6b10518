// Runs a CPU-heavy task in a child process (the same TypeScript module, loaded through tsx) so the caller's event
// loop keeps serving Kafka heartbeats, HTTP and BullMQ lock renewals. Node 20 worker threads cannot load TypeScript
// through tsx, hence a process. Input and output travel over IPC with structured-clone serialisation, which carries
// typed arrays.
import { fork, type Serializable } from 'node:child_process';
import { fileURLToPath } from 'node:url';

type Message<O> =
  { kind: 'progress'; value: number } | { kind: 'done'; output: O } | { kind: 'error'; message: string };

/** Forks `moduleUrl` (which must call serveChildTask), sends it `input`, resolves with its output. */
export function runInChild<I extends Serializable, O>(
  moduleUrl: string,
  input: I,
  onProgress?: (value: number) => void,
): Promise<O> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(moduleUrl), [], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let settled = false;
    child.on('message', (m: Message<O>) => {
      if (m.kind === 'progress') {
        onProgress?.(m.value);
        return;
      }
      settled = true;
      if (m.kind === 'done') resolve(m.output);
      else reject(new Error(m.message));
      child.disconnect();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (!settled) reject(new Error(`child task ${moduleUrl} exited (${signal ?? `code ${code}`}) before finishing`));
    });
    child.send(input);
  });
}

/** In the child: handles the one input it is sent, reports progress, replies, and lets the process end. */
export function serveChildTask<I, O>(
  moduleUrl: string,
  handler: (input: I, progress: (value: number) => void) => O | Promise<O>,
): void {
  if (!process.send || process.argv[1] !== fileURLToPath(moduleUrl)) return;
  const send = process.send.bind(process);
  process.once('message', async (input: I) => {
    try {
      send({
        kind: 'done',
        output: await handler(input, (value) => send({ kind: 'progress', value } satisfies Message<O>)),
      } satisfies Message<O>);
    } catch (err) {
      send({ kind: 'error', message: err instanceof Error ? err.message : String(err) } satisfies Message<O>);
    }
  });
}
