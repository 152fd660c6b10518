// The Redis key space: every key and pub/sub channel rankstream uses is spelled here and nowhere else (the state
// modules read and write them; test/unit/state-boundary.test.ts keeps it that way). Every key of a tenant carries the
// hash tag {tenant}, so all of a tenant's keys share one Redis Cluster slot (a tenant's Lua update is atomic). The Lua
// scripts under state/lua/ append suffixes to tenantKeyPrefix(tenant): those suffixes must match the builders below.
// A partition (the index and pointers per partition) is a tenant or the shared community partition.

// ---------------------------------------------------------------------------------------------------------- tenants

/** Set of the tenants with data (added by the features processor on a tenant's first event). */
export const TENANTS_KEY = 'rs:tenants';
/** Set of the tenants that hold (or held) an API key: events of other tenants are refused. */
export const REGISTERED_TENANTS_KEY = 'rs:registered-tenants';
/** The prefix every key of a tenant starts with (passed to Lua scripts, which append a suffix). */
export const tenantKeyPrefix = (tenant: string) => `rs:{${tenant}}:`;
/** SCAN pattern matching every key of a tenant. */
export const tenantKeyPattern = (tenant: string) => `${tenantKeyPrefix(tenant)}*`;

// ------------------------------------------------------------------------------------------- real-time features
// Written by the features processor's Lua script (state/lua/apply-features.lua), read by the reader.

/** zset item -> long-half-life popularity score (rebased decay, see core/features/popularity.ts). */
export const popularityKey = (tenant: string) => `${tenantKeyPrefix(tenant)}pop`;
/** zset item -> short-half-life trending score. */
export const trendingKey = (tenant: string) => `${tenantKeyPrefix(tenant)}trend`;
/** hash: the decay epoch (epochMs) and the latest event time seen (latestEventMs). */
export const popularityMetaKey = (tenant: string) => `${tenantKeyPrefix(tenant)}pop:meta`;
/** zset item -> last time the user saw it (bounded). */
export const seenKey = (tenant: string, user: string) => `${tenantKeyPrefix(tenant)}seen:${user}`;
/** list of the user's most recent items, newest first (bounded). */
export const recentKey = (tenant: string, user: string) => `${tenantKeyPrefix(tenant)}recent:${user}`;
/** hash: the user's current session (id, start, last, event counts by type code). */
export const sessionKey = (tenant: string, user: string) => `${tenantKeyPrefix(tenant)}sess:${user}`;
/** list of the items of the user's current session, newest first. */
export const sessionItemsKey = (tenant: string, user: string) => `${tenantKeyPrefix(tenant)}sessitems:${user}`;
/** hash: the user's windowed counters (bucketed fields, see core/features/session-features.ts). */
export const userCountersKey = (tenant: string, user: string) => `${tenantKeyPrefix(tenant)}cnt:u:${user}`;
/** hash: the item's windowed counters. */
export const itemCountersKey = (tenant: string, item: string) => `${tenantKeyPrefix(tenant)}cnt:i:${item}`;
/** hash: the category's windowed counters. */
export const categoryCountersKey = (tenant: string, category: string) => `${tenantKeyPrefix(tenant)}cnt:c:${category}`;
/** Tenant-wide counters: the prior of every smoothed rate. */
export const tenantCountersKey = (tenant: string) => `${tenantKeyPrefix(tenant)}cnt:all`;
/** Marker (SET NX, TTL) that the features processor applied an event: re-delivery does not count twice. */
export const featureEventMarkerKey = (tenant: string, eventId: string) =>
  `${tenantKeyPrefix(tenant)}ev:features:${eventId}`;

// -------------------------------------------------------------------------------------------------------- catalogue

/** hash item id -> CatalogItem JSON (deleted items stay, flagged, so an older re-delivery cannot resurrect them). */
export const catalogItemsKey = (tenant: string) => `${tenantKeyPrefix(tenant)}items`;
/** zset of live items by createdAt (the fresh-items rail), bounded. */
export const freshKey = (tenant: string) => `${tenantKeyPrefix(tenant)}fresh`;
/** Count of items new since the tenant's last index build (the retcon trigger). */
export const newItemsKey = (tenant: string) => `${tenantKeyPrefix(tenant)}catalog:new`;

// ----------------------------------------------------------------------------------------------------- ALS models

/** Announces a new current model version: { tenant, kind, version }. */
export const MODELS_CHANNEL = 'rs:models';
/** Announces item vectors fold-in just re-solved: { tenant, version, items } (readers upsert them into live indexes). */
export const ITEM_UPDATES_CHANNEL = 'rs:item-updates';
/** The tenant's current ALS version. */
export const alsCurrentKey = (tenant: string) => `${tenantKeyPrefix(tenant)}als:current`;
/** hash user id -> float32 user vector of a version. */
export const alsUsersKey = (tenant: string, version: string) => `${tenantKeyPrefix(tenant)}als:${version}:users`;
/** Item vectors re-solved by fold-in since the version was trained (changed and new items), float32. */
export const alsItemsKey = (tenant: string, version: string) => `${tenantKeyPrefix(tenant)}als:${version}:items`;
/** hash item id -> summed interaction weight: the user's history fold-in re-solves from. */
export const alsHistoryKey = (tenant: string, user: string) => `${tenantKeyPrefix(tenant)}als:hist:${user}`;
/** hash user id -> summed interaction weight: the item's history. */
export const alsItemHistoryKey = (tenant: string, item: string) => `${tenantKeyPrefix(tenant)}als:ihist:${item}`;
/** Marker (SET NX, TTL) that fold-in added an event to the histories. */
export const alsEventMarkerKey = (tenant: string, eventId: string) => `${tenantKeyPrefix(tenant)}ev:als:${eventId}`;

// ------------------------------------------------------------------------------------------------ content vectors

/** The tenant's content-map version. */
export const contentMapCurrentKey = (tenant: string) => `${tenantKeyPrefix(tenant)}content-map:current`;
/** hash item id -> float32 content vector in that ALS version's factor space. */
export const contentVectorsKey = (tenant: string, alsVersion: string) =>
  `${tenantKeyPrefix(tenant)}content:${alsVersion}`;

// ---------------------------------------------------------------------------------------------------------- scaler

const scalerKey = (tenant: string, what: string) => `${tenantKeyPrefix(tenant)}scaler:${what}`;
/** hash <topic>:<partition> -> that partition's accumulator JSON (generation, offset, Welford state). */
export const scalerAccKey = (tenant: string) => scalerKey(tenant, 'acc');
/** The tenant's current scaler version. */
export const scalerCurrentKey = (tenant: string) => scalerKey(tenant, 'current');
/** The accumulators' generation: promoting a version starts the next one. */
export const scalerGenerationKey = (tenant: string) => scalerKey(tenant, 'generation');
/** list of the latest promotion decisions, newest first (bounded). */
export const scalerDecisionsKey = (tenant: string) => scalerKey(tenant, 'decisions');
/** One publisher at a time per tenant (SET NX PX). */
export const scalerPublishLockKey = (tenant: string) => scalerKey(tenant, 'publish-lock');

// --------------------------------------------------------------------------------------------------------- rankers

/** The tenant's FTRL version (the online trainer's). */
export const rankerCurrentKey = (tenant: string) => `${tenantKeyPrefix(tenant)}ranker:current`;
/** The tenant's LambdaMART version (the batch trainer's). */
export const treeRankerCurrentKey = (tenant: string) => `${tenantKeyPrefix(tenant)}ranker:lambdamart:current`;
/** Which ranker orders feeds: ftrl (the default), lambdamart or none. */
export const rankerServingKey = (tenant: string) => `${tenantKeyPrefix(tenant)}ranker:serving`;
/** JSON { item id: ranking context } of the items a feed showed (TTL: 2 x attribution window + 1 h). */
export const servedKey = (tenant: string, recommendationId: string) =>
  `${tenantKeyPrefix(tenant)}served:${recommendationId}`;
/** hash: an impression's served context, slot, user and time (until its window closes); member = <rec>|<item>. */
export const rankerImpressionKey = (tenant: string, member: string) => `${tenantKeyPrefix(tenant)}ranker:imp:${member}`;
/** The event time of the first click on an impression. */
export const rankerClickKey = (tenant: string, member: string) => `${tenantKeyPrefix(tenant)}ranker:clk:${member}`;
/** The event time of the first conversion on an impression. */
export const rankerConversionKey = (tenant: string, member: string) => `${tenantKeyPrefix(tenant)}ranker:cnv:${member}`;
/** zset of impressions (<rec>|<item>) by the event time their attribution window closes. */
export const rankerDueKey = (tenant: string) => `${tenantKeyPrefix(tenant)}ranker:due`;

// ---------------------------------------------------------------------------------------------------------- index

/** Announces a new current index version: { partition, version }. */
export const INDEX_CHANNEL = 'rs:index';
/** The partition's current index version (a snapshot directory under state/index-snapshots.ts's layout). */
export const indexCurrentKey = (partition: string) => `${tenantKeyPrefix(partition)}index:current`;

// ---------------------------------------------------------------------------------------------- API keys, limits

/** hash sha256(key) -> tenant. */
export const API_KEYS_KEY = 'rs:apikeys';
/** hash sha256(key) -> creation time (ms), so an operator rotating keys can tell the old from the new. */
export const API_KEYS_CREATED_KEY = 'rs:apikeys:created';
/** set of the hashes of a tenant's keys. */
export const tenantApiKeysKey = (tenant: string) => `${tenantKeyPrefix(tenant)}apikeys`;
/** hash: a key's token bucket; `keyId` is the API key's hash, never the key itself. */
export const rateLimitKey = (keyId: string) => `rs:ratelimit:${keyId}`;

// ----------------------------------------------------------------------------------------------------- experiments

/** hash experiment id -> Experiment JSON. */
export const experimentsKey = (tenant: string) => `${tenantKeyPrefix(tenant)}experiments`;
