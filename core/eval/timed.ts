// Wall-clock timing of one step of the protocol.

/** Runs `f` and returns its value with the seconds it took. */
export function timed<T>(f: () => T): [T, number] {
  const started = performance.now();
  const value = f();
  return [value, (performance.now() - started) / 1000];
}
