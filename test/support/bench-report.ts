// What every benchmark's JSON reports alike: the machine it ran on, latency quantiles, and the report itself, printed
// on stdout and, with --out FILE, written to a file with the command line and date added.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';

export function machine(): { cpus: number; cpuModel: string; memGiB: number; node: string } {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memGiB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
  };
}

/**
 * The q-quantile of an ascending sample, nearest rank: the element at floor(q·n), the last for q = 1; 0 for an empty
 * sample. For samples a bench sorted already (typed arrays sort numerically).
 */
export function sortedQuantile(sorted: ArrayLike<number>, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** The q-quantile of a sample in any order (nearest rank, as sortedQuantile), 0 for an empty one. */
export function quantile(xs: readonly number[], q: number): number {
  return sortedQuantile(
    [...xs].sort((a, b) => a - b),
    q,
  );
}

/**
 * Writes a bench's report to `outPath` as JSON, creating its folder. `command` (the command line), `date` (ISO) and
 * `machine` are added in front where the report has none of its own.
 */
export function writeReport(report: Record<string, unknown>, outPath: string): void {
  const full = { command: process.argv.join(' '), date: new Date().toISOString(), machine: machine(), ...report };
  mkdirSync(dirname(resolve(outPath)), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify(full, null, 2)}\n`);
}

/** Prints a bench's report on stdout as JSON and, given `outPath` (its --out option), writes it there too. */
export function printReport(report: Record<string, unknown>, outPath: string | undefined): void {
  console.log(JSON.stringify(report, null, 2));
  if (outPath !== undefined) writeReport(report, outPath);
}
