#!/bin/sh
# Runs the browser demo's test: Debian's chromium, headless, driven by
# playwright-core (which downloads no browser of its own), against a real
# handoffd. Screenshots go to $HANDOFF_BUILD/test-output/browser/.
# HANDOFF_BUILD: the build folder with handoffd and handoff (default: ../../build).
set -eu
cd "$(dirname "$0")"
build=${HANDOFF_BUILD:-$PWD/../../build}
[ -x "$build/handoffd" ] || { echo "test/browser: no $build/handoffd; build first" >&2; exit 2; }
[ -x /usr/bin/chromium ] || { echo "test/browser: needs /usr/bin/chromium (apt-get install chromium)" >&2; exit 2; }
[ -d node_modules/playwright-core ] && [ -d node_modules/web-push ] ||
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent
dir=$(mktemp -d /tmp/handoff-browser.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# -t loads the modules too: from the build folder until `make install`.
export HANDOFF_MODULE_DIR="$build/.libs"
"$build/handoffd" --dev --dev-dir "$dir" -t >/dev/null
out=$build/test-output/browser
mkdir -p "$out"
HANDOFF_BUILD=$build HF_TEST_DIR=$dir HF_TEST_OUTPUT=$out HANDOFF_MODULE_DIR=$build/.libs NODE_EXTRA_CA_CERTS=$dir/ca.pem \
    node --test demo.test.mjs
