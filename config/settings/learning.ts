// Settings of what the stream processors and batch jobs compute: consumption, the online features, the learned models
// (scaler, ALS, content map) and the job queues.
import { z } from 'zod';
import { list, nonNegativeInt, optionalSetting, positiveInt, setting, type Section } from '../setting.ts';

export const processing = {
  title: 'Processing',
  about: 'How the stream processors consume: consumer groups, retries, de-duplication, catalogue parsing.',
  settings: {
    CONSUMER_GROUP_PREFIX: setting({
      doc: 'Consumer groups are `<prefix>-<processor>`; change it to run a second, independent set of processors.',
      schema: z.string().regex(/^[A-Za-z0-9._-]+$/),
      default: 'rankstream',
    }),
    RUNNER_MAX_RETRIES: setting({
      doc:
        "Retries of a batch's side effects (Redis, ClickHouse writes) before the records that keep failing are " +
        'isolated and dead-lettered.',
      schema: nonNegativeInt,
      default: 3,
    }),
    RUNNER_RETRY_BACKOFF_MS: setting({
      doc: 'First retry delay in milliseconds; it doubles on each further retry.',
      schema: positiveInt,
      default: 200,
    }),
    DEDUPE_TTL_S: setting({
      doc: 'How long (seconds) an event id is remembered: a re-delivery or replay inside it is a no-op.',
      schema: positiveInt,
      default: 7 * 24 * 3600,
    }),
    CATALOG_TEXT_ATTRIBUTES: setting({
      doc: 'Item attributes fingerprinted as free text (word tokens) rather than as categories.',
      schema: list,
      default: ['title', 'description'],
    }),
  },
} satisfies Section;

export const features = {
  title: 'Features',
  about: 'The online features kept in Redis: decayed popularity and trending scores, per-user seen and recent items.',
  settings: {
    POPULARITY_HALF_LIFE_S: setting({
      doc: 'Half-life (seconds, event time) of the decayed popularity scores and counts.',
      schema: positiveInt,
      default: 6 * 3600,
    }),
    TRENDING_HALF_LIFE_S: setting({
      doc: 'The short half-life (seconds, event time) of the trending score.',
      schema: positiveInt,
      default: 3600,
    }),
    POPULARITY_MAX_ITEMS: setting({
      doc: 'Items kept per tenant in the popularity and trending rankings.',
      schema: positiveInt,
      default: 10_000,
    }),
    POPULARITY_TTL_S: setting({
      doc: "Seconds after which an idle tenant's popularity keys expire.",
      schema: positiveInt,
      default: 14 * 24 * 3600,
    }),
    SEEN_MAX_ITEMS: setting({
      doc: 'Seen items kept per user (filtered out of their feeds).',
      schema: positiveInt,
      default: 500,
    }),
    SEEN_TTL_S: setting({
      doc: "Seconds after which an idle user's keys (seen and recent items, ALS interaction history) expire.",
      schema: positiveInt,
      default: 30 * 24 * 3600,
    }),
    RECENT_MAX_ITEMS: setting({
      doc: 'Recent items kept per user.',
      schema: positiveInt,
      default: 50,
    }),
    FEATURE_PRIOR_STRENGTH: setting({
      doc: 'Pseudo-trials of the tenant-wide rate that smooth every per-item and per-user click rate.',
      schema: positiveInt,
      default: 100,
    }),
  },
} satisfies Section;

export const models = {
  title: 'Models',
  about:
    'The learned models besides the ranker: the feature scaler, ALS collaborative filtering, the content map for ' +
    'items with few interactions, and where their immutable artifacts live.',
  settings: {
    ARTIFACTS_DIR: optionalSetting({
      doc:
        'Immutable model artifacts (scaler, ALS and ranker versions, index snapshots); shared by every process, ' +
        'so a deployment mounts one volume here.',
      schema: z.string(),
      defaultText: '`<RANKSTREAM_DATA_DIR>/artifacts`',
    }),
    SCALER_MIN_SAMPLES: setting({
      doc: 'Samples of its least-observed feature a scaler candidate needs before it may be promoted.',
      schema: positiveInt,
      default: 1000,
    }),
    SCALER_MIN_DRIFT: setting({
      doc:
        "Drift from the current scaler below which a candidate is not promoted (the scale doesn't jitter under " +
        'load); drift is the largest mean shift in standard deviations or |ln(std ratio)|.',
      schema: z.coerce.number().min(0),
      default: 0.1,
    }),
    SCALER_MAX_DRIFT: setting({
      doc: 'Drift above which a candidate is held for an operator (`npm run scaler -- publish --force`).',
      schema: z.coerce.number().positive(),
      default: 3,
    }),
    SCALER_PUBLISH_INTERVAL_S: setting({
      doc: 'How often (seconds) the scaler processor proposes a candidate version.',
      schema: positiveInt,
      default: 30,
    }),
    // ALS defaults: DEFAULT_ALS_PARAMS, tuned on MovieLens with the offline protocol
    // (docs/design/offline-evaluation.md)
    ALS_FACTORS: setting({ doc: 'ALS latent factors per user and item.', schema: positiveInt, default: 64 }),
    ALS_REGULARIZATION: setting({
      doc: 'ALS L2 regularisation (λ).',
      schema: z.coerce.number().positive(),
      default: 30,
    }),
    ALS_ALPHA: setting({
      doc: 'ALS confidence scale: an interaction of strength r has confidence 1 + alpha·|r|.',
      schema: z.coerce.number().positive(),
      default: 3,
    }),
    ALS_ITERATIONS: setting({ doc: 'ALS alternating passes per training.', schema: positiveInt, default: 15 }),
    ALS_CG_STEPS: setting({
      doc: 'Conjugate-gradient steps per ALS least-squares solve.',
      schema: positiveInt,
      default: 3,
    }),
    ALS_WEIGHT_IMPRESSION: setting({
      doc: 'Interaction strength of an impression for ALS (negative = negative feedback).',
      schema: z.coerce.number(),
      default: 0,
    }),
    ALS_WEIGHT_CLICK: setting({
      doc: 'Interaction strength of a click for ALS.',
      schema: z.coerce.number(),
      default: 1,
    }),
    ALS_WEIGHT_ENGAGEMENT: setting({
      doc: 'Interaction strength of an engagement for ALS.',
      schema: z.coerce.number(),
      default: 3,
    }),
    ALS_WEIGHT_CONVERSION: setting({
      doc: 'Interaction strength of a conversion for ALS.',
      schema: z.coerce.number(),
      default: 5,
    }),
    ALS_HISTORY_MAX_ITEMS: setting({
      doc: "A user's strongest interactions kept for the streaming ALS fold-in (bounds memory and the solve's cost).",
      schema: positiveInt,
      default: 1000,
    }),
    CONTENT_MIN_INTERACTIONS: setting({
      doc:
        'Items with fewer interactions are indexed with a blend toward their content embedding ' +
        '(items with none: content only).',
      schema: positiveInt,
      default: 5,
    }),
    CONTENT_MAP_REGULARIZATION: setting({
      doc:
        'Ridge λ of the fingerprint → ALS-factor map ' +
        '(best of 0.1/1/10/30 on ml-latest-small, `npm run bench:retcon`).',
      schema: z.coerce.number().positive(),
      default: 10,
    }),
  },
} satisfies Section;

export const jobs = {
  title: 'Jobs',
  about: 'The BullMQ job queues (ALS training, retcon) and what queues a retcon.',
  settings: {
    QUEUE_PREFIX: setting({
      doc: 'BullMQ key prefix (the queues live in the same Redis).',
      schema: z.string().regex(/^[A-Za-z0-9_-]+$/),
      default: 'rankstream',
    }),
    RETCON_NEW_ITEMS_TRIGGER: setting({
      doc: "New catalogue items that queue a rebuild (retcon) of the tenant's index; 0 = never on new items.",
      schema: nonNegativeInt,
      default: 500,
    }),
  },
} satisfies Section;
