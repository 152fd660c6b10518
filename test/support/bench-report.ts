// What every benchmark's JSON reports alike: the machine it ran on, and latency quantiles.
import { cpus, totalmem } from 'node:os';

export function machine(): { cpus: number; cpuModel: string; memGiB: number; node: string } {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memGiB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
  };
}

/** The q-quantile of a sample (nearest rank), 0 for an empty one. */
export function quantile(xs: readonly number[], q: number): number {
  return [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0;
}
