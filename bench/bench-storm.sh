#!/usr/bin/env bash
# bench-storm.sh — reconnect storm: C established sessions, the gateway
# restarts, every client comes back at once; how long until each carries
# data again.  Network namespaces on this machine, as bench-e2e.sh:
#
#   client ns (bench-storm-client) ──veth── server ns (dtlsgw) ──veth── backend ns (udp-echo)
#
# dtlsgw runs on DPDK net_af_packet over the server namespace's two veth
# ends, control plane and one worker lcore on CPU $SERVER_CPU; the client
# and udp-echo on CPU $LOAD_CPU.  For each credential (PSK, then ECDHE-ECDSA
# with a P-256 certificate) and each mode:
#   (a) full      no tickets, no state file: the stopping gateway sends
#                 close_notify to every session and the new one knows none;
#                 clients handshake again as soon as it is back (one that
#                 missed it after $LOST_MS ms without an echo, probing
#                 every $PROBE_MS ms): full handshakes, all at once;
#   (b) state     hitless restart (state_file / state_key_file): the
#                 sessions are saved on SIGTERM and restored at start;
#                 clients keep them and need no handshake;
#   (c) tickets   RFC 5077 session tickets under a ticket_key_file that the
#                 restarted gateway loads again: the stopping gateway sends
#                 close_notify, the clients come back offering their
#                 tickets and get the abbreviated handshake (no ECDHE, no
#                 signature).  In (a) the clients refuse tickets
#                 (SSL_OP_NO_TICKET) and offer no session: full handshakes.
# One run: C sessions up (each one echoed probe), then SIGUSR1 to the client
# (t_kill: it stops probing), SIGTERM to the gateway, wait for it to exit,
# start it again with the same config, wait until its control socket
# answers, SIGUSR2 to the client (t_storm: every session probes at once).
# Per session: t_back (first echo of a probe sent after t_storm) - t_kill
# (the restart as a client sees it) and - t_storm (after the gateway is
# back); p50/p99/max and the total (the last one back = max).
#
# Usage (root): bench/bench-storm.sh    env: BUILD=build OUT=/tmp/dtlsgw-bench-storm
#   SESSIONS=10000 PROBE_MS=250 LOST_MS=2000 DEADLINE=120 HS_WINDOW=64 MODES="full state tickets"
#   AUTHS="psk cert" SERVER_CPU=1 LOAD_CPU=0 DTLSLOAD=../shared/peers/dtlsload (udp-echo)
# Prints a table and writes results.json to $OUT.  Prints figures; asserts
# nothing about them.  Exit status 1 when a run failed outright.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
OUT=${OUT:-/tmp/dtlsgw-bench-storm}
DTLSLOAD=${DTLSLOAD:-$ROOT/../shared/peers/dtlsload}
SESSIONS=${SESSIONS:-10000} PROBE_MS=${PROBE_MS:-250} LOST_MS=${LOST_MS:-2000} DEADLINE=${DEADLINE:-120}
HS_WINDOW=${HS_WINDOW:-64} MODES=${MODES:-"full state tickets"} AUTHS=${AUTHS:-"psk cert"}
SERVER_CPU=${SERVER_CPU:-1} LOAD_CPU=${LOAD_CPU:-0}
IDLE_SLEEP_US=100
NS_C=bst-cli NS_S=bst-srv NS_B=bst-be
CLI_IP=10.89.0.2 SRV_IP=10.89.0.1 SRV_BE_IP=10.89.1.1 BE_IP=10.89.1.2
PORT=4433 ECHO_PORT=9000
PSK_ID=storm PSK_KEY=$(openssl rand -hex 16)
CLIENT=$BUILD/bench/bench-storm-client

[ "$(id -u)" = 0 ] || { echo "bench-storm: needs root (namespaces, DPDK)"; exit 1; }
for b in control/dtlsgw control/dtlsgw-ctl bench/bench-storm-client; do
    [ -x "$BUILD/$b" ] || { echo "bench-storm: $BUILD/$b missing (ninja -C $BUILD)"; exit 1; }
done
mkdir -p "$OUT"
# built under $OUT: the shared peers folder stays untouched
UDP_ECHO=$OUT/peers/udp-echo
make -s -C "$DTLSLOAD" B="$OUT/peers" "$UDP_ECHO" >/dev/null
[ -x "$UDP_ECHO" ] || { echo "bench-storm: $UDP_ECHO missing"; exit 1; }
LOG=$OUT/run.log
: >"$LOG"
RES=$OUT/results.txt
: >"$RES"
SOCK=$OUT/gw.sock
PIDS=()
GW=""

cleanup() {
    for p in "${PIDS[@]}" $GW; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${PIDS[@]}" $GW; do kill -9 "$p" 2>/dev/null || true; done
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
ip link add bst-s0 netns $NS_S type veth peer name bst-c0 netns $NS_C
ip link add bst-s1 netns $NS_S type veth peer name bst-b0 netns $NS_B
for l in "$NS_S bst-s0" "$NS_S bst-s1" "$NS_C bst-c0" "$NS_B bst-b0"; do
    set -- $l
    ip -n "$1" link set "$2" up
    # kernel peers of an af_packet gateway must send full checksums
    ip netns exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
done
ip -n $NS_C addr add $CLI_IP/24 dev bst-c0
ip -n $NS_C route add default via $SRV_IP
ip -n $NS_B addr add $BE_IP/24 dev bst-b0
ip -n $NS_B route add default via $SRV_BE_IP
# many sessions: room in the client's socket and neighbour tables
ip netns exec $NS_C sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
(cd "$OUT" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=bench-storm -keyout key.pem -out cert.pem 2>/dev/null)
echo "$PSK_ID:$PSK_KEY" >"$OUT/psk.txt"
head -c 48 /dev/urandom >"$OUT/state.key"
chmod 600 "$OUT/state.key"
head -c 48 /dev/urandom >"$OUT/ticket.key"
chmod 600 "$OUT/ticket.key"

ip netns exec $NS_B taskset -c "$LOAD_CPU" "$UDP_ECHO" -l $BE_IP:$ECHO_PORT \
    -T 36000 >>"$LOG" 2>&1 &
PIDS+=($!)

cpu_name=$(lscpu | sed -n 's/^Model name: *//p')
echo "bench-storm: $cpu_name, $(nproc) cpus; gateway on cpu $SERVER_CPU, client + udp-echo on cpu $LOAD_CPU"
echo "  $SESSIONS sessions; after the restart a probe every ${PROBE_MS} ms, no echo for $LOST_MS ms: new handshake"

# gw_config EXTRA_TOP EXTRA_LISTENER: writes $OUT/gw.yaml
gw_config() {
    cat >"$OUT/gw.yaml" <<EOF
ports:
  - {name: clients, port_id: 0, address: $SRV_IP/24}
  - {name: backends, port_id: 1, address: $SRV_BE_IP/24}
listeners:
  - name: storm
    address: $SRV_IP
    port: $PORT
    backend: $BE_IP:$ECHO_PORT
    psk_file: $OUT/psk.txt
    cert: $OUT/cert.pem
    key: $OUT/key.pem
    idle_timeout: 10m
$2
control_socket: $SOCK
max_sessions: $((SESSIONS * 2 > 65536 ? SESSIONS * 2 : 65536))
max_handshakes: 4096
max_handshakes_per_source: 4096
$1
EOF
    sed -i '/^$/d' "$OUT/gw.yaml"
}

# Starts the gateway (GW=pid); waits until its control socket answers, or
# it exits.  0 when up.
gw_start() {
    rm -f "$SOCK"
    ip netns exec $NS_S "$BUILD/control/dtlsgw" --lcores="0@$SERVER_CPU,1@$SERVER_CPU" --no-pci \
        --no-huge -m 1024 --file-prefix bst \
        --vdev=net_af_packet0,iface=bst-s0 --vdev=net_af_packet1,iface=bst-s1 -- \
        --config "$OUT/gw.yaml" --idle-sleep-us $IDLE_SLEEP_US >>"$OUT/gw.log" 2>&1 &
    GW=$!
    for _ in $(seq 300); do
        if "$BUILD/control/dtlsgw-ctl" -s "$SOCK" --json stats >/dev/null 2>&1; then return 0; fi
        kill -0 $GW 2>/dev/null || { GW=""; return 1; }
        sleep 0.05
    done
    return 1
}

gw_stop() { # SIGTERM and wait (the state file is written before it exits)
    [ -n "$GW" ] || return 0
    kill -TERM $GW 2>/dev/null || true
    wait $GW 2>/dev/null || true
    GW=""
}

# run AUTH MODE: one storm; the client's RESULT line goes to $RES as "AUTH MODE RESULT..."
run() {
    local auth=$1 mode=$2 cargs=() top="" lst=""
    if [ "$auth" = psk ]; then
        cargs=(--psk "$PSK_ID:$PSK_KEY" --cipher PSK-AES128-GCM-SHA256)
    else
        cargs=(--cipher ECDHE-ECDSA-AES128-GCM-SHA256 --groups P-256)
    fi
    case $mode in
    state) top="state_file: $OUT/state.bin
state_key_file: $OUT/state.key" ;;
    tickets)
        # the same keys before and after the restart
        top="ticket_key_file: $OUT/ticket.key"
        cargs+=(--tickets) ;;
    esac
    rm -f "$OUT/state.bin" "$OUT/ready"
    : >"$OUT/gw.log"
    gw_config "$top" "$lst"
    if ! gw_start; then
        echo "  $auth $mode: the gateway did not start (see $LOG)"
        cat "$OUT/gw.log" >>"$LOG"
        echo "$auth $mode RESULT mode=failed" >>"$RES"
        return 0
    fi
    local t0 cli out=$OUT/client.out
    t0=$(date +%s.%N)
    ip netns exec $NS_C taskset -c "$LOAD_CPU" "$CLIENT" -c "$SESSIONS" --hs-window "$HS_WINDOW" \
        --probe-ms "$PROBE_MS" --lost-ms "$LOST_MS" --deadline "$DEADLINE" --ready-file "$OUT/ready" \
        "${cargs[@]}" $SRV_IP:$PORT >"$out" 2>>"$LOG" &
    cli=$!
    while [ ! -s "$OUT/ready" ] && kill -0 $cli 2>/dev/null; do sleep 0.1; done
    local setup_s
    setup_s=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
    echo "  $auth $mode: $(cat "$OUT/ready" 2>/dev/null || echo up=0) after ${setup_s}s; restarting"
    kill -USR1 $cli 2>/dev/null || true
    sleep 0.2
    gw_stop
    if ! gw_start; then
        echo "  $auth $mode: the gateway did not start again (see $LOG)"
    fi
    kill -USR2 $cli 2>/dev/null || true
    wait $cli 2>/dev/null || true
    local restored
    restored=$(grep -o 'restored [0-9]* of [0-9]*' "$OUT/gw.log" | tail -1 | tr ' ' '_' || true)
    echo "$auth $mode $(grep '^RESULT' "$out" || echo 'RESULT mode=failed') setup_s=$setup_s" \
        "restored=${restored:-none}" >>"$RES"
    tail -1 "$RES" | sed 's/^/    /'
    gw_stop
    cat "$OUT/gw.log" >>"$LOG"
}

for auth in $AUTHS; do
    for mode in $MODES; do
        run "$auth" "$mode"
    done
done

# ---- report ---------------------------------------------------------------------
python3 - "$RES" "$OUT" "$cpu_name" "$SESSIONS" "$PROBE_MS" "$LOST_MS" <<'EOF'
import json, sys
res, out, cpu, C, probe, lost = sys.argv[1:7]
rows = []
for line in open(res):
    auth, mode, rest = line.split(" ", 2)
    kv = dict(t.split("=", 1) for t in rest.split() if "=" in t)
    rows.append((auth, mode, kv))
names = {"psk": "PSK", "cert": "ECDHE-ECDSA P-256"}
modes = {"full": "(a) full handshakes", "state": "(b) state file", "tickets": "(c) tickets"}
print("\n%-18s %-20s %6s %6s %6s %9s | %9s %9s %9s | %9s %9s %9s | %s" %
      ("auth", "mode", "up", "back", "no_hs", "down ms", "p50 ms", "p99 ms", "max ms",
       "p50 ms", "p99 ms", "max ms", "handshakes"))
print("%-18s %-20s %6s %6s %6s %9s | %29s | %29s |" % ("", "", "", "", "", "",
      "from the kill (downtime incl.)", "from the gateway's return"))
js = {"cpu": cpu, "sessions": int(C), "probe_ms": int(probe), "lost_ms": int(lost), "runs": []}
failed = []
for auth, mode, kv in rows:
    entry = {"auth": names.get(auth, auth), "mode": mode}
    if kv.get("mode") == "failed" or "back" not in kv:
        print("%-18s %-20s FAILED" % (names.get(auth, auth), modes[mode]))
        failed.append(auth + " " + mode)
        entry["failed"] = True
        js["runs"].append(entry)
        continue
    g = lambda k: float(kv.get(k, "nan"))
    print("%-18s %-20s %6s %6s %6s %9.0f | %9.0f %9.0f %9.0f | %9.0f %9.0f %9.0f | %s full, %s resumed, %s attempts, %s closed by the old gateway" %
          (names.get(auth, auth), modes[mode], kv["up"], kv["back"], kv.get("back_no_handshake"),
           g("downtime_ms"), g("kill_p50_ms"), g("kill_p99_ms"), g("kill_max_ms"),
           g("storm_p50_ms"), g("storm_p99_ms"), g("storm_max_ms"),
           kv.get("back_full_handshake"), kv.get("back_resumed"), kv.get("hs_attempts"),
           kv.get("closed_by_peer")))
    entry.update({k: (float(v) if v.replace(".", "", 1).lstrip("-").isdigit() else v) for k, v in kv.items()})
    js["runs"].append(entry)
    if kv.get("up") == "0":
        failed.append(auth + " " + mode)
json.dump(js, open(out + "/results.json", "w"), indent=1)
print("\ntotal time until all carry data again = max; results: %s/results.json, log %s/run.log" % (out, out))
if failed:
    print("FAILED runs: " + ", ".join(failed))
    sys.exit(1)
EOF
