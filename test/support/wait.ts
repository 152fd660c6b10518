// Waiting in tests and benches: a plain sleep, and polling loops that re-check a condition until it holds or a
// timeout passes. One loop serves both kinds of caller: `waitUntil` answers whether the condition held (for callers
// that go on either way or throw their own error), `eventually` throws naming what it waited for and the last value.

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface PollOptions {
  /** How long to keep re-checking, from the first check; Infinity waits for as long as it takes. */
  timeoutMs: number;
  /** Pause between checks. */
  intervalMs: number;
}

/**
 * Checks `cond` until it holds (true) or `timeoutMs` has passed (false), pausing `intervalMs` between checks. It checks
 * at once, and once more after the last pause; an error thrown by `cond` ends the wait with that error.
 */
export async function waitUntil(cond: () => boolean | Promise<boolean>, options: PollOptions): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await sleep(options.intervalMs);
  }
}

/** Calls `fn` every `intervalMs` until `done` accepts its value, which it returns; throws after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  let last: T | undefined;
  if (await waitUntil(async () => done((last = await fn())), { timeoutMs, intervalMs })) return last as T;
  throw new Error(
    `timed out waiting for ${what}; last value: ${JSON.stringify(last, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`,
  );
}
