// A/B experiments: a user's variant is a pure function of the experiment's salt and the user id (no assignment table,
// stable across readers and restarts, recomputable by the report), with traffic split by variant weights. A variant
// overrides serving settings (retrieval shares, re-ranking); the feed reports every assignment it was served under.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { RANKER_KINDS, type RankerKind } from '../funnel/ranker.ts';
import type { RerankConfig } from '../funnel/rerank.ts';
import type { RailName } from '../funnel/retrieval.ts';

const share = z.number().min(0);
const overridesSchema = z
  .object({
    /** Stage 3: which learned ranker orders the pool ('none': the merged rails' order). */
    ranker: z.enum([...RANKER_KINDS, 'none']).optional(),
    retrieval: z.object({ ann: share, popular: share, trending: share, fresh: share }).partial().strict().optional(),
    rerank: z
      .object({
        mmrLambda: z.number().min(0).max(1),
        maxPerCategory: z.number().int().positive().nullable(),
        freshnessBoost: z.number().min(0),
        exploration: z.discriminatedUnion('kind', [
          z.object({ kind: z.literal('none') }),
          z.object({
            kind: z.literal('epsilon-greedy'),
            epsilon: z.number().min(0).max(1),
            slots: z.number().int().min(0),
          }),
          z.object({
            kind: z.literal('thompson'),
            slots: z.number().int().min(0),
            priorClicks: z.number().min(1),
            priorShows: z.number().min(2),
            draws: z.number().int().positive(),
          }),
        ]),
      })
      .partial()
      .strict()
      .optional(),
  })
  .strict();

export const experimentSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must match [a-z0-9][a-z0-9_-]{0,63}'),
    /** Changing the salt reshuffles users: a new experiment must not inherit the previous one's split. */
    salt: z.string().min(1).max(128),
    variants: z
      .array(
        z
          .object({
            name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/),
            weight: z.number().positive(),
            overrides: overridesSchema.default({}),
          })
          .strict(),
      )
      .min(2, 'at least two variants')
      .max(10)
      .refine((vs) => new Set(vs.map((v) => v.name)).size === vs.length, 'variant names must be unique'),
    /** The variant the others are compared with in reports (default: the first). */
    control: z.string().optional(),
    active: z.boolean().default(true),
  })
  .strict()
  .refine(
    (e) => e.control === undefined || e.variants.some((v) => v.name === e.control),
    'control must name a variant',
  );

export type Experiment = z.infer<typeof experimentSchema>;
export type VariantOverrides = z.infer<typeof overridesSchema>;

/** The user's position in [0, 1) for an experiment: the first 52 bits of sha256(salt, user). */
export function bucket(salt: string, userId: string): number {
  const h = createHash('sha256').update(salt).update('\u0000').update(userId).digest();
  return (h.readUInt32BE(0) * 2 ** 20 + (h.readUInt32BE(4) >>> 12)) / 2 ** 52;
}

export function assignVariant(e: Experiment, userId: string): Experiment['variants'][number] {
  const total = e.variants.reduce((s, v) => s + v.weight, 0);
  let x = bucket(e.salt, userId) * total;
  for (const v of e.variants) {
    if (x < v.weight) return v;
    x -= v.weight;
  }
  return e.variants[e.variants.length - 1]!;
}

export function controlOf(e: Experiment): string {
  return e.control ?? e.variants[0]!.name;
}

export interface ServingSettings {
  /** Each retrieval rail's share of the feed's slots (the config's retrieval shares, or a variant's). */
  shares: Record<RailName, number>;
  rerank: RerankConfig;
  /** The ranker a variant chose; absent: the tenant's serving ranker. */
  ranker?: RankerKind | 'none';
}

/**
 * The settings a user is served with under every active experiment (later experiments' overrides win on a conflict),
 * and the assignment to report with the feed: { experiment id: variant name }.
 */
export function applyExperiments(
  base: ServingSettings,
  experiments: readonly Experiment[],
  userId: string,
): { settings: ServingSettings; assignments: Record<string, string> } {
  let settings = base;
  const assignments: Record<string, string> = {};
  for (const e of experiments) {
    if (!e.active) continue;
    const v = assignVariant(e, userId);
    assignments[e.id] = v.name;
    const o = v.overrides;
    settings = {
      shares: { ...settings.shares, ...(o.retrieval ?? {}) },
      rerank: { ...settings.rerank, ...(o.rerank ?? {}) },
      ...(o.ranker !== undefined
        ? { ranker: o.ranker }
        : settings.ranker !== undefined
          ? { ranker: settings.ranker }
          : {}),
    };
  }
  return { settings, assignments };
}
