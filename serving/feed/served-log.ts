// The served log: the ranking features of the items shown, kept for the ranker trainer's join with the clicks that
// follow. Written off the response path; a failure costs training data, never the feed.
import type { RankingContext } from '../../core/funnel/ranking-features.ts';
import type { FeedItem, FeedPlan, FeedServiceOptions } from './feed-context.ts';
import { itemFeedback, type RankedPool } from './rank.ts';

/** Off the response path: the shown items' contexts, with their feedback read now if ranking did not need it. */
async function logServed(
  o: FeedServiceOptions,
  partition: string,
  recommendationId: string,
  shown: (readonly [string, RankingContext])[],
  hasFeedback: boolean,
  asOf: number,
): Promise<void> {
  let contexts = shown;
  if (!hasFeedback && shown.length > 0) {
    const feedback = await itemFeedback(
      o.redis,
      partition,
      shown.map(([id]) => id),
      asOf,
    );
    contexts = shown.map(
      ([id, ctx]) =>
        [
          id,
          { ...ctx, itemShows: feedback.get(id)?.impression ?? 0, itemClicks: feedback.get(id)?.click ?? 0 },
        ] as const,
    );
  }
  await o.ranker!.logServed(partition, recommendationId, new Map(contexts), o.servedLogTtlS ?? 7200);
}

/** Starts logging the shown items' features under the recommendation id (with a ranker store); does not wait. */
export function logShown(
  o: FeedServiceOptions,
  plan: FeedPlan,
  recommendationId: string,
  items: FeedItem[],
  ranked: RankedPool,
): void {
  if (!o.ranker) return;
  const { partition } = plan.ctx;
  const { contexts, feedback } = ranked;
  const shown = items.flatMap((i) => (contexts.has(i.itemId) ? [[i.itemId, contexts.get(i.itemId)!] as const] : []));
  logServed(o, partition, recommendationId, shown, feedback !== null, plan.asOf).catch((err: unknown) =>
    o.logger?.warn({ err, partition }, 'logging served features failed; these impressions will not train the ranker'),
  );
}
