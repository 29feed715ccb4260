#!/bin/sh
# Every C and C++ file is formatted as .clang-format says.
set -u
cd "$HF_SRCDIR"
files=$(find src -name "*.cc" -o -name "*.h" | sort; ls include/handoff/*.h test/unit/*.cc test/fuzz/*.cc test/modules/*.cc)
if clang-format --dry-run -Werror $files; then
    echo "ok   $(echo "$files" | wc -w) files formatted"
else
    echo "FAIL run: clang-format -i on the files above"
    exit 1
fi
