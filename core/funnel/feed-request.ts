// What a caller may ask for, checked the same way for HTTP and Kafka feed requests.
import { z } from 'zod';
import { constraintsSchema, type Constraints } from '../catalog.ts';
import { tenantId } from '../events.ts';
import type { BusinessRules } from './rerank.ts';

export interface FeedRequestLimits {
  defaultK: number;
  maxK: number;
}

export interface ValidFeedRequest {
  tenant: string;
  userId: string;
  k: number;
  exclude: string[];
  /** Hard constraints on item attributes (core/catalog.ts); {} for none. */
  where: Constraints;
  /**
   * Items the user is looking at now (an item page, the session so far): without a user vector, the ANN rail searches
   * near them, which is how a new user, or a new tenant served from the community partition, gets similar items.
   */
  seedItems: string[];
  /** Business rules for this request (pin, boost, exclude by attribute), applied at re-ranking. */
  rules: BusinessRules;
  /** Return each item's click-model explanation (per-feature contributions). */
  explain: boolean;
}

export type FeedRequestCheck = { ok: true; value: ValidFeedRequest } | { ok: false; field: string; error: string };

const MAX_EXCLUDE = 1000;
const MAX_SEEDS = 20;

/** GET query strings and Kafka requests carry structured fields as JSON text. */
function jsonText(v: unknown, ctx: z.RefinementCtx): unknown {
  if (typeof v !== 'string') return v;
  let proto = false;
  let parsed: unknown;
  try {
    // JSON.parse keeps a "__proto__" key, but the schemas' records would drop it without a word: refuse it instead
    parsed = JSON.parse(v, (key, value: unknown) => ((proto ||= key === '__proto__'), value));
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
    return z.NEVER;
  }
  if (proto) {
    ctx.addIssue({ code: 'custom', message: 'the key "__proto__" is not allowed' });
    return z.NEVER;
  }
  return parsed;
}

const attribute = z.string().min(1).max(64);
const rulesSchema = z
  .object({
    pin: z.array(z.string().min(1).max(256)).max(20, 'at most 20 items').default([]),
    boost: z
      .array(z.object({ attribute, value: z.string().max(1024), factor: z.number().positive().max(100) }).strict())
      .max(16, 'at most 16 boosts')
      .default([]),
    exclude: z
      .array(z.object({ attribute, values: z.array(z.string().max(1024)).min(1).max(100) }).strict())
      .max(16, 'at most 16 exclusions')
      .default([]),
  })
  .strict();

function schema(limits: FeedRequestLimits) {
  return z.object({
    tenant: tenantId,
    userId: z.string().min(1, 'must not be empty').max(256, 'longer than 256 characters'),
    // a JSON integer, or decimal digits in a query string; not true, [5], "0x10" or "1e2", which coercion would accept
    k: z
      .preprocess(
        (v) => (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : v),
        z
          .number({ error: 'must be an integer' })
          .int('must be an integer')
          .min(1, 'must be at least 1')
          .max(limits.maxK, `must be at most ${limits.maxK}`),
      )
      .default(limits.defaultK),
    exclude: z.array(z.string().min(1).max(256)).max(MAX_EXCLUDE, `at most ${MAX_EXCLUDE} items`).default([]),
    where: z.preprocess(jsonText, constraintsSchema).default({}),
    seedItems: z.array(z.string().min(1).max(256)).max(MAX_SEEDS, `at most ${MAX_SEEDS} items`).default([]),
    rules: z.preprocess(jsonText, rulesSchema).default({ pin: [], boost: [], exclude: [] }),
    explain: z
      .preprocess(
        (v) => (v === 'true' ? true : v === 'false' ? false : v),
        z.boolean({ error: 'must be true or false' }),
      )
      .default(false),
  });
}

/** Validates a request; on failure names the first offending field (as the caller spelled it: tenant, user, k, exclude). */
// Built once per limits: constructing the zod schema cost ~0.7 ms, far more than checking a request with it.
const schemas = new Map<string, ReturnType<typeof schema>>();

export function checkFeedRequest(input: Record<string, unknown>, limits: FeedRequestLimits): FeedRequestCheck {
  const cacheKey = `${limits.defaultK}/${limits.maxK}`;
  let checker = schemas.get(cacheKey);
  if (!checker) schemas.set(cacheKey, (checker = schema(limits)));
  const parsed = checker.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0]!;
  const field = String(issue.path[0] ?? 'request');
  const name = field === 'userId' ? 'user' : field;
  const detail = issue.path.length > 1 ? `${issue.path.slice(1).map(String).join('.')}: ` : '';
  return { ok: false, field: name, error: `${name}: ${detail}${issue.message}` };
}
