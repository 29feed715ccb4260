#!/bin/sh
# tools/deps.sh reconfigures a build folder that was configured without
# what its suite needs: here a folder configured while cmocka was hidden
# from pkg-config, as when tools/quickstart ran before tools/check had
# installed libcmocka-dev. Run by tools/check (configure takes a while).
set -eu
cd "$(dirname "$0")/../.."
. tools/deps.sh
dir=build-reconfigure-test
pcdir=$(mktemp -d)
trap 'rm -rf "$dir" "$pcdir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

pkg-config --exists cmocka || fail "cmocka is not installed (tools/check installs libcmocka-dev)"
# Every .pc file pkg-config sees, but cmocka's.
for d in $(pkg-config --variable pc_path pkg-config | tr : ' '); do
    [ -d "$d" ] || continue
    for pc in "$d"/*.pc; do
        [ -e "$pc" ] && [ "$(basename "$pc")" != cmocka.pc ] && [ ! -e "$pcdir/$(basename "$pc")" ] && ln -s "$pc" "$pcdir/"
    done
done
[ -x configure ] || autoreconf -fi
rm -rf "$dir"
mkdir -p "$dir"
(cd "$dir" && PKG_CONFIG_LIBDIR="$pcdir" ../configure >configure.out 2>&1) || fail "configure with cmocka hidden failed: $(tail -5 "$dir/configure.out")"
grep -q '^CMOCKA_LIBS = *$' "$dir/Makefile" || fail "cmocka was not hidden from configure"

reason=$(hf_configure_reason "$dir")
case "$reason" in
*cmocka*) echo "ok: a folder configured without cmocka must be configured again ($reason)" ;;
*) fail "hf_configure_reason said '$reason', not that cmocka is here now" ;;
esac

hf_configure "$dir" >"$dir/reconfigure.out" 2>&1 || fail "hf_configure failed: $(tail -5 "$dir/reconfigure.out")"
grep -q '^CMOCKA_LIBS = .*cmocka' "$dir/Makefile" || fail "after hf_configure the Makefile still has no cmocka: $(grep '^CMOCKA_LIBS' "$dir/Makefile")"
echo "ok: hf_configure configured it again, and the unit tests link with cmocka"
[ -z "$(hf_configure_reason "$dir")" ] || fail "a folder just configured still needs configuring: $(hf_configure_reason "$dir")"
echo "ok: a folder configured with everything is left as it is"
echo "3 passed, 0 failed"
