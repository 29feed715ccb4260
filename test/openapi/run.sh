#!/bin/sh
# Installs the validator (npm ci, from package-lock.json) and validates
# docs/openapi.yaml. Run by tools/check.
set -eu
cd "$(dirname "$0")"
[ -d node_modules/@apidevtools/swagger-parser ] || npm ci --no-audit --no-fund --silent
exec node validate.mjs
