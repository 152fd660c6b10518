// Reading what a process shows on /metrics: the Prometheus text exposition format parsed into samples, look-ups of
// one metric's samples by name and labels, and the same sums read straight from an in-process registry.
import type { Metrics } from '../../platform/metrics.ts';

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (the subset prom-client writes: no timestamps, no exemplars). */
export function parsePrometheus(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** A metric's samples whose labels include `where`. */
export function metricSamples(
  samples: readonly PromSample[],
  name: string,
  where: Record<string, string> = {},
): PromSample[] {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
}

/** Sum of a metric's samples whose labels include `where`. */
export function metricSum(samples: readonly PromSample[], name: string, where: Record<string, string> = {}): number {
  return metricSamples(samples, name, where).reduce((sum, s) => sum + s.value, 0);
}

/** Sums of a metric per value of one label. */
export function metricBy(samples: readonly PromSample[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples)
    if (s.name === name && s.labels[label] !== undefined) out[s.labels[label]] = (out[s.labels[label]] ?? 0) + s.value;
  return out;
}

/** Sum of a metric's values in an in-process registry (what its /metrics would show), 0 when it has none. */
export async function registrySum(metrics: Metrics, name: string): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values as { value: number }[] | undefined)?.reduce((s, v) => s + v.value, 0) ?? 0;
}

/** The samples on <baseUrl>/metrics; a failed request throws. */
export async function fetchMetrics(baseUrl: string): Promise<PromSample[]> {
  return parsePrometheus(await (await fetch(`${baseUrl}/metrics`)).text());
}

/** The samples on <baseUrl>/metrics, or null when the process does not answer (gone, or not yet listening). */
export async function scrape(baseUrl: string, timeoutMs = 5000): Promise<PromSample[] | null> {
  try {
    const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? parsePrometheus(await res.text()) : null;
  } catch {
    return null;
  }
}
