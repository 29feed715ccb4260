#!/bin/sh
# Every man page renders without a warning.
set -u
status=0
for page in "$HF_SRCDIR"/man/*.[0-9]; do
    out=$(groff -man -t -ww -z "$page" 2>&1)
    if [ -n "$out" ]; then
        echo "FAIL $page"
        echo "$out"
        status=1
    else
        echo "ok   $page"
    fi
done
exit $status
