// The interaction events producers emit, and the invariants every accepted event satisfies.
// Avro guarantees the types on the wire; these rules guard what Avro cannot express (empty ids, absurd times).
import { z } from 'zod';

export const EVENT_TYPES = ['impression', 'click', 'engagement', 'conversion'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Avro record name (io.rankstream.events.<Name>) for each event type. */
export const RECORD_NAMES: Record<EventType, 'Impression' | 'Click' | 'Engagement' | 'Conversion'> = {
  impression: 'Impression',
  click: 'Click',
  engagement: 'Engagement',
  conversion: 'Conversion',
};

interface EventBase {
  eventId: string;
  tenant: string;
  userId: string;
  itemId: string;
  /** Event time, epoch milliseconds. */
  timestamp: number;
  context: Record<string, string>;
}

export interface ImpressionEvent extends EventBase {
  type: 'impression';
  recommendationId: string;
  position: number;
  feedId: string;
}
export interface ClickEvent extends EventBase {
  type: 'click';
  recommendationId: string | null;
}
export interface EngagementEvent extends EventBase {
  type: 'engagement';
  action: string;
  recommendationId: string | null;
}
export interface ConversionEvent extends EventBase {
  type: 'conversion';
  value: number;
  recommendationId: string | null;
}
export type InteractionEvent = ImpressionEvent | ClickEvent | EngagementEvent | ConversionEvent;

// Earliest plausible event: MovieLens ratings start in 1996. Latest: a day of clock skew.
export const MIN_EVENT_TIME_MS = Date.UTC(1990, 0, 1);
export const MAX_CLOCK_SKEW_MS = 24 * 3600 * 1000;

const TENANT_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const id = z.string().min(1, 'must not be empty').max(256, 'longer than 256 characters');
export const tenantId = z.string().regex(TENANT_RE, 'must match [a-z0-9][a-z0-9_-]{0,63}');

const base = {
  eventId: id,
  tenant: tenantId,
  userId: id,
  itemId: id,
  timestamp: z.number().int().min(MIN_EVENT_TIME_MS, 'before 1990-01-01'),
  context: z
    .record(z.string().max(128), z.string().max(1024))
    .refine((m) => Object.keys(m).length <= 64, 'more than 64 entries'),
};
const optionalRecommendation = id.nullable();

// Built once: constructing zod schemas is far more expensive than running them, and this runs per event.
const eventSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('impression'),
    recommendationId: id,
    position: z.number().int().min(0).max(10_000),
    feedId: id,
  }),
  z.object({ ...base, type: z.literal('click'), recommendationId: optionalRecommendation }),
  z.object({ ...base, type: z.literal('engagement'), action: id, recommendationId: optionalRecommendation }),
  z.object({
    ...base,
    type: z.literal('conversion'),
    value: z.number().finite(),
    recommendationId: optionalRecommendation,
  }),
]);

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Checks an event against the domain invariants; the error names every offending field. */
export function validateEvent(candidate: unknown, nowMs: number = Date.now()): ValidationResult<InteractionEvent> {
  const context =
    typeof candidate === 'object' && candidate !== null ? (candidate as { context?: unknown }).context : undefined;
  if (hasProtoKey(context)) return { ok: false, error: PROTO_KEY_ERROR('context') };
  const parsed = eventSchema.safeParse(candidate);
  if (!parsed.success) return { ok: false, error: formatIssues(parsed.error.issues) };
  if (parsed.data.timestamp > nowMs + MAX_CLOCK_SKEW_MS)
    return { ok: false, error: 'timestamp: more than 24 h in the future' };
  return { ok: true, value: parsed.data };
}

/**
 * A map key "__proto__" cannot survive a JavaScript object (parsers, zod and avsc assign it, which sets the prototype
 * instead): refused by name rather than dropped without a word.
 */
export function hasProtoKey(map: unknown): boolean {
  return typeof map === 'object' && map !== null && Object.prototype.hasOwnProperty.call(map, '__proto__');
}
export const PROTO_KEY_ERROR = (field: string) => `${field}: the key "__proto__" is not allowed`;

export function formatIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Strips the discriminator: the Avro record carries the type in its schema, not in a field. */
export function toAvroRecord(event: InteractionEvent): Record<string, unknown> {
  const { type: _type, ...rest } = event;
  return rest;
}

/** Re-attaches the discriminator after decoding a record of a known Avro record name. */
export function fromAvroRecord(recordName: string, record: Record<string, unknown>): unknown {
  const type = EVENT_TYPES.find((t) => RECORD_NAMES[t] === recordName);
  if (!type) throw new Error(`schema ${recordName} is not an interaction event`);
  return { ...record, type };
}
