// What a feed is computed from and what it returns: the service's options, one request's context (whose feed, from
// which partition, under which settings), the plan retrieval follows, and the placed items and outcome.
import type { Config } from '../../config/config.ts';
import type { ServingSettings } from '../../core/experiments/assignment.ts';
import type { ValidFeedRequest } from '../../core/funnel/feed-request.ts';
import type { RankerExplanation } from '../../core/funnel/ranker.ts';
import type { BusinessRules, RerankConfig } from '../../core/funnel/rerank.ts';
import type { Candidate, RailName } from '../../core/funnel/retrieval.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Redis } from '../../platform/redis.ts';
import type { AlsModelStore, LoadedAls } from '../../state/als-models.ts';
import type { ExperimentCache } from '../../state/experiments.ts';
import type { FeedInputs } from '../../state/features.ts';
import type { RankerStore } from '../../state/ranker-models.ts';
import type { IndexManager } from '../index-manager.ts';
import type { ExactFilter } from './exact-filter.ts';

export const INDEX_VERSION = 'redis-live';
/** indexVersion when ALS candidates were scored exhaustively (no HNSW index loaded for the tenant yet). */
export const EXACT_INDEX = 'exact';

/** A placed item: where it came from, and the probability the policy put it at its position (1 unless explored). */
export interface FeedItem extends Candidate {
  propensity: number;
  /** With explain=true and a ranker: its score and each feature's contribution to it (log-odds for FTRL). */
  explanation?: RankerExplanation;
}

export type FeedOutcome =
  | {
      status: 'ok';
      recommendationId: string;
      rankerVersion: string | null;
      items: FeedItem[];
      modelVersion: string;
      indexVersion: string;
      fallback: 'community' | null;
      experiments: Record<string, string>;
    }
  | { status: 'unknown_tenant'; field: 'tenant'; error: string };

export interface FeedServiceOptions {
  redis: Redis;
  /** The version reported for the non-personal rails. */
  modelVersion: string;
  halfLifeMs: number;
  trendingHalfLifeMs: number;
  freshMaxAgeMs: number;
  retrieval: Config['retrieval'];
  rerank: Config['rerank'];
  /** The tenants' A/B experiments; a user's variant overrides retrieval shares and re-ranking settings. */
  experiments?: ExperimentCache | null;
  /** Stage 3: the tenants' click models, and where served features are logged for training. */
  ranker?: RankerStore | null;
  /** How long served features stay for the trainer's join (the attribution window plus a margin). */
  servedLogTtlS?: number;
  models?: AlsModelStore | null;
  indexes?: IndexManager | null;
  /** The read-only partition served to a registered tenant that has no data yet. */
  community?: { partition: string; isRegistered: (tenant: string) => Promise<boolean> } | null;
  logger?: Logger | null;
}

/** The serving settings of the caller's user under its tenant's experiments, and the variants it was assigned. */
export interface ServedSettings {
  /** Retrieval shares, re-ranking settings and ranker choice (the variant's overrides applied). */
  settings: ServingSettings;
  /** Experiment id to variant name, reported with the feed. */
  assignments: Record<string, string>;
}

/** One feed to compute. */
export interface FeedContext {
  /** The partition every rail reads: the caller's tenant, or the community partition for a tenant without data. */
  partition: string;
  /** The validated request (the caller's own exclusions, seeds, constraints and rules apply in either partition). */
  req: ValidFeedRequest;
  /** The user's state read from the partition: seen and recent items, the popularity epoch and latest event. */
  inputs: FeedInputs;
  /** The partition's current ALS model, or null without one. */
  model: LoadedAls | null;
  /** Whether the user id means something in the partition (its vector, seen set and recent items); false for community. */
  useUserVector: boolean;
  /** 'community' when served from the community partition, else null. */
  fallback: 'community' | null;
  /** The settings the user is served with, and the experiment variants behind them. */
  served: ServedSettings;
}

/** The ANN rail's query: a vector in the partition's current ALS model. */
export interface Personal {
  /** The model the vector lives in. */
  model: LoadedAls;
  /** The user's vector, or the mean of the seed items' vectors. */
  vector: Float64Array;
}

/** The tenant's click model as the ranker store serves it. */
export type ServedRanker = NonNullable<Awaited<ReturnType<RankerStore['current']>>>;

/** What every stage of one feed shares, fixed before the first round trip of retrieval. */
export interface FeedPlan {
  /** The feed being computed. */
  ctx: FeedContext;
  /** Business rules: the settings' merged with the request's (the request's pins first). */
  rules: BusinessRules;
  /** The request's stage-2 filter (seen, excluded, seed items, constraints, exclusion rules). */
  filter: ExactFilter;
  /** The time scores are decayed to and ages measured from: the latest event, else the epoch, else 0. */
  asOf: number;
  /** The popularity epoch (asOf without one). */
  epoch: number;
  /** Each rail's share of the feed. */
  shares: Record<RailName, number>;
  /** Whether constraints or exclusion rules may remove candidates (the pools then start larger). */
  constrained: boolean;
  /** The ANN rail's seed items without a user vector: the request's, else the user's recent items. */
  sessionSeeds: readonly string[];
  /** Stage 4's settings, with the merged rules. */
  rerank: RerankConfig;
  /** The click model ordering the pool, or null. */
  ranker: ServedRanker | null;
  /** The pool size: k, or k times the pool factor when ranking or re-ranking picks k from a larger pool. */
  K: number;
  /** How many items a rail fills first: about its share of K. */
  need: (r: RailName) => number;
}
