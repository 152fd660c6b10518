// The clients a batch job needs (ClickHouse, Redis, model and artifact stores), opened once and closed together.
import type { Config } from '../config/config.ts';
import { ArtifactStore } from '../platform/artifact-store.ts';
import { createClickHouse } from '../platform/clickhouse.ts';
import type { Logger } from '../platform/logger.ts';
import { createRedis } from '../platform/redis.ts';
import { AlsModelStore } from '../state/als-models.ts';
import type { RetconDeps } from '../jobs/retcon.ts';

/** What the retcon job takes (the widest of the batch jobs' needs), and a way to close it all. */
export interface JobDeps extends RetconDeps {
  close(): Promise<void>;
}

export function openJobDeps(config: Config, logger: Logger): JobDeps {
  const redis = createRedis(config);
  const clickhouse = createClickHouse(config);
  const artifacts = new ArtifactStore(config.artifactsDir);
  return {
    config,
    clickhouse,
    redis,
    models: new AlsModelStore(redis, artifacts),
    artifacts,
    logger,
    async close() {
      await clickhouse.close();
      redis.disconnect();
    },
  };
}
