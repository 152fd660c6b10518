// Operate the incremental scaler: inspect the candidate against the current version, publish (promote) by policy
// or by force, show a version's manifest.
import { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { drift } from '../core/features/scaler.ts';
import { ArtifactStore } from '../platform/artifact-store.ts';
import { createRedis } from '../platform/redis.ts';
import { ScalerPublisher } from '../processors/scaler.ts';
import { SCALER_KIND } from '../state/scaler-versions.ts';
import { tenantOption } from './options.ts';

const config = loadConfig();
const redis = createRedis(config);
const store = new ArtifactStore(config.artifactsDir);
const publisher = new ScalerPublisher(redis, store, config.scaler);

const print = (value: unknown) =>
  console.log(JSON.stringify(value, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v), 2));

const program = new Command('scaler').description('Incremental feature scaler versions');
program
  .command('status')
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .action(async ({ tenant }: { tenant: string }) => {
    const current = await publisher.current(tenant);
    const candidate = await publisher.candidate(tenant);
    print({
      tenant,
      current: current?.version ?? null,
      generation: candidate.generation,
      candidate: candidate.snapshot,
      driftFromCurrent: current ? drift(current.snapshot, candidate.snapshot) : null,
      policy: config.scaler,
      recentDecisions: (await publisher.decisions(tenant)).slice(0, 5),
    });
  });
program
  .command('publish')
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .option('--force', 'promote even if the policy would hold the candidate (needs at least one sample)', false)
  .action(async ({ tenant, force }: { tenant: string; force: boolean }) => {
    const { decision, manifest } = await publisher.publish(tenant, force);
    print({
      tenant,
      promoted: decision.promote,
      reason: decision.reason,
      samples: decision.samples,
      version: manifest?.version ?? null,
      drift: decision.drift,
    });
  });
program
  .command('show <version>')
  .description("print a version's manifest and statistics (checksum-verified)")
  .action(async (version: string) => {
    const { manifest, content } = await store.load(SCALER_KIND, version);
    print({ manifest, artifact: JSON.parse(content.toString('utf8')) as unknown });
  });

try {
  await program.parseAsync();
} catch (err) {
  console.error(`scaler: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  redis.disconnect();
}
