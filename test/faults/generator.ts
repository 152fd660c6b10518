// The fault suite's event stream: seeded, so a run can be repeated exactly. Several tenants of different sizes, users
// and items drawn from skewed (Zipf) distributions, the four event types with impressions carrying recommendation ids
// that later clicks refer to, a category in the context, event times spread over a fixed span with a little jitter
// (slightly out of order, as real producers are). A small share of the messages is invalid, one of several kinds, each
// with the reason the pipeline must give when it dead-letters it. Pure: encoding and producing are the caller's.
import type { InteractionEvent } from '../../core/events.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

/** Samples 0..n-1 with P(k) proportional to 1/(k+1)^s. */
export function zipfSampler(n: number, s: number): (u: number) => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += 1 / (k + 1) ** s;
    cdf[k] = sum;
  }
  return (u: number) => {
    const target = u * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/**
 * Kinds of bad input, with the dead-letter stage and the reason (a pattern) the ledger writer must record. Each is
 * produced with the key `bad/<kind>/<n>`, which the dead letter keeps, so every injected message can be found again.
 */
export const INVALID_KINDS = {
  /** Bytes that are not the Confluent wire format. */
  'garbage-bytes': { stage: 'decode', reason: /^not Confluent wire format/ },
  /** A message with an empty value. */
  'empty-value': { stage: 'decode', reason: /^empty message value$/ },
  /** Magic byte and a schema id the registry does not have. */
  'unknown-schema-id': { stage: 'decode', reason: /^unknown schema id \d+: the registry has no such schema$/ },
  /** A registered event schema id with a truncated Avro body. */
  'corrupt-avro': { stage: 'decode', reason: /^Avro body does not decode with schema id \d+/ },
  /** A valid catalogue item: a registered schema, but not an interaction event. */
  'foreign-schema': {
    stage: 'decode',
    reason: /^schema id \d+ is io\.rankstream\.catalog\.Item, not an interaction event$/,
  },
  /** Valid Avro, but an empty event id. */
  'empty-event-id': { stage: 'validate', reason: /^invalid io\.rankstream\.events\.\w+: eventId: must not be empty$/ },
  /** Valid Avro, a timestamp before 1990. */
  'ancient-timestamp': {
    stage: 'validate',
    reason: /^invalid io\.rankstream\.events\.\w+: timestamp: before 1990-01-01$/,
  },
  /** Valid Avro, a timestamp in 2100. */
  'future-timestamp': {
    stage: 'validate',
    reason: /^invalid io\.rankstream\.events\.\w+: timestamp: more than 24 h in the future$/,
  },
  /** Valid Avro, a tenant id breaking the tenant rule. */
  'bad-tenant': { stage: 'validate', reason: /^invalid io\.rankstream\.events\.\w+: tenant: must match/ },
} as const satisfies Record<string, { stage: 'decode' | 'validate'; reason: RegExp }>;
export type InvalidKind = keyof typeof INVALID_KINDS;
export const INVALID_KIND_NAMES = Object.keys(INVALID_KINDS) as InvalidKind[];

export type Generated =
  | { kind: 'valid'; event: InteractionEvent }
  /** `event` is the (possibly rule-breaking) event to encode for the Avro-based kinds; unused by the byte-level ones. */
  | { kind: 'invalid'; invalid: InvalidKind; key: string; event: InteractionEvent };

export interface StreamOptions {
  seed: number;
  /** Messages in all, valid and invalid. */
  events: number;
  tenants: number;
  /** Share of the messages that are invalid (e.g. 0.002). */
  invalidShare: number;
  /** Event time of the first event and the span the stream covers. */
  startMs: number;
  spanMs: number;
  usersPerTenant: number;
  itemsPerTenant: number;
  categoriesPerTenant: number;
}

export const DEFAULT_STREAM: Omit<StreamOptions, 'events'> = {
  seed: 42,
  tenants: 4,
  invalidShare: 0.002,
  startMs: Date.UTC(2026, 0, 5, 8, 0, 0),
  spanMs: 2 * 3600_000,
  usersPerTenant: 10_000,
  itemsPerTenant: 2_000,
  categoriesPerTenant: 40,
};

export const tenantName = (t: number): string => `fault-t${t}`;

/** The id of the i-th message of a seeded stream (valid events keep it; it is how the ledger is checked). */
export const eventIdFor = (seed: number, i: number): string => `e${seed.toString(36)}-${i.toString(36)}`;

/** The stream, lazily: message i is the same for the same options whatever is consumed before it. */
export function* eventStream(o: StreamOptions): Generator<Generated> {
  const r = seededRandom(o.seed);
  // tenant sizes 1 : 1/2 : 1/3 ...: one large tenant, a long tail
  const tenantOf = zipfSampler(o.tenants, 1);
  const userOf = zipfSampler(o.usersPerTenant, 0.8);
  const itemOf = zipfSampler(o.itemsPerTenant, 1.05);
  const invalidEvery = o.invalidShare > 0 ? 1 / o.invalidShare : Infinity;
  let nextInvalid = invalidEvery / 2;
  let invalidCount = 0;
  // per user: the current feed (recommendation id) and how many impressions it has shown
  const feeds = new Map<string, { id: string; shown: number; serial: number }>();
  for (let i = 0; i < o.events; i++) {
    const tenant = tenantName(tenantOf(r()));
    const user = `u${userOf(r())}`;
    const itemIdx = itemOf(r());
    const item = `i${itemIdx}`;
    const category = `c${(itemIdx * 2654435761) % o.categoriesPerTenant}`;
    const jitter = Math.floor((r() - 0.5) * 60_000);
    const timestamp = o.startMs + Math.floor((i / o.events) * o.spanMs) + jitter;
    const eventId = eventIdFor(o.seed, i);
    const userKey = `${tenant}/${user}`;
    let feed = feeds.get(userKey);
    if (!feed || feed.shown >= 10) {
      const serial = (feed?.serial ?? 0) + 1;
      feed = { id: `r-${tenant}-${user}-${serial}`, shown: 0, serial };
      feeds.set(userKey, feed);
    }
    const roll = r();
    const context = { category, device: r() < 0.6 ? 'mobile' : 'web' };
    let event: InteractionEvent;
    if (roll < 0.6) {
      event = {
        type: 'impression',
        eventId,
        tenant,
        userId: user,
        itemId: item,
        timestamp,
        context,
        recommendationId: feed.id,
        position: feed.shown++,
        feedId: 'home',
      };
    } else if (roll < 0.85) {
      event = {
        type: 'click',
        eventId,
        tenant,
        userId: user,
        itemId: item,
        timestamp,
        context,
        recommendationId: r() < 0.7 ? feed.id : null,
      };
    } else if (roll < 0.95) {
      event = {
        type: 'engagement',
        eventId,
        tenant,
        userId: user,
        itemId: item,
        timestamp,
        context,
        action: r() < 0.5 ? 'cart' : 'fav',
        recommendationId: r() < 0.5 ? feed.id : null,
      };
    } else {
      event = {
        type: 'conversion',
        eventId,
        tenant,
        userId: user,
        itemId: item,
        timestamp,
        context,
        value: Math.round(r() * 20_000) / 100,
        recommendationId: r() < 0.5 ? feed.id : null,
      };
    }
    if (i >= nextInvalid) {
      nextInvalid += invalidEvery;
      const invalid = INVALID_KIND_NAMES[invalidCount % INVALID_KIND_NAMES.length]!;
      const key = `bad/${invalid}/${invalidCount++}`;
      yield { kind: 'invalid', invalid, key, event: breakEvent(event, invalid) };
      continue;
    }
    yield { kind: 'valid', event };
  }
}

/** The event an Avro-based invalid kind encodes (the rule it breaks); other kinds get the event unchanged. */
function breakEvent(e: InteractionEvent, kind: InvalidKind): InteractionEvent {
  switch (kind) {
    case 'empty-event-id':
      return { ...e, eventId: '' };
    case 'ancient-timestamp':
      return { ...e, timestamp: Date.UTC(1980, 0, 1) };
    case 'future-timestamp':
      return { ...e, timestamp: Date.UTC(2100, 0, 1) };
    case 'bad-tenant':
      return { ...e, tenant: 'Not A Tenant' };
    default:
      return e;
  }
}
