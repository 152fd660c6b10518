// The numeric values an event carries, by feature name: what the incremental scaler observes. Context entries that
// parse as finite numbers (price, dwell_ms, rating...) become `ctx.<key>`.
import type { InteractionEvent } from '../events.ts';

const NUMERIC = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

export function numericFeatures(event: InteractionEvent): Record<string, number> {
  const out: Record<string, number> = {};
  if (event.type === 'impression') out.position = event.position;
  if (event.type === 'conversion') out.value = event.value;
  for (const [k, v] of Object.entries(event.context)) {
    if (NUMERIC.test(v.trim())) {
      const x = Number(v);
      if (Number.isFinite(x)) out[`ctx.${k}`] = x;
    }
  }
  return out;
}
