-- luacheck's settings for store_redis's scripts, as test/style/luacheck.sh
-- lints them: each with the libraries it uses, as Redis runs it.
std = "lua51"
-- What Redis gives a script (its Lua 5.1 with the bit library).
read_globals = { "redis", "KEYS", "ARGV", "bit", "unpack" }
-- A library's functions that a script does not call.
ignore = {
    "211/dedup_read", "211/dedup_bit", "211/dedup_seen", "211/dedup_fresh", "211/dedup_accept", "211/dedup_write",
    "211/be32", "211/entry_seqs", "211/each_record", "211/rec_expires", "211/rec_plen", "211/rec_identity", "211/stored_plen",
    "211/dead_of", "211/presence_server", "211/account_take", "211/device_of",
}
max_line_length = 120
