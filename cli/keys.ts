// API keys: create one for a tenant (printed once; only its hash is stored) or revoke one.
import { Command } from 'commander';
import { loadConfig } from '../core/config.ts';
import { createRedis } from '../platform/redis.ts';
import { createApiKey, revokeApiKey } from '../serving/api-keys.ts';
import { tenantOption } from './options.ts';

const redis = createRedis(loadConfig());
const program = new Command('keys').description('API keys (one tenant each)');
program
  .command('create')
  .requiredOption('--tenant <id>', 'tenant the key belongs to', tenantOption)
  .action(async ({ tenant }: { tenant: string }) => {
    console.log(await createApiKey(redis, tenant));
    console.error(`created an API key for ${tenant}; store it now, it cannot be shown again`);
  });
program
  .command('revoke <key>')
  .action(async (key: string) => {
    if (!(await revokeApiKey(redis, key))) throw new Error('no such key (already revoked?)');
    console.error('revoked');
  });

try {
  await program.parseAsync();
} catch (err) {
  console.error(`keys: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  redis.disconnect();
}
