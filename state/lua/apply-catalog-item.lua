-- Applies one catalogue record unless the stored one is as new or newer; returns created, updated, deleted or stale.
-- KEYS: items hash, fresh zset, new-item count (state/keys.ts). ARGV: item id, updatedAt, createdAt, deleted (1/0),
-- the record's JSON, the fresh rail's bound.
local prev = redis.call('HGET', KEYS[1], ARGV[1])
local updated = tonumber(ARGV[2])
if prev then
  local old = cjson.decode(prev)
  if tonumber(old.updatedAt) >= updated then return 'stale' end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
if ARGV[4] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'deleted'
end
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[6])
if excess > 0 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1) end
if prev and not cjson.decode(prev).deleted then return 'updated' end
redis.call('INCR', KEYS[3])
return 'created'
