-- Applies a slice of one tenant's feature plan (core/features/feature-updates.ts) atomically: moves the decay epoch
-- (rebasing the popularity and trending zsets), then per event not applied before (its marker SET NX): popularity,
-- trending, session, seen and recent items, windowed counters; then bounds every collection and sets the TTLs.
-- ARGV header (14 values): the tenant's key prefix, prevEpoch ('' = none), epoch, rebaseLong, rebaseShort,
-- latestEventMs, maxItems, ttl, seenMax, seenTtl, recentMax, dedupeTtl, counterTtl, maxCounterFields; then 13 values per
-- event from ARGV[15] (HEADER_ARGS and EVENT_ARGS in state/feature-writes.ts). Key suffixes: state/keys.ts.
-- Returns the number of events applied followed by the counter keys that outgrew maxCounterFields (to prune).
local p = ARGV[1]
local pop, trend, meta = p .. 'pop', p .. 'trend', p .. 'pop:meta'
local cur = redis.call('HGET', meta, 'epochMs')
if (ARGV[2] == '' and cur) or (ARGV[2] ~= '' and cur ~= ARGV[2]) then
  return redis.error_reply('EPOCH_CHANGED decay epoch moved concurrently; replan the batch')
end
if ARGV[4] ~= '1' then redis.call('ZUNIONSTORE', pop, 1, pop, 'WEIGHTS', ARGV[4]) end
if ARGV[5] ~= '1' then redis.call('ZUNIONSTORE', trend, 1, trend, 'WEIGHTS', ARGV[5]) end
redis.call('HSET', meta, 'epochMs', ARGV[3])
local latest = tonumber(redis.call('HGET', meta, 'latestEventMs') or '0')
if tonumber(ARGV[6]) > latest then redis.call('HSET', meta, 'latestEventMs', ARGV[6]) end
local ttl, seenMax, seenTtl, recentMax = ARGV[8], tonumber(ARGV[9]), ARGV[10], tonumber(ARGV[11])
local dedupeTtl, counterTtl, maxFields = ARGV[12], ARGV[13], tonumber(ARGV[14])
local applied, oversized, touchedUsers = 0, {}, {}
for i = 15, #ARGV, 13 do
  local eventId, user, item, category, ts = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local code, popInc, trendInc, marksSeen = ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8]
  local sessionId, sessionStart, newSession, fields = ARGV[i + 9], ARGV[i + 10], ARGV[i + 11], ARGV[i + 12]
  if redis.call('SET', p .. 'ev:features:' .. eventId, '1', 'NX', 'EX', dedupeTtl) then
    applied = applied + 1
    touchedUsers[user] = true
    if popInc ~= '0' then redis.call('ZINCRBY', pop, popInc, item) end
    if trendInc ~= '0' then redis.call('ZINCRBY', trend, trendInc, item) end
    local sess, sessItems = p .. 'sess:' .. user, p .. 'sessitems:' .. user
    if newSession == '1' then
      redis.call('DEL', sess, sessItems)
      redis.call('HSET', sess, 'id', sessionId, 'start', sessionStart, 'last', ts)
    elseif tonumber(ts) > tonumber(redis.call('HGET', sess, 'last') or '0') then
      redis.call('HSET', sess, 'last', ts)
    end
    redis.call('HINCRBY', sess, 'n', 1)
    redis.call('HINCRBY', sess, code, 1)
    redis.call('EXPIRE', sess, seenTtl)
    if marksSeen == '1' then
      redis.call('ZADD', p .. 'seen:' .. user, 'GT', ts, item)
      redis.call('LPUSH', p .. 'recent:' .. user, item)
      redis.call('LTRIM', p .. 'recent:' .. user, 0, recentMax - 1)
      redis.call('LPUSH', sessItems, item)
      redis.call('LTRIM', sessItems, 0, recentMax - 1)
      redis.call('EXPIRE', sessItems, seenTtl)
    end
    local ckeys = { p .. 'cnt:all', p .. 'cnt:u:' .. user, p .. 'cnt:i:' .. item }
    if category ~= '' then ckeys[4] = p .. 'cnt:c:' .. category end
    for _, ck in ipairs(ckeys) do
      for f in string.gmatch(fields, '[^|]+') do redis.call('HINCRBY', ck, f, 1) end
      redis.call('EXPIRE', ck, counterTtl)
      if redis.call('HLEN', ck) > maxFields then oversized[ck] = true end
    end
  end
end
for user, _ in pairs(touchedUsers) do
  local seen, recent = p .. 'seen:' .. user, p .. 'recent:' .. user
  local n = redis.call('ZCARD', seen)
  if n > seenMax then redis.call('ZREMRANGEBYRANK', seen, 0, n - seenMax - 1) end
  redis.call('EXPIRE', seen, seenTtl)
  redis.call('EXPIRE', recent, seenTtl)
end
local maxItems = tonumber(ARGV[7])
for _, z in ipairs({ pop, trend }) do
  local n = redis.call('ZCARD', z)
  if n > maxItems then redis.call('ZREMRANGEBYRANK', z, 0, n - maxItems - 1) end
  redis.call('EXPIRE', z, ttl)
end
redis.call('EXPIRE', meta, ttl)
local out = { applied }
for k, _ in pairs(oversized) do out[#out + 1] = k end
return out
