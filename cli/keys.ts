// API keys: create one for a tenant (printed once; only its hash is stored) or revoke one.
import { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { createRedis } from '../platform/redis.ts';
import { apiKeyId, createApiKey, hashApiKey, listApiKeys, revokeApiKey, revokeApiKeyById } from '../state/api-keys.ts';
import { tenantOption } from './options.ts';

const redis = createRedis(loadConfig());
const program = new Command('keys').description('API keys (one tenant each)');
program
  .command('create')
  .requiredOption('--tenant <id>', 'tenant the key belongs to', tenantOption)
  .action(async ({ tenant }: { tenant: string }) => {
    const key = await createApiKey(redis, tenant);
    console.log(key);
    console.error(
      `created API key ${apiKeyId(hashApiKey(key))} for ${tenant}; store it now, it cannot be shown again (rotating? revoke the old one once clients moved: keys list, keys revoke)`,
    );
  });
program
  .command('list')
  .description("a tenant's valid keys: id (public, from the hash) and creation time, oldest first")
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .action(async ({ tenant }: { tenant: string }) => {
    for (const k of await listApiKeys(redis, tenant))
      console.log(`${k.id}\t${k.createdAt === null ? '-' : new Date(k.createdAt).toISOString()}`);
  });
program
  .command('revoke [key]')
  .description('revoke a key: give the key, or its id with --tenant and --id (from `list`)')
  .option('--tenant <id>', 'tenant of the key (with --id)', tenantOption)
  .option('--id <id>', 'key id from `keys list`')
  .action(async (key: string | undefined, opts: { tenant?: string; id?: string }) => {
    if (opts.id !== undefined) {
      if (!opts.tenant) throw new Error('--id needs --tenant');
      if (!(await revokeApiKeyById(redis, opts.tenant, opts.id)))
        throw new Error(`no key ${opts.id} for ${opts.tenant}`);
    } else {
      if (!key) throw new Error('give the key, or --tenant and --id');
      if (!(await revokeApiKey(redis, key))) throw new Error('no such key (already revoked?)');
    }
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
