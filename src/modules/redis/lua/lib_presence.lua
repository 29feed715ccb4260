-- A presence key holds "<server id>|<since, unix ms>".
local function presence_server(v)
  if not v then return nil, nil end
  return string.match(v, '^(.*)|(%d+)$')
end
