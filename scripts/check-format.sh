#!/bin/sh
# check-format.sh — checks every project .c/.h file against .clang-format.
# Reports the files (and clang-format's warnings) that differ; changes
# nothing.  Exit status 0 when all files conform, 1 otherwise, 2 when
# clang-format is missing.  Build folders (build*/, any folder holding
# build.ninja or meson-private/) and .git are skipped.
#   scripts/check-format.sh            all files
#   scripts/check-format.sh FILE...    only the given files
# Fix a file with: clang-format -i FILE
set -u
cd "$(dirname "$0")/.." || exit 2
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
    echo "check-format: $CLANG_FORMAT not found (apt-get install clang-format)" >&2
    exit 2
fi

list_files() {
    if [ $# -gt 0 ]; then
        for f in "$@"; do printf '%s\n' "$f"; done
        return
    fi
    find . \( -name .git -o -name 'build*' -o -name subprojects \) -prune -o \
        -type f \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||' | sort |
    while IFS= read -r f; do
        # Skip anything inside a folder meson configured as a build folder.
        d=$(dirname "$f")
        skip=0
        while [ "$d" != "." ] && [ "$d" != "/" ]; do
            if [ -f "$d/build.ninja" ] || [ -d "$d/meson-private" ]; then
                skip=1
                break
            fi
            d=$(dirname "$d")
        done
        [ "$skip" -eq 0 ] && printf '%s\n' "$f"
    done
}

n_files=0
n_bad=0
tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp"' EXIT
list_files "$@" > "$tmp.list"
while IFS= read -r f; do
    n_files=$((n_files + 1))
    if ! "$CLANG_FORMAT" --dry-run --Werror "$f" >"$tmp" 2>&1; then
        n_bad=$((n_bad + 1))
        echo "not formatted: $f"
        head -n 20 "$tmp" | sed 's/^/    /'
    fi
done < "$tmp.list"
rm -f "$tmp.list"
echo "check-format: $n_files files, $n_bad not formatted"
[ "$n_bad" -eq 0 ]
