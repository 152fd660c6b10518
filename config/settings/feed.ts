// Settings of how a feed is built (docs/design/ranking.md): retrieval rails, the learned rankers, re-ranking and
// exploration. An A/B variant may override the retrieval shares, the re-ranking and the ranker per user.
import { z } from 'zod';
import { nonNegativeInt, positiveInt, setting, sqlName, type Section } from '../setting.ts';

const share = z.coerce.number().min(0);

export const retrieval = {
  title: 'Retrieval',
  about:
    'Stage 1: the rails that fill a feed (ANN on the ALS vectors, popular, trending and fresh items) and its size. ' +
    'The shares are normalised over the rails that have candidates; a rail without any leaves its slots to the others.',
  settings: {
    RETRIEVAL_SHARE_ANN: setting({
      doc: "The ANN (personal) rail's share of a feed's slots.",
      schema: share,
      default: 0.7,
    }),
    RETRIEVAL_SHARE_POPULAR: setting({
      doc: "The popular rail's share of a feed's slots.",
      schema: share,
      default: 0.1,
    }),
    RETRIEVAL_SHARE_TRENDING: setting({
      doc: "The trending rail's share of a feed's slots.",
      schema: share,
      default: 0.1,
    }),
    RETRIEVAL_SHARE_FRESH: setting({ doc: "The fresh rail's share of a feed's slots.", schema: share, default: 0.1 }),
    RETRIEVAL_MAX_POOL: setting({
      doc: "The most candidates a rail's pool widens to when filters (seen, excluded, constraints) remove too many.",
      schema: positiveInt,
      default: 5000,
    }),
    FRESH_MAX_AGE_S: setting({
      doc: "Seconds after its creation (by the tenant's latest event time) that an item stays on the fresh rail.",
      schema: positiveInt,
      default: 7 * 24 * 3600,
    }),
    FEED_DEFAULT_K: setting({
      doc: 'Items in a feed when the request does not say (`k`).',
      schema: positiveInt,
      default: 10,
    }),
    FEED_MAX_K: setting({
      doc: 'The most items a request may ask for; a larger `k` is refused.',
      schema: positiveInt,
      default: 200,
    }),
    MODEL_VERSION: setting({
      doc:
        "The `modelVersion` a feed reports for its non-personal rails (a personal feed reports the ALS model's " +
        'version, or `<ALS version>+<this>` when it mixes both).',
      schema: z.string(),
      default: 'popularity-v1',
    }),
  },
} satisfies Section;

export const ranking = {
  title: 'Ranking',
  about:
    'Stage 3: the online FTRL click model, trained from impressions joined with their clicks by the ranker trainer, ' +
    'and the batch LambdaMART tree ranker trained from the labelled impressions.',
  settings: {
    RANKER_ATTRIBUTION_WINDOW_S: setting({
      doc: 'A click or conversion counts for an impression when it comes within this many seconds of it (event time).',
      schema: positiveInt,
      default: 1800,
    }),
    RANKER_PUBLISH_INTERVAL_S: setting({
      doc: 'How often (seconds) the ranker trainer publishes a new FTRL version.',
      schema: positiveInt,
      default: 30,
    }),
    RANKER_ALPHA: setting({
      doc: 'FTRL-Proximal learning rate.',
      schema: z.coerce.number().positive(),
      default: 0.05,
    }),
    RANKER_L1: setting({
      doc: 'FTRL L1 regularisation (sparsity).',
      schema: z.coerce.number().min(0),
      default: 1,
    }),
    RANKER_L2: setting({ doc: 'FTRL L2 regularisation.', schema: z.coerce.number().min(0), default: 1 }),
    RANKER_PRIOR_CTR: setting({
      doc: 'The click rate the FTRL model starts from (its base logit) before it has learned anything.',
      schema: z.coerce.number().positive().max(0.5),
      default: 0.02,
    }),
    RANKER_EXAMPLES_TABLE: setting({
      doc: 'ClickHouse table of the labelled impressions with their served context (written by the ranker trainer).',
      schema: sqlName,
      default: 'ranker_examples',
    }),
    RANKER_TRAIN_DAYS: setting({
      doc: 'How many days of labelled impressions the tree ranker trains from.',
      schema: positiveInt,
      default: 30,
    }),
    RANKER_TREES: setting({ doc: 'LambdaMART boosting rounds (trees).', schema: positiveInt, default: 100 }),
    RANKER_TREE_DEPTH: setting({ doc: 'LambdaMART tree depth.', schema: positiveInt.max(8), default: 4 }),
    RANKER_TREE_LEARNING_RATE: setting({
      doc: 'LambdaMART shrinkage: the weight of each new tree.',
      schema: z.coerce.number().positive().max(1),
      default: 0.1,
    }),
    RANKER_TREE_MIN_LEAF: setting({
      doc: 'The fewest impressions in a LambdaMART leaf.',
      schema: positiveInt,
      default: 20,
    }),
  },
} satisfies Section;

export const rerankAndExploration = {
  title: 'Re-ranking and exploration',
  about:
    'Stage 4 defaults (a request adds its own business rules): when anything is to be re-ranked, the rails fill a ' +
    'pool of `RERANK_POOL_FACTOR` × k candidates and re-ranking picks k, exploring in the last slots.',
  settings: {
    RERANK_MMR_LAMBDA: setting({
      doc:
        'Maximal marginal relevance: λ·relevance − (1 − λ)·similarity to the items already chosen; ' +
        '1 = relevance only.',
      schema: z.coerce.number().min(0).max(1),
      default: 1,
    }),
    RERANK_MAX_PER_CATEGORY: setting({
      doc: 'The most items of one category in a feed; 0 = no cap.',
      schema: nonNegativeInt,
      default: 0,
    }),
    RERANK_FRESHNESS_BOOST: setting({
      doc: "Relevance × (1 + boost · 2^(−age / half-life)), age counted from the item's creation; 0 = no boost.",
      schema: z.coerce.number().min(0),
      default: 0,
    }),
    RERANK_FRESHNESS_HALF_LIFE_S: setting({
      doc: 'Half-life (seconds) of the freshness boost.',
      schema: positiveInt,
      default: 24 * 3600,
    }),
    RERANK_POOL_FACTOR: setting({
      doc: 'Candidates re-ranking picks from, as a multiple of k.',
      schema: z.coerce.number().int().min(1).max(50),
      default: 3,
    }),
    EXPLORATION: setting({
      doc: 'Exploration in the last `EXPLORATION_SLOTS` positions: none, ε-greedy or Thompson sampling.',
      schema: z.enum(['none', 'epsilon-greedy', 'thompson']),
      default: 'none',
    }),
    EXPLORATION_EPSILON: setting({
      doc: 'ε of ε-greedy: the chance an exploration slot gets a random candidate of the pool.',
      schema: z.coerce.number().min(0).max(1),
      default: 0.1,
    }),
    EXPLORATION_SLOTS: setting({
      doc: 'The feed positions (the last ones) exploration may fill.',
      schema: nonNegativeInt,
      default: 1,
    }),
    THOMPSON_PRIOR_CLICKS: setting({
      doc: "Beta prior of Thompson sampling on a candidate's 7-day clicks / impressions: pseudo-clicks.",
      schema: z.coerce.number().min(1),
      default: 1,
    }),
    THOMPSON_PRIOR_SHOWS: setting({
      doc: 'Beta prior of Thompson sampling: pseudo-impressions (raised to `THOMPSON_PRIOR_CLICKS` + 1 if lower).',
      schema: z.coerce.number().min(2),
      default: 20,
    }),
    THOMPSON_DRAWS: setting({
      doc: "Repeated draws that estimate a Thompson slot's propensity (the share of draws that pick the item).",
      schema: positiveInt,
      default: 100,
    }),
  },
} satisfies Section;
