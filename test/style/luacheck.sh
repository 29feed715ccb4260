#!/bin/sh
# store_redis's Lua scripts pass luacheck (Debian's lua-check), each as
# Redis runs it: the libraries its "-- uses:" line names, then itself
# (src/modules/redis/lua/README.md).
set -u
cd "$HF_SRCDIR/src/modules/redis/lua"
if ! command -v luacheck >/dev/null; then
    echo "FAIL luacheck is not installed (Debian's lua-check; tools/deps.sh installs it)"
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for script in *.lua; do
    name=${script%.lua}
    case $name in lib_*) continue ;; esac
    for part in $(sed -n 's/^-- uses: //p' "$script") "$name"; do
        cat "$part.lua"
    done >"$work/$script"
    luacheck --config .luacheckrc --formatter plain --no-color "$work/$script" || status=1
done
[ $status -eq 0 ] && echo "ok   $(ls *.lua | grep -vc '^lib_') scripts pass luacheck"
exit $status
