#!/bin/sh
# check-engine-deps.sh — the handshake engine (control/engine/) is plain C on
# libcrypto (DESIGN.md "Handshake engine": no sockets, no DPDK).  Fails when
# a file under control/engine/ includes
#   - a DPDK header (rte_*.h),
#   - a dataplane header other than the pure-C ones (dp_wire.h, dp_record.h,
#     dp_replay.h),
#   - a gateway header (gw_*.h, cp_*.h),
# or when control/engine/meson.build names dpdk_dep.  Prints each offending
# line; exit status 0 when clean, 1 otherwise.
set -u
cd "$(dirname "$0")/.." || exit 2
dir=control/engine
[ -d "$dir" ] || { echo "check-engine-deps: $dir not found" >&2; exit 2; }

n_files=0
n_bad=0
for f in $(find "$dir" -type f \( -name '*.c' -o -name '*.h' \) | sort); do
    n_files=$((n_files + 1))
    # #include <x> or "x", any spacing after the '#'.
    bad=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$f" |
        sed -E 's/^([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]*)[>"].*/\1 \2/' |
        while read -r line hdr; do
            base=${hdr##*/}
            case "$base" in
            rte_*.h) echo "$f:$line: DPDK header $hdr" ;;
            dp_wire.h | dp_record.h | dp_replay.h) ;;
            dp_*.h) echo "$f:$line: dataplane header $hdr (only dp_wire.h, dp_record.h, dp_replay.h)" ;;
            gw_*.h | cp_*.h) echo "$f:$line: gateway header $hdr" ;;
            esac
        done)
    if [ -n "$bad" ]; then
        n_bad=$((n_bad + 1))
        printf '%s\n' "$bad"
    fi
done
if grep -n 'dpdk' "$dir/meson.build" | grep -v '^[0-9]*:[[:space:]]*#' | grep -q .; then
    n_bad=$((n_bad + 1))
    echo "$dir/meson.build: the engine library must not depend on DPDK:"
    grep -n 'dpdk' "$dir/meson.build" | grep -v '^[0-9]*:[[:space:]]*#'
fi
echo "check-engine-deps: $n_files files, $n_bad with forbidden dependencies"
[ "$n_bad" -eq 0 ]
