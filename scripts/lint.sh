#!/bin/sh
# Banned C functions (STYLE.md §7) and, where clang-format is installed, formatting.
# Exit 0 clean, 1 with findings listed as FILE:LINE.
set -u
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src lib include tests bench fuzz examples -name '*.[ch]')

# unchecked conversions and unbounded string writes
hits=$(grep -nE '(^|[^_a-zA-Z0-9])(atoi|atol|atoll|atof|sprintf|vsprintf|strcpy|strcat|strtok|gets)[[:space:]]*\(' $files)
if [ -n "$hits" ]; then
    echo "banned functions (use the checked helpers in src/common/parse.h, snprintf, strbuf):"
    echo "$hits"
    status=1
fi
# bare strto* only inside the checked parsing helpers
hits=$(grep -nE '(^|[^_a-zA-Z0-9])strto(l|ul|ll|ull|d|f|ld|imax|umax)[[:space:]]*\(' $files | grep -v '^src/common/parse\.c:')
if [ -n "$hits" ]; then
    echo "bare strto* outside src/common/parse.c (use parse_*/scan_*):"
    echo "$hits"
    status=1
fi
if command -v clang-format >/dev/null 2>&1; then
    for f in $files; do
        clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || { echo "not clang-formatted: $f"; status=1; }
    done
fi
[ $status -eq 0 ] && echo "lint: clean"
exit $status
