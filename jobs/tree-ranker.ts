// The batch tree ranker's training job: a tenant's labelled impressions (the ranker-example table the online trainer
// fills from the impression -> click/conversion join) over the last `days`, a LambdaMART model checked on the newest
// recommendations against the served order and the current click model, then published as the tenant's tree-ranker
// version, and made the serving ranker on request (readers hot-swap within seconds).
import type { Config } from '../config/config.ts';
import { DENSE_FEATURES } from '../core/funnel/ranking-features.ts';
import { trainTreeRanker, type RankerTrainingReport } from '../core/models/ranker-training.ts';
import type { Logger } from '../platform/logger.ts';
import type { RankerExampleLog } from '../state/ranker-examples.ts';
import type { RankerStore } from '../state/ranker-models.ts';

export interface TreeRankerRequest {
  tenant: string;
  /** Event time the training window ends at (default: just after the newest labelled impression). */
  untilMs?: number;
  days: number;
  activate: boolean;
  minQueries: number;
  holdoutShare: number;
}

export interface TreeRankerResult extends RankerTrainingReport {
  tenant: string;
  version: string;
  serving: boolean;
  trainSeconds: number;
  readSeconds: number;
}

export async function trainTreeRankerJob(
  deps: { config: Config; examples: RankerExampleLog; rankers: RankerStore; logger: Logger },
  req: TreeRankerRequest,
): Promise<TreeRankerResult> {
  const t0 = performance.now();
  const latest = await deps.examples.latest(req.tenant);
  if (latest === null)
    throw new Error(
      `tenant ${req.tenant} has no labelled impressions yet: feeds must be served, their impressions (with the recommendation id) sent as events, and attribution windows closed`,
    );
  const until = req.untilMs ?? latest + 1;
  const examples = await deps.examples.read(req.tenant, until - req.days * 86_400_000, until);
  const readSeconds = (performance.now() - t0) / 1000;
  // the online click model as a baseline; it learned online from these impressions, the held-out ones included
  const ftrl = await deps.rankers.current(req.tenant, 'ftrl');
  const t1 = performance.now();
  const { model, report } = trainTreeRanker(examples, deps.config.ranker.lambdamart, {
    holdoutShare: req.holdoutShare,
    minQueries: req.minQueries,
    ...(ftrl ? { baselines: { ftrlSeenHoldout: (c) => ftrl.ranker.score(c) } } : {}),
  });
  const trainSeconds = (performance.now() - t1) / 1000;
  const version = await deps.rankers.publishTree(req.tenant, model, {
    ...report,
    trainSeconds,
    features: DENSE_FEATURES,
  });
  if (req.activate) await deps.rankers.setServing(req.tenant, 'lambdamart');
  deps.logger.info({ tenant: req.tenant, version, ...report, trainSeconds }, 'published a tree ranker version');
  return { tenant: req.tenant, version, serving: req.activate, trainSeconds, readSeconds, ...report };
}
