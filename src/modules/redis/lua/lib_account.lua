-- An account's quota (hf_store_params.account_max_*): its t hash holds
-- what every queue of the account holds together (count, bytes), and its
-- k set names the devices whose queue holds anything. account_take
-- counts messages out of both: dropped by ack or expiry, or the queue
-- emptied (its device leaves k). Queues written before the account
-- was counted (handoffd 0.1) count as nothing: the total stays at 0
-- rather than going below it.
local function account_take(t, k, device, n, b, emptied)
  if n > 0 then
    local count = redis.call('HINCRBY', t, 'count', -n)
    local bytes = redis.call('HINCRBY', t, 'bytes', -b)
    if count <= 0 then redis.call('DEL', t)
    elseif bytes < 0 then redis.call('HSET', t, 'bytes', 0) end
  end
  if emptied then redis.call('SREM', k, device) end
end
local function device_of(member) return string.sub(member, string.find(member, '|', 1, true) + 1) end
