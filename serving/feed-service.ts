// Computes a user's feed from the live state: stage 1 retrieves candidates from several rails (ANN over the user's ALS
// vector, popular, trending, fresh items), stage 2 filters them exactly (seen, excluded, deleted, hard attribute
// constraints), widening a rail's pool when the filters remove too much, and the rails are merged by share
// (core/funnel/retrieval.ts). Tenant isolation holds by construction: every rail reads only the caller's tenant's keys, model
// and index partition; a registered tenant without data is served from the read-only community partition, marked so.
// The stages live in serving/feed/, one module each; railFeed below reads them top-down.
import { randomUUID } from 'node:crypto';
import type { ValidFeedRequest } from '../core/funnel/feed-request.ts';
import { applyExperiments } from '../core/experiments/assignment.ts';
import type { LoadedAls } from '../state/als-models.ts';
import { readFeedInputs } from '../state/features.ts';
import {
  EXACT_INDEX,
  INDEX_VERSION,
  type FeedContext,
  type FeedItem,
  type FeedOutcome,
  type FeedServiceOptions,
  type ServedSettings,
} from './feed/feed-context.ts';
import { filterRails } from './feed/filter-rails.ts';
import { mergeFiltered } from './feed/merge.ts';
import { pinItems } from './feed/pins.ts';
import { planFeed } from './feed/plan.ts';
import { rankPool, withExplanations } from './feed/rank.ts';
import { rerankPool } from './feed/rerank-pool.ts';
import { retrieve, type RetrievedPools } from './feed/retrieve.ts';
import { logShown } from './feed/served-log.ts';

export { EXACT_INDEX, INDEX_VERSION, type FeedItem, type FeedOutcome, type FeedServiceOptions };

export class FeedService {
  readonly modelVersion: string;

  constructor(private readonly o: FeedServiceOptions) {
    this.modelVersion = o.modelVersion;
  }

  // Round trips are the latency here: the inputs and the model pointer are read together, the user vector together
  // with the Redis rails, then the catalogue records for the filters (widening adds more only when filters bite).
  async feed(req: ValidFeedRequest): Promise<FeedOutcome> {
    const [inputs, model] = await Promise.all([
      readFeedInputs(this.o.redis, req.tenant, req.userId),
      this.currentModel(req.tenant),
    ]);
    if (!inputs.tenantKnown) {
      const community = this.o.community;
      if (community && req.tenant !== community.partition && (await community.isRegistered(req.tenant))) {
        // the caller's own exclusions apply; nothing of the caller's tenant is read, and the community is read-only
        // a user id of one tenant says nothing about a community user of the same id: only seed items steer the ANN rail
        const [communityInputs, communityModel] = await Promise.all([
          readFeedInputs(this.o.redis, community.partition, req.userId),
          this.currentModel(community.partition),
        ]);
        return this.railFeed({
          partition: community.partition,
          req,
          inputs: { ...communityInputs, seen: new Set() },
          model: communityModel,
          useUserVector: false,
          fallback: 'community',
          served: await this.settingsFor(req),
        });
      }
      return { status: 'unknown_tenant', field: 'tenant', error: `tenant ${JSON.stringify(req.tenant)} is not known` };
    }
    // A user with no activity yet (cold start) is served too: popular, trending and fresh items, and the ANN rail near
    // their seed items; from their first events on, near their recent items, until fold-in gives them a vector.
    return this.railFeed({
      partition: req.tenant,
      req,
      inputs,
      model,
      useUserVector: true,
      fallback: null,
      served: await this.settingsFor(req),
    });
  }

  /** The serving settings for the caller's user under the caller's tenant's experiments (never another tenant's). */
  private async settingsFor(req: ValidFeedRequest): Promise<ServedSettings> {
    const base = { shares: this.o.retrieval.shares, rerank: this.o.rerank.config };
    if (!this.o.experiments) return { settings: base, assignments: {} };
    return applyExperiments(base, await this.o.experiments.active(req.tenant), req.userId);
  }

  /**
   * The feed, stage by stage: plan (rules, filter, pool size) -> retrieve each rail's first pool -> filter the rails
   * exactly -> merge them by share -> pin -> rank (stage 3) -> re-rank (stage 4) -> log what is shown for training.
   */
  private async railFeed(ctx: FeedContext): Promise<FeedOutcome> {
    const plan = await planFeed(this.o, ctx);
    const pools = await retrieve(this.o, plan);
    const rails = await filterRails(this.o, plan, pools);
    const merged = await mergeFiltered(plan, pools, rails);
    const pool = await pinItems(this.o.redis, plan, merged);
    const ranked = await rankPool(this.o.redis, plan, pools.personal, pool);
    const items = withExplanations(plan, ranked, await rerankPool(plan, ranked, pools.personal));
    const recommendationId = randomUUID();
    logShown(this.o, plan, recommendationId, items, ranked);
    return this.served(ctx, pools, plan.ranker?.version ?? null, recommendationId, items);
  }

  /** The ok outcome: the versions reported are the ALS model's and the index's when the ANN rail placed items. */
  private served(
    ctx: FeedContext,
    pools: RetrievedPools,
    rankerVersion: string | null,
    recommendationId: string,
    items: FeedItem[],
  ): FeedOutcome {
    const { personal, index } = pools;
    const personalised = personal !== null && items.some((i) => i.source === 'ann');
    const onlyAnn = personalised && items.every((i) => i.source === 'ann');
    return {
      status: 'ok',
      recommendationId,
      rankerVersion,
      items,
      modelVersion: onlyAnn
        ? personal.model.version
        : personalised
          ? `${personal.model.version}+${this.modelVersion}`
          : this.modelVersion,
      indexVersion: personalised ? (index?.manifest.version ?? EXACT_INDEX) : INDEX_VERSION,
      fallback: ctx.fallback,
      experiments: ctx.served.assignments,
    };
  }

  /** The partition's current ALS model, or null without one (or when it cannot be loaded). */
  private async currentModel(partition: string): Promise<LoadedAls | null> {
    if (!this.o.models) return null;
    try {
      return await this.o.models.current(partition);
    } catch (err) {
      // A model that cannot be loaded (artifact missing or corrupt) degrades this partition to the other rails; it
      // must not fail requests, nor stall a feed-request partition shared with other tenants.
      this.o.logger?.error({ err, partition }, 'ALS model unavailable; serving without the ANN rail');
      return null;
    }
  }
}
