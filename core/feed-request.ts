// What a caller may ask for, checked the same way for HTTP and Kafka feed requests.
import { z } from 'zod';
import { tenantId } from './events.ts';

export interface FeedRequestLimits {
  defaultK: number;
  maxK: number;
}

export interface ValidFeedRequest {
  tenant: string;
  userId: string;
  k: number;
  exclude: string[];
}

export type FeedRequestCheck = { ok: true; value: ValidFeedRequest } | { ok: false; field: string; error: string };

const MAX_EXCLUDE = 1000;

function schema(limits: FeedRequestLimits) {
  return z.object({
    tenant: tenantId,
    userId: z.string().min(1, 'must not be empty').max(256, 'longer than 256 characters'),
    k: z.coerce
      .number({ error: 'must be an integer' })
      .int('must be an integer')
      .min(1, 'must be at least 1')
      .max(limits.maxK, `must be at most ${limits.maxK}`)
      .default(limits.defaultK),
    exclude: z.array(z.string().min(1).max(256)).max(MAX_EXCLUDE, `at most ${MAX_EXCLUDE} items`).default([]),
  });
}

/** Validates a request; on failure names the first offending field (as the caller spelled it: tenant, user, k, exclude). */
export function checkFeedRequest(input: Record<string, unknown>, limits: FeedRequestLimits): FeedRequestCheck {
  const parsed = schema(limits).safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0]!;
  const field = String(issue.path[0] ?? 'request');
  return { ok: false, field: field === 'userId' ? 'user' : field, error: `${field === 'userId' ? 'user' : field}: ${issue.message}` };
}
