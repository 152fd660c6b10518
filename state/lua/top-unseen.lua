-- KEYS: a ranked zset, the user's seen zset. ARGV: need, most members to scan, min score, then excluded ids.
-- Walks the zset from the top in pages and returns (member, score) pairs of the first `need` members the user has not
-- seen and did not exclude: one round trip and a few pairs on the wire, where reading k + |seen| members would ship
-- hundreds to the reader for a heavy user.
local need = tonumber(ARGV[1])
local maxScan = tonumber(ARGV[2])
local ex = {}
for i = 4, #ARGV do ex[ARGV[i]] = true end
local out = {}
local got = 0
local offset = 0
local page = math.max(need * 2, 32)
while got < need and offset < maxScan do
  local rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', ARGV[3], 'WITHSCORES', 'LIMIT', offset, page)
  for i = 1, #rows, 2 do
    local m = rows[i]
    if not ex[m] and not redis.call('ZSCORE', KEYS[2], m) then
      out[#out + 1] = m
      out[#out + 1] = rows[i + 1]
      got = got + 1
      if got >= need then break end
    end
  end
  if #rows < page * 2 then break end
  offset = offset + page
end
return out
