#!/bin/bash
# run-demo.sh — the README's run command: a complete dtlsgw demo on one
# machine.  Installs what is missing, builds, creates a demo topology in
# network namespaces, generates demo credentials, starts demo backends and
# the gateway (DPDK net_af_packet on veth), prints the client commands to
# try, and shows live counters until Ctrl-C; then tears everything down.
#
#   sudo ./scripts/run-demo.sh            interactive demo (Ctrl-C to stop)
#   sudo ./scripts/run-demo.sh --check    start, run the clients itself,
#                                         print PASS/FAIL, tear down
#
#   dgw-client (10.0.0.2)  ──veth──  dgw-gw: dtlsgw  ──veth──  dgw-backend (10.0.1.2)
#                           port 0 10.0.0.1/24   port 1 10.0.1.1/24
#   listeners: 10.0.0.1:5684 (coaps) → coap-server-notls 10.0.1.2:5683
#              10.0.0.1:4433 (DTLS)  → UDP echo           10.0.1.2:7
#
# Environment: DTLSGW_BUILD (build dir, default build), DTLSGW_DEMO_DIR
# (credentials, config and logs, default /tmp/dtlsgw-demo).
# Owns: the dgw-* namespaces and links, the demo dir, the processes it
# starts and the hugepage setting it changed (restored at exit).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${DTLSGW_BUILD:-build}
DEMO=${DTLSGW_DEMO_DIR:-/tmp/dtlsgw-demo}
CHECK=0
case "${1:-}" in
    --check) CHECK=1 ;;
    "") ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-demo: unknown option $1 (try --help)" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    echo "run-demo: needs root (network namespaces, DPDK); re-running with sudo"
    exec sudo -E "$0" "$@"
fi

GW_IP=10.0.0.1
GW_BE_IP=10.0.1.1
CLI_IP=10.0.0.2
BE_IP=10.0.1.2
PSK_ID=demo
COAP_ID=coap
COAP_KEY=demo-coap-secret                 # libcoap's -k takes the key as text
SOCK=$DEMO/ctl.sock
CTL="$ROOT/$BUILD/control/dtlsgw-ctl"
GW="$ROOT/$BUILD/control/dtlsgw"
PIDS=()
HUGE_ORIG=""

log() { printf '\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
    set +e
    trap - INT TERM EXIT
    echo
    log "stopping"
    if [ -n "${GW_PID:-}" ] && kill -0 "$GW_PID" 2>/dev/null; then
        kill -TERM "$GW_PID"
        for _ in $(seq 1 50); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$GW_PID" 2>/dev/null
    fi
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.2
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    ip netns del dgw-gw 2>/dev/null
    ip netns del dgw-client 2>/dev/null
    ip netns del dgw-backend 2>/dev/null
    rm -rf /var/run/dpdk/dgw-demo
    if [ -n "$HUGE_ORIG" ]; then
        echo "$HUGE_ORIG" > /proc/sys/vm/nr_hugepages 2>/dev/null
    fi
    log "torn down (logs and credentials kept in $DEMO)"
}

# ---- 1. dependencies and build ------------------------------------------------
log "installing missing packages"
./scripts/install-deps.sh
log "building ($BUILD)"
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=debugoptimized
ninja -C "$BUILD" control/dtlsgw control/dtlsgw-ctl
[ -x "$GW" ] || { echo "run-demo: $GW was not built (is libdpdk-dev installed?)" >&2; exit 1; }

trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 2. topology -----------------------------------------------------------------
log "creating the demo topology (namespaces dgw-client, dgw-gw, dgw-backend)"
for ns in dgw-gw dgw-client dgw-backend; do
    ip netns del "$ns" 2>/dev/null || true
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip link add dgw-c0 netns dgw-gw type veth peer name dgw-c1 netns dgw-client
ip link add dgw-b0 netns dgw-gw type veth peer name dgw-b1 netns dgw-backend
# The gateway's ends carry no kernel address: DPDK owns them.
ip -n dgw-gw link set dgw-c0 up
ip -n dgw-gw link set dgw-b0 up
ip -n dgw-client addr add $CLI_IP/24 dev dgw-c1
ip -n dgw-client link set dgw-c1 up
ip -n dgw-client route add default via $GW_IP
ip -n dgw-backend addr add $BE_IP/24 dev dgw-b1
ip -n dgw-backend link set dgw-b1 up
ip -n dgw-backend route add default via $GW_BE_IP
# Kernel peers on veth would hand AF_PACKET frames with partial UDP
# checksums; the gateway verifies checksums, so offload is off on them.
ip netns exec dgw-client ethtool -K dgw-c1 tx off >/dev/null
ip netns exec dgw-backend ethtool -K dgw-b1 tx off >/dev/null

# ---- 3. credentials ------------------------------------------------------------------
log "generating demo credentials in $DEMO"
mkdir -p "$DEMO"
chmod 700 "$DEMO"
rm -f "$DEMO/psk.txt" "$SOCK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -keyout "$DEMO/key.pem" -out "$DEMO/cert.pem" -subj "/CN=dtlsgw-demo" \
    -addext "subjectAltName=IP:$GW_IP" 2>/dev/null
# A P-384 certificate beside it (the listeners' certs: list): a client that
# offers only P-384/P-521 gets this one, the others the P-256 one.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -days 30 \
    -keyout "$DEMO/key-p384.pem" -out "$DEMO/cert-p384.pem" -subj "/CN=dtlsgw-demo-p384" \
    -addext "subjectAltName=IP:$GW_IP" 2>/dev/null
psktool -u "$PSK_ID" -p "$DEMO/psk.txt" >/dev/null
PSK_HEX=$(sed -n "s/^$PSK_ID://p" "$DEMO/psk.txt")
echo "$COAP_ID:$(printf %s "$COAP_KEY" | od -An -tx1 | tr -d ' \n')" >> "$DEMO/psk.txt"

# ---- 4. backends -----------------------------------------------------------------------
log "starting the demo backends in dgw-backend"
ip netns exec dgw-backend coap-server-notls -A $BE_IP -p 5683 >"$DEMO/coap-server.log" 2>&1 &
PIDS+=($!)
ip netns exec dgw-backend python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 7))
while True:
    d, a = s.recvfrom(65535)
    s.sendto(d, a)
    print("%s:%d %d bytes: %r" % (a[0], a[1], len(d), d[:80]), flush=True)
' $BE_IP >"$DEMO/echo.log" 2>&1 &
PIDS+=($!)

# ---- 5. gateway -------------------------------------------------------------------------
cat >"$DEMO/gw.yaml" <<EOF
# dtlsgw demo configuration (written by scripts/run-demo.sh)
ports:
  - {name: clients, port_id: 0, address: $GW_IP/24}
  - {name: backends, port_id: 1, address: $GW_BE_IP/24}
listeners:
  - name: coaps
    address: $GW_IP
    port: 5684
    backend: $BE_IP:5683
    psk_file: $DEMO/psk.txt
    certs:
      - {cert: $DEMO/cert.pem, key: $DEMO/key.pem}
      - {cert: $DEMO/cert-p384.pem, key: $DEMO/key-p384.pem}
    idle_timeout: 300s
    nat_ports: 20000-29999
  - name: echo
    address: $GW_IP
    port: 4433
    backend: $BE_IP:7
    psk_file: $DEMO/psk.txt
    certs:
      - {cert: $DEMO/cert.pem, key: $DEMO/key.pem}
      - {cert: $DEMO/cert-p384.pem, key: $DEMO/key-p384.pem}
    idle_timeout: 300s
    nat_ports: 30000-39999
control_socket: $SOCK
max_sessions: 20000  # one NAT port each: the two nat_ports ranges
EOF

MEM_ARGS=(--no-huge -m 1024)
if [ -w /proc/sys/vm/nr_hugepages ]; then
    HUGE_ORIG=$(cat /proc/sys/vm/nr_hugepages)
    if [ "$HUGE_ORIG" -lt 512 ]; then
        echo 512 > /proc/sys/vm/nr_hugepages 2>/dev/null || true
    else
        HUGE_ORIG=""
    fi
    free_pages=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
    if [ "${free_pages:-0}" -ge 512 ] && grep -q hugetlbfs /proc/mounts; then
        MEM_ARGS=(-m 1024)
    fi
fi
NCPU=$(nproc)
if [ "$NCPU" -ge 3 ]; then
    LCORE_ARGS=(-l 0-2); QPAIRS=2               # main lcore + 2 workers
else
    LCORE_ARGS=(--lcores "0@0,1@$((NCPU - 1))"); QPAIRS=1
fi
log "starting dtlsgw (${LCORE_ARGS[*]} ${MEM_ARGS[*]})"
ip netns exec dgw-gw "$GW" "${LCORE_ARGS[@]}" "${MEM_ARGS[@]}" --no-pci --file-prefix dgw-demo \
    --vdev "net_af_packet0,iface=dgw-c0,qpairs=$QPAIRS" \
    --vdev "net_af_packet1,iface=dgw-b0,qpairs=$QPAIRS" \
    -- --config "$DEMO/gw.yaml" >"$DEMO/gateway.log" 2>&1 &
GW_PID=$!
for _ in $(seq 1 300); do
    "$CTL" -s "$SOCK" -t 500 stats >/dev/null 2>&1 && break
    if ! kill -0 $GW_PID 2>/dev/null; then
        echo "run-demo: dtlsgw exited; its log ($DEMO/gateway.log):" >&2
        tail -20 "$DEMO/gateway.log" >&2
        exit 1
    fi
    sleep 0.2
done
"$CTL" -s "$SOCK" stats >/dev/null || { echo "run-demo: control socket does not answer" >&2; exit 1; }

C="ip netns exec dgw-client"
cat <<EOF

$(log "dtlsgw is running; try these from another terminal:")

  # DTLS 1.2 PSK (echo backend), then type a line:
  $C openssl s_client -dtls1_2 -connect $GW_IP:4433 -cipher PSK-AES128-CCM8 \\
      -psk_identity $PSK_ID -psk $PSK_HEX
  # ECDHE-ECDSA with the demo certificate:
  $C openssl s_client -dtls1_2 -connect $GW_IP:4433 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 \\
      -CAfile $DEMO/cert.pem -verify_ip $GW_IP
  # a client offering only P-384/P-521 gets the P-384 certificate:
  $C openssl s_client -dtls1_2 -connect $GW_IP:4433 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 \\
      -groups P-384:P-521 -CAfile $DEMO/cert-p384.pem -verify_ip $GW_IP
  # GnuTLS, PSK and certificate:
  $C gnutls-cli --udp --port 4433 --pskusername $PSK_ID --pskkey $PSK_HEX \\
      --priority 'NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK' $GW_IP
  $C gnutls-cli --udp --port 4433 --x509cafile $DEMO/cert.pem $GW_IP
  # CoAP over DTLS (PSK) to coap-server-notls behind the gateway:
  $C coap-client-openssl -m get -u $COAP_ID -k $COAP_KEY coaps://$GW_IP:5684/
  $C coap-client-gnutls -m get -u $COAP_ID -k $COAP_KEY coaps://$GW_IP:5684/
  # operate it:
  $CTL -s $SOCK -p sessions
  $CTL -s $SOCK kill $CLI_IP:PORT

Logs: $DEMO/gateway.log, $DEMO/echo.log (what the backend received), $DEMO/coap-server.log
EOF

# ---- 6a. --check: run the clients ourselves ------------------------------------------------
if [ "$CHECK" -eq 1 ]; then
    fails=0
    check() {   # name, expected substring, command...
        local name=$1 want=$2; shift 2
        local out
        out=$("$@" 2>&1 || true)
        if printf '%s' "$out" | grep -qF -- "$want"; then
            printf '  %-44s PASS\n' "$name"
        else
            printf '  %-44s FAIL\n%s\n' "$name" "$(printf '%s' "$out" | tail -5)"
            fails=$((fails + 1))
        fi
    }
    echo
    log "checking the client commands"
    line="hello-dtlsgw-$$"
    check "openssl s_client PSK-AES128-CCM8" "$line" bash -c \
        "(sleep 2; echo $line; sleep 2) | timeout 8 $C openssl s_client -dtls1_2 -quiet \
         -connect $GW_IP:4433 -cipher PSK-AES128-CCM8 -psk_identity $PSK_ID -psk $PSK_HEX"
    check "openssl s_client ECDHE-ECDSA-AES128-GCM" "$line-ec" bash -c \
        "(sleep 2; echo $line-ec; sleep 2) | timeout 8 $C openssl s_client -dtls1_2 -quiet \
         -connect $GW_IP:4433 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 \
         -CAfile $DEMO/cert.pem -verify_ip $GW_IP -verify_return_error"
    check "openssl s_client P-384:P-521 only" "$line-p384" bash -c \
        "(sleep 2; echo $line-p384; sleep 2) | timeout 8 $C openssl s_client -dtls1_2 -quiet \
         -connect $GW_IP:4433 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -groups P-384:P-521 \
         -CAfile $DEMO/cert-p384.pem -verify_ip $GW_IP -verify_return_error"
    check "gnutls-cli PSK" "$line-gt" bash -c \
        "(sleep 2; echo $line-gt; sleep 2) | timeout 8 $C gnutls-cli --udp --port 4433 \
         --pskusername $PSK_ID --pskkey $PSK_HEX \
         --priority 'NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK' $GW_IP"
    check "coap-client-openssl coaps GET /" "made with libcoap" \
        timeout 10 $C coap-client-openssl -m get -u $COAP_ID -k $COAP_KEY coaps://$GW_IP:5684/
    check "coap-client-gnutls coaps GET /" "made with libcoap" \
        timeout 10 $C coap-client-gnutls -m get -u $COAP_ID -k $COAP_KEY coaps://$GW_IP:5684/
    check "dtlsgw-ctl stats" '"ok":true' "$CTL" -s "$SOCK" --json stats
    "$CTL" -s "$SOCK" -p stats | head -40
    if [ "$fails" -eq 0 ]; then log "demo check: all PASS"; else log "demo check: $fails FAIL"; fi
    exit $((fails > 0))
fi

# ---- 6b. live counters until Ctrl-C -------------------------------------------------------
echo
log "live counters every 2 s (Ctrl-C stops and tears down)"
while kill -0 $GW_PID 2>/dev/null; do
    "$CTL" -s "$SOCK" -t 1000 stats 2>/dev/null | python3 -c '
import json, sys, time
r = json.load(sys.stdin).get("result", {})
c = r.get("counters", {})
print("%s sessions=%s rx=%s tx=%s records in/out=%s/%s handshakes=%s drops=%s" % (
    time.strftime("%H:%M:%S"), r.get("sessions"), c.get("RX_PKTS"), c.get("TX_PKTS"),
    c.get("RX_RECORDS"), c.get("TX_RECORDS"), c.get("CP_HS_ESTABLISHED"), r.get("drops")))
' || echo "(no answer from the control socket)"
    sleep 2
done
echo "run-demo: dtlsgw exited; last lines of $DEMO/gateway.log:" >&2
tail -20 "$DEMO/gateway.log" >&2
exit 1
