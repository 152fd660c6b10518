// The item catalogue: what a producer says about an item (attributes, numeric stats, when it appeared, whether it was
// removed), the rules every accepted item record satisfies, and hard constraints a feed request puts on attributes.
import { z } from 'zod';
import {
  formatIssues,
  hasProtoKey,
  MAX_CLOCK_SKEW_MS,
  MIN_EVENT_TIME_MS,
  PROTO_KEY_ERROR,
  tenantId,
  type ValidationResult,
} from './events.ts';

export interface CatalogItem {
  tenant: string;
  itemId: string;
  /** Categorical and text attributes; multi-valued (genres, tags). */
  attributes: Record<string, string[]>;
  /** Explicit numeric stats (price, year, duration...). */
  numeric: Record<string, number>;
  /** When the item entered the catalogue, epoch ms: what the fresh-items rail orders by. */
  createdAt: number;
  /** The record's version, epoch ms: a record older than the stored one is ignored (re-delivery, replays). */
  updatedAt: number;
  /** A removed item: never served again, deleted from live indexes. */
  deleted: boolean;
}

const id = z.string().min(1, 'must not be empty').max(256, 'longer than 256 characters');
const name = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'longer than 64 characters')
  .regex(/^[A-Za-z0-9_.-]+$/, 'must match [A-Za-z0-9_.-]+');
const time = z.number().int().min(MIN_EVENT_TIME_MS, 'before 1990-01-01');

const itemSchema = z.object({
  tenant: tenantId,
  itemId: id,
  attributes: z
    .record(name, z.array(z.string().max(1024, 'longer than 1024 characters')).max(64, 'more than 64 values'))
    .refine((m) => Object.keys(m).length <= 64, 'more than 64 attributes'),
  numeric: z
    .record(name, z.number().finite('must be finite'))
    .refine((m) => Object.keys(m).length <= 64, 'more than 64 entries'),
  createdAt: time,
  updatedAt: time,
  deleted: z.boolean(),
});

export function validateCatalogItem(candidate: unknown, nowMs: number = Date.now()): ValidationResult<CatalogItem> {
  if (typeof candidate === 'object' && candidate !== null) {
    for (const field of ['attributes', 'numeric'] as const) {
      if (hasProtoKey((candidate as Record<string, unknown>)[field]))
        return { ok: false, error: PROTO_KEY_ERROR(field) };
    }
  }
  const parsed = itemSchema.safeParse(candidate);
  if (!parsed.success) return { ok: false, error: formatIssues(parsed.error.issues) };
  for (const field of ['createdAt', 'updatedAt'] as const) {
    if (parsed.data[field] > nowMs + MAX_CLOCK_SKEW_MS)
      return { ok: false, error: `${field}: more than 24 h in the future` };
  }
  return { ok: true, value: parsed.data };
}

/** One hard constraint on an attribute: one of a set of values (any value of a multi-valued attribute), or a numeric range. */
export type AttributeConstraint = { in: string[] } | { min?: number; max?: number };
export type Constraints = Record<string, AttributeConstraint>;

/**
 * Parses a request's `where`: { category: ["a", "b"], price: { max: 20 } }. An array means "one of"; an object with
 * min and/or max a closed numeric range. Returns the error naming the offending attribute.
 */
export const constraintsSchema = z
  .record(
    name,
    z.union([
      z.array(z.string().max(1024)).min(1, 'give at least one value').max(100, 'at most 100 values'),
      z
        .object({ min: z.number().finite().optional(), max: z.number().finite().optional() })
        .strict()
        .refine((r) => r.min !== undefined || r.max !== undefined, 'give min, max or both')
        .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, 'min is above max'),
    ]),
  )
  .refine((m) => Object.keys(m).length <= 16, 'at most 16 constraints')
  .transform((m): Constraints => {
    const out: Constraints = {};
    for (const [k, v] of Object.entries(m)) out[k] = Array.isArray(v) ? { in: v } : v;
    return out;
  });

export function hasConstraints(c: Constraints): boolean {
  return Object.keys(c).length > 0;
}

/**
 * Whether an item passes every constraint. An item without a catalogue record, or without the constrained attribute,
 * fails: a hard constraint admits only items known to satisfy it. A range applies to `numeric`, a value set to
 * `attributes` (or to a numeric stat spelled as its decimal string).
 */
export function satisfies(item: CatalogItem | null, constraints: Constraints): boolean {
  for (const [attr, c] of Object.entries(constraints)) {
    if (!item) return false;
    if ('in' in c) {
      const values = item.attributes[attr] ?? (attr in item.numeric ? [String(item.numeric[attr])] : []);
      if (!values.some((v) => c.in.includes(v))) return false;
    } else {
      const x = item.numeric[attr];
      if (x === undefined || (c.min !== undefined && x < c.min) || (c.max !== undefined && x > c.max)) return false;
    }
  }
  return true;
}
