// Every setting rankstream reads, one env var each, grouped in the sections docs/configuration.md lists in this order.
// A new setting goes into its section's table (config/settings/*.ts), then into Config (config/config.ts); run
// `npm run docs:config` to regenerate the docs.
import { z } from 'zod';
import type { Setting } from './setting.ts';
import { features, jobs, models, processing } from './settings/learning.ts';
import { ranking, rerankAndExploration, retrieval } from './settings/feed.ts';
import { httpAndSecurity, localAndDemo, operations, services, topics } from './settings/platform.ts';

/** The sections in the order the docs list them. */
export const SECTIONS = [
  services,
  topics,
  processing,
  features,
  retrieval,
  ranking,
  rerankAndExploration,
  models,
  jobs,
  httpAndSecurity,
  operations,
  localAndDemo,
] as const;

/** Every setting, keyed by env var. */
export const SETTINGS = {
  ...services.settings,
  ...topics.settings,
  ...processing.settings,
  ...features.settings,
  ...retrieval.settings,
  ...ranking.settings,
  ...rerankAndExploration.settings,
  ...models.settings,
  ...jobs.settings,
  ...httpAndSecurity.settings,
  ...operations.settings,
  ...localAndDemo.settings,
};

type Parsers<T extends Record<string, Setting>> = { [K in keyof T]: T[K]['parser'] };

function parsers<T extends Record<string, Setting>>(settings: T): Parsers<T> {
  return Object.fromEntries(Object.entries(settings).map(([env, s]) => [env, s.parser])) as Parsers<T>;
}

/** Parses an env-like record into every setting's value (defaults applied, unknown variables ignored). */
export const settingsSchema = z.object(parsers(SETTINGS));
