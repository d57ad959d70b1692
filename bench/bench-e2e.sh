#!/usr/bin/env bash
# bench-e2e.sh — the whole gateway side by side with what a user would
# deploy instead, in one run, in network namespaces on this machine.
#
#   client ns (dtlsload)  ──veth──  server ns  ──veth──  backend ns (udp-echo)
#
# (a) dtlsgw: DPDK on net_af_packet over the server namespace's two veth
#     ends (no kernel addresses there), control plane and one worker
#     lcore both on CPU $SERVER_CPU;
# (b) ossl-dtls-proxy (../shared/peers/dtlsload: kernel UDP sockets +
#     libssl, one thread) on CPU $SERVER_CPU, with the same addresses put
#     on the same veth ends: one for PSK, one for an ECDSA P-256 cert.
# dtlsload and udp-echo run on CPU $LOAD_CPU.  For each server: data runs
# (C sessions, W records in flight, S-byte records for each size in SIZES),
# PSK and ECDHE-ECDSA (P-256) handshake runs.  Prints a table, writes
# results.json and (with python3-matplotlib) records-per-size.png to $OUT.
#
# What limits each: on af_packet every frame is copied by the kernel (veth
# + packet socket, charged to softirq on whichever CPU) — work the gateway
# does not pay on a real NIC; the gateway's own idle share (its lcores'
# sleeps x --idle-sleep-us over the window; an estimate, sleeps overshoot)
# shows the headroom it had.  The proxy pays syscalls per datagram.
#
# Usage (root): bench/bench-e2e.sh     env: BUILD=build OUT=/tmp/dtlsgw-bench-e2e
#   SESSIONS=100 WINDOW=16 DURATION=10 SIZES="64 256 1024 1400" HS_SLOTS=32
#   SERVER_CPU=1 LOAD_CPU=0 DTLSLOAD=../shared/peers/dtlsload
# Prints figures; asserts nothing about them.  Exit status 1 when a run
# failed outright (no session up, a server did not start).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
OUT=${OUT:-/tmp/dtlsgw-bench-e2e}
DTLSLOAD=${DTLSLOAD:-$ROOT/../shared/peers/dtlsload}
SESSIONS=${SESSIONS:-100} WINDOW=${WINDOW:-16} DURATION=${DURATION:-10}
SIZES=${SIZES:-"64 256 1024 1400"} HS_SLOTS=${HS_SLOTS:-32}
SERVER_CPU=${SERVER_CPU:-1} LOAD_CPU=${LOAD_CPU:-0}
IDLE_SLEEP_US=100
NS_C=bce-cli NS_S=bce-srv NS_B=bce-be
CLI_IP=10.88.0.2 SRV_IP=10.88.0.1 SRV_BE_IP=10.88.1.1 BE_IP=10.88.1.2
PORT=4433 ECHO_PORT=9000
PSK_ID=bench PSK_KEY=$(openssl rand -hex 16)

[ "$(id -u)" = 0 ] || { echo "bench-e2e: needs root (namespaces, DPDK)"; exit 1; }
for b in control/dtlsgw control/dtlsgw-ctl; do
    [ -x "$BUILD/$b" ] || { echo "bench-e2e: $BUILD/$b missing (ninja -C $BUILD)"; exit 1; }
done
make -s -C "$DTLSLOAD" >/dev/null
for p in dtlsload ossl-dtls-proxy udp-echo; do
    [ -x "$DTLSLOAD/build/$p" ] || { echo "bench-e2e: $DTLSLOAD/build/$p missing"; exit 1; }
done
mkdir -p "$OUT"
LOG=$OUT/run.log
: >"$LOG"
RES=$OUT/results.txt
: >"$RES"
SOCK=$OUT/gw.sock
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for n in $NS_C $NS_S $NS_B; do ip netns del $n 2>/dev/null || true; done
}
trap cleanup EXIT
cleanup

# ---- topology ----------------------------------------------------------------
for n in $NS_C $NS_S $NS_B; do
    ip netns add $n
    ip -n $n link set lo up
    ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip link add bce-s0 netns $NS_S type veth peer name bce-c0 netns $NS_C
ip link add bce-s1 netns $NS_S type veth peer name bce-b0 netns $NS_B
for l in "$NS_S bce-s0" "$NS_S bce-s1" "$NS_C bce-c0" "$NS_B bce-b0"; do
    set -- $l
    ip -n "$1" link set "$2" up
    # kernel peers of an af_packet gateway must send full checksums
    ip netns exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
done
ip -n $NS_C addr add $CLI_IP/24 dev bce-c0
ip -n $NS_C route add default via $SRV_IP
ip -n $NS_B addr add $BE_IP/24 dev bce-b0
ip -n $NS_B route add default via $SRV_BE_IP
(cd "$OUT" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=bench-e2e -keyout key.pem -out cert.pem 2>/dev/null)
echo "$PSK_ID:$PSK_KEY" >"$OUT/psk.txt"

ip netns exec $NS_B taskset -c "$LOAD_CPU" "$DTLSLOAD/build/udp-echo" -l $BE_IP:$ECHO_PORT \
    -T 3600 >>"$LOG" 2>&1 &
PIDS+=($!)

cpu_name=$(lscpu | sed -n 's/^Model name: *//p')
echo "bench-e2e: $cpu_name, $(nproc) cpus; server on cpu $SERVER_CPU, dtlsload + udp-echo on cpu $LOAD_CPU"
echo "  $SESSIONS sessions, $WINDOW records in flight each, ${DURATION}s per run; sizes: $SIZES;" \
    "handshakes: $HS_SLOTS slots"

# load LABEL SERVER_PID args...: one dtlsload run in the client namespace; the
# RESULT line goes to $RES prefixed by LABEL (and the gateway's idle share).
load() {
    local label=$1 spid=$2
    shift 2
    local idle0 idle1 out=$OUT/out.txt extra=""
    [ "${label%%-*}" = dtlsgw ] && idle0=$(gw_idle_sleeps)
    ip netns exec $NS_C taskset -c "$LOAD_CPU" "$DTLSLOAD/build/dtlsload" -q --watch-pid "$spid" \
        "$@" $SRV_IP:$PORT >"$out" 2>&1 || true
    cat "$out" >>"$LOG"
    if [ "${label%%-*}" = dtlsgw ]; then
        idle1=$(gw_idle_sleeps)
        extra=" idle_sleeps=$((idle1 - idle0))"
    fi
    echo "$label $(grep '^RESULT' "$out" || echo 'RESULT mode=failed')$extra" >>"$RES"
    sleep 0.5
}

gw_idle_sleeps() {
    "$BUILD/control/dtlsgw-ctl" -s "$SOCK" --json stats 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["IDLE_SLEEP"])' 2>/dev/null ||
        echo 0
}

runs() { # LABEL PID AUTH: data runs for every size, then handshake runs
    local label=$1 pid=$2 auth=$3 cargs
    if [ "$auth" = psk ]; then
        cargs=(--psk "$PSK_ID:$PSK_KEY" --cipher PSK-AES128-GCM-SHA256)
    else
        cargs=(--cipher ECDHE-ECDSA-AES128-GCM-SHA256 --groups P-256)
    fi
    if [ "$auth" = psk ]; then
        for s in $SIZES; do
            load "$label-data-$s" "$pid" -c "$SESSIONS" -S "$s" -w "$WINDOW" -d "$DURATION" "${cargs[@]}"
        done
    fi
    load "$label-hs-$auth" "$pid" --handshakes-only -c "$HS_SLOTS" -d "$DURATION" "${cargs[@]}"
}

# ---- (a) dtlsgw on af_packet ----------------------------------------------------
cat >"$OUT/gw.yaml" <<EOF
ports:
  - {name: clients, port_id: 0, address: $SRV_IP/24}
  - {name: backends, port_id: 1, address: $SRV_BE_IP/24}
listeners:
  - name: bench
    address: $SRV_IP
    port: $PORT
    backend: $BE_IP:$ECHO_PORT
    psk_file: $OUT/psk.txt
    cert: $OUT/cert.pem
    key: $OUT/key.pem
    idle_timeout: 60s
control_socket: $SOCK
max_handshakes_per_source: 4096
EOF
rm -f "$SOCK"
ip netns exec $NS_S "$BUILD/control/dtlsgw" --lcores="0@$SERVER_CPU,1@$SERVER_CPU" --no-pci \
    --no-huge -m 1024 --file-prefix bce \
    --vdev=net_af_packet0,iface=bce-s0 --vdev=net_af_packet1,iface=bce-s1 -- \
    --config "$OUT/gw.yaml" --idle-sleep-us $IDLE_SLEEP_US >>"$LOG" 2>&1 &
GW=$!
PIDS+=($GW)
up=0
for _ in $(seq 100); do
    if "$BUILD/control/dtlsgw-ctl" -s "$SOCK" --json stats >/dev/null 2>&1; then up=1; break; fi
    sleep 0.2
done
[ $up = 1 ] || { echo "bench-e2e: the gateway did not start (see $LOG)"; exit 1; }
echo "== dtlsgw (af_packet, control plane + 1 worker on cpu $SERVER_CPU)"
runs dtlsgw $GW psk
runs dtlsgw $GW cert
kill $GW
wait $GW 2>/dev/null || true

# ---- (b) ossl-dtls-proxy on kernel sockets --------------------------------------
ip -n $NS_S addr add $SRV_IP/24 dev bce-s0
ip -n $NS_S addr add $SRV_BE_IP/24 dev bce-s1
for auth in psk cert; do
    if [ "$auth" = psk ]; then sargs=(--psk "$PSK_ID:$PSK_KEY"); else
        sargs=(--cert "$OUT/cert.pem" --key "$OUT/key.pem"); fi
    ip netns exec $NS_S taskset -c "$SERVER_CPU" "$DTLSLOAD/build/ossl-dtls-proxy" \
        -l $SRV_IP:$PORT -b $BE_IP:$ECHO_PORT "${sargs[@]}" --idle 60 --max-time 3600 >>"$LOG" 2>&1 &
    P=$!
    PIDS+=($P)
    sleep 0.5
    echo "== ossl-dtls-proxy ($auth, kernel UDP + libssl, 1 thread on cpu $SERVER_CPU)"
    runs proxy $P $auth
    kill $P
    wait $P 2>/dev/null || true
done

# ---- report ---------------------------------------------------------------------
python3 - "$RES" "$OUT" "$DURATION" "$IDLE_SLEEP_US" "$cpu_name" <<'EOF'
import json, sys
res, out, dur, sleep_us, cpu = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
rows = {}
for line in open(res):
    label, rest = line.split(" ", 1)
    kv = dict(t.split("=", 1) for t in rest.split() if "=" in t)
    rows[label] = kv
def f(label, key, d=0.0):
    try:
        return float(rows[label][key])
    except (KeyError, ValueError):
        return d
sizes = sorted({int(l.rsplit("-", 1)[1]) for l in rows if "-data-" in l})
table, js = [], {"cpu": cpu, "duration_s": dur, "data": [], "handshakes": []}
print("\n%-6s %-6s | %12s %8s %9s %9s %10s | %12s %8s %9s %9s | %6s" %
      ("size", "", "gw rec/s", "loss%", "p50 us", "p99 us", "gw idle", "proxy rec/s", "loss%",
       "p50 us", "p99 us", "ratio"))
for s in sizes:
    g, p = "dtlsgw-data-%d" % s, "proxy-data-%d" % s
    ge, pe = f(g, "echoed_per_s"), f(p, "echoed_per_s")
    win = f(g, "window_s", dur) or dur
    # two lcores share the cpu: the share of the window both slept
    idle = f(g, "idle_sleeps") * sleep_us / 1e6 / (2 * win)
    print("%-6d %-6s | %12.0f %8.3f %9.0f %9.0f %9.1f%% | %12.0f %8.3f %9.0f %9.0f | %6.2f" %
          (s, "PSK", ge, f(g, "loss_pct"), f(g, "rtt_p50_us"), f(g, "rtt_p99_us"), 100 * idle,
           pe, f(p, "loss_pct"), f(p, "rtt_p50_us"), f(p, "rtt_p99_us"), ge / pe if pe else 0))
    js["data"].append({"size": s, "dtlsgw": rows.get(g, {}), "proxy": rows.get(p, {}),
                       "dtlsgw_idle_share_est": idle, "ratio": ge / pe if pe else None})
print()
for auth, name in (("psk", "PSK"), ("cert", "ECDHE-ECDSA P-256")):
    g, p = "dtlsgw-hs-" + auth, "proxy-hs-" + auth
    gh, ph = f(g, "hs_per_s"), f(p, "hs_per_s")
    print("handshakes/s %-18s dtlsgw %8.0f (p50 %.2f ms, fail %d)   proxy %8.0f (p50 %.2f ms, fail %d)   ratio %.2f" %
          (name, gh, f(g, "hs_p50_ms"), f(g, "hs_fail"), ph, f(p, "hs_p50_ms"), f(p, "hs_fail"),
           gh / ph if ph else 0))
    js["handshakes"].append({"auth": name, "dtlsgw": rows.get(g, {}), "proxy": rows.get(p, {}),
                             "ratio": gh / ph if ph else None})
json.dump(js, open(out + "/results.json", "w"), indent=1)
print("\nresults: %s/results.json, log %s/run.log" % (out, out))
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sizes, [f("dtlsgw-data-%d" % s, "echoed_per_s") for s in sizes], "o-", label="dtlsgw (af_packet, 1 worker)")
    ax.plot(sizes, [f("proxy-data-%d" % s, "echoed_per_s") for s in sizes], "s-", label="ossl-dtls-proxy (1 thread)")
    ax.set_xlabel("record payload bytes")
    ax.set_ylabel("echoed records/s")
    ax.set_title("one server CPU: " + cpu)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out + "/records-per-size.png", dpi=100)
    print("plot: %s/records-per-size.png" % out)
except ImportError:
    print("plot: skipped (python3-matplotlib not installed: apt-get install -y python3-matplotlib)")
failed = [l for l, kv in rows.items() if kv.get("mode") == "failed" or kv.get("sessions_up") == "0"]
if failed:
    print("FAILED runs: " + ", ".join(failed))
    sys.exit(1)
EOF
