// The fold-in row's stream: test-early replayed through the fold-in of processors/als-fold-in.ts on a train-only ALS.
import { foldInItem, foldInUser, itemGramian, updateGramian, type AlsModel } from '../models/als.ts';
import type { InteractionLog } from './interaction-log.ts';
import type { ProtocolConfig } from './protocol-config.ts';
import { ratingValue } from './rating-values.ts';
import type { Split } from './splits.ts';
import { timed } from './timed.ts';

/** Events per streamed batch: the size of a typical Kafka fetch in the fold-in processor. */
export const FOLD_IN_BATCH = 500;

/**
 * Streams test-early through fold-in on a train-only model, batch by batch as the fold-in processor does: the batch's
 * users are re-solved with the item factors fixed, then its items with the user factors fixed (XᵀX of the train-only
 * users, kept fixed between retrains; YᵀY kept current as items change), then its users again. Returns the updated
 * factors.
 */
export function streamFoldIn(
  log: InteractionLog,
  split: Split,
  model: AlsModel,
  config: ProtocolConfig,
): { userFactors: Float64Array; itemFactors: Float64Array; usersCreated: number; seconds: number } {
  const f = model.factors;
  const userFactors = model.userFactors.slice();
  const itemFactors = model.itemFactors.slice();
  const byUser: { item: number; value: number }[][] = Array.from({ length: log.nUsers }, () => []);
  const byItem: { user: number; value: number }[][] = Array.from({ length: log.nItems }, () => []);
  const add = (r: number) => {
    const value = ratingValue(log.rating[r]!, config.ratingValues);
    byUser[log.user[r]!]!.push({ item: log.item[r]!, value });
    byItem[log.item[r]!]!.push({ user: log.user[r]!, value });
  };
  for (const r of split.train) add(r);
  let usersCreated = 0;
  const [, seconds] = timed(() => {
    const itemSide = { itemFactors, nItems: model.nItems, factors: f };
    const itemGram = itemGramian(itemSide);
    const userGram = itemGramian({ itemFactors: userFactors, nItems: log.nUsers, factors: f });
    const solveUser = (u: number) => userFactors.set(foldInUser(itemSide, itemGram, byUser[u]!, config.als), u * f);
    for (let start = 0; start < split.early.length; start += FOLD_IN_BATCH) {
      const users = new Set<number>();
      const items = new Set<number>();
      for (let k = start; k < Math.min(start + FOLD_IN_BATCH, split.early.length); k++) {
        const r = split.early[k]!;
        if (byUser[log.user[r]!]!.length === 0) usersCreated++;
        add(r);
        users.add(log.user[r]!);
        items.add(log.item[r]!);
      }
      for (const u of users) solveUser(u);
      for (const i of items) {
        const rows = byItem[i]!;
        const packed = new Float64Array(rows.length * f);
        rows.forEach(({ user }, j) => packed.set(userFactors.subarray(user * f, (user + 1) * f), j * f));
        const next = foldInItem(
          packed,
          f,
          userGram,
          rows.map((x) => x.value),
          config.als,
        );
        updateGramian(itemGram, f, itemFactors.slice(i * f, (i + 1) * f), next);
        itemFactors.set(next, i * f);
      }
      for (const u of users) solveUser(u);
    }
  });
  return { userFactors, itemFactors, usersCreated, seconds };
}
