// The suite's timeline: the clock that log lines, fault times and the total count from, the log, and waiting.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Milliseconds as seconds, to the millisecond. */
export const secs = (ms: number) => Math.round(ms) / 1000;
let t0 = Date.now();
export const log = (line: string) =>
  process.stderr.write(`[faults +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);

/** Starts the suite's clock again (at the start of the run). */
export function restartClock(): void {
  t0 = Date.now();
}

/** When the suite's clock started (ms since the epoch). */
export function clockStart(): number {
  return t0;
}

/** Polls `check` until it holds and returns the ms that took; throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(intervalMs);
  }
}
