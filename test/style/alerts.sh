#!/bin/sh
# The alert rules the package ships (etc/handoff-alerts.yml) are rules
# Prometheus accepts: promtool, from Debian's prometheus package.
set -u
if ! command -v promtool >/dev/null; then
    echo "FAIL promtool is not installed (Debian's prometheus; tools/deps.sh installs it)"
    exit 1
fi
promtool check rules "$HF_SRCDIR/etc/handoff-alerts.yml"
