-- Per event: SET NX its marker, then add its weight to the user's and the item's histories; returns the users and
-- the items whose history changed. ARGV: the tenant's key prefix, history TTL, marker TTL, then per event: event id,
-- user, item, weight. Key suffixes: alsEventMarkerKey, alsHistoryKey, alsItemHistoryKey in state/keys.ts.
local p, ttl, dedupeTtl = ARGV[1], ARGV[2], ARGV[3]
local users, items = {}, {}
for i = 4, #ARGV, 4 do
  local eventId, user, item, weight = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if redis.call('SET', p .. 'ev:als:' .. eventId, '1', 'NX', 'EX', dedupeTtl) then
    local h, ih = p .. 'als:hist:' .. user, p .. 'als:ihist:' .. item
    redis.call('HINCRBYFLOAT', h, item, weight)
    redis.call('EXPIRE', h, ttl)
    redis.call('HINCRBYFLOAT', ih, user, weight)
    redis.call('EXPIRE', ih, ttl)
    users[user] = true
    items[item] = true
  end
end
local outUsers, outItems = {}, {}
for u, _ in pairs(users) do outUsers[#outUsers + 1] = u end
for it, _ in pairs(items) do outItems[#outItems + 1] = it end
return { outUsers, outItems }
