#!/bin/sh
# Runs the client's tests against a real handoffd: makes throwaway
# certificates first, because Node reads NODE_EXTRA_CA_CERTS only at start.
# HANDOFF_BUILD: the build folder with handoffd (default: ../../build).
set -eu
cd "$(dirname "$0")/.."
build=${HANDOFF_BUILD:-$PWD/../../build}
[ -x "$build/handoffd" ] || { echo "clients/js: no $build/handoffd; build first" >&2; exit 2; }
[ -d node_modules/ws ] && [ -d node_modules/jose ] && [ -d node_modules/web-push ] ||
    npm install --no-audit --no-fund --silent
dir=$(mktemp -d /tmp/handoff-js.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# -t loads the modules too: from the build folder until `make install`.
export HANDOFF_MODULE_DIR="$build/.libs"
"$build/handoffd" --dev --dev-dir "$dir" -t >/dev/null
HANDOFF_BUILD=$build HF_TEST_DIR=$dir NODE_EXTRA_CA_CERTS=$dir/ca.pem HANDOFF_MODULE_DIR=$build/.libs \
    node --test test/
