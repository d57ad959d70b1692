#!/bin/sh
# record_engine_corpus.sh — records the seed corpus of the handshake-engine
# fuzz target (tests/fuzz/corpus/engine/) from real clients.
#
#   tests/interop/record_engine_corpus.sh BUILD_DIR FUZZ_BUILD_DIR [OUT_DIR]
#   e.g. tests/interop/record_engine_corpus.sh build build-fuzz
#
# fuzz-engine writes its (deterministic) credentials out, hs-driver runs with
# exactly those, --no-cookie and --deterministic-rand (tests/interop/
# det_rand.h), and openssl s_client / gnutls-cli / coap-client handshakes
# (every suite, client certificates, a lossy relay for retransmissions) are
# captured in the fuzz input format.  Replayed in fuzz-engine these go past
# the Finished check into application data and close_notify
# (FUZZ_ENGINE_VERBOSE=1 shows the events).  Existing det-*.bin seeds in
# OUT_DIR are replaced; other seeds are left alone.  Every process started
# here is stopped at exit.
set -eu
B=${1:?usage: $0 BUILD_DIR FUZZ_BUILD_DIR [OUT_DIR]}
F=${2:?usage: $0 BUILD_DIR FUZZ_BUILD_DIR [OUT_DIR]}
OUT=${3:-$(dirname "$0")/../fuzz/corpus/engine}
DRV=$B/tests/interop/hs-driver
RELAY=$B/tests/interop/impair-relay
FUZZ=$F/tests/fuzz/fuzz-engine
for x in "$DRV" "$RELAY" "$FUZZ"; do
    [ -x "$x" ] || { echo "missing $x" >&2; exit 1; }
done
W=$(mktemp -d /tmp/record-engine-XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT INT TERM

mkdir -p "$W/empty" "$W/cap-plain" "$W/cap-cauth" "$OUT"
FUZZ_ENGINE_CREDS_DIR=$W "$FUZZ" -runs=0 "$W/empty" >"$W/fuzz-init.log" 2>&1
COAPHEX=$(printf '%s' 'secretPSK-coap01' | od -An -tx1 | tr -d ' \n')
printf 'Client_identity:0102030405060708090a0b0c0d0e0f10\ncoap-client:%s\n' "$COAPHEX" \
    >"$W/psk.txt"

# Not in a $(...) subshell: the driver's pid must reach PIDS here.
start_driver() { # name extra-args...  -> port in $PORT
    name=$1
    shift
    "$DRV" --port 0 --port-file "$W/$name.port" --log "$W/$name.log" --no-cookie \
        --deterministic-rand --psk-file "$W/psk.txt" --cert "$W/ec.crt" --key "$W/ec.key" \
        --cert "$W/rsa.crt" --key "$W/rsa.key" --capture "$W/cap-$name" "$@" \
        >"$W/$name.out" 2>&1 &
    PIDS="$PIDS $!"
    i=0
    while [ ! -s "$W/$name.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    PORT=$(cat "$W/$name.port")
}
start_driver plain --echo
PLAIN=$PORT
start_driver cauth --echo --client-auth=optional --ca "$W/ec.crt"
CAUTH=$PORT

PSK="-psk_identity Client_identity -psk 0102030405060708090a0b0c0d0e0f10"
ossl() { # port cipher extra...
    port=$1
    cipher=$2
    shift 2
    (printf 'fuzz-seed-ping\n'; sleep 1) |
        timeout 8 openssl s_client -dtls1_2 -connect "127.0.0.1:$port" -cipher "$cipher" "$@" \
            >>"$W/clients.log" 2>&1 || true
}
gtls() { # port priority extra...
    port=$1
    prio=$2
    shift 2
    (sleep 0.5; printf 'fuzz-seed-ping\n'; sleep 1) |
        timeout 8 gnutls-cli --udp --port "$port" --priority "$prio" "$@" 127.0.0.1 \
            >>"$W/clients.log" 2>&1 || true
}

for c in PSK-AES128-CCM8 PSK-AES128-CCM PSK-AES128-GCM-SHA256 PSK-AES256-GCM-SHA384 \
    PSK-CHACHA20-POLY1305 ECDHE-PSK-CHACHA20-POLY1305; do
    # shellcheck disable=SC2086
    ossl "$PLAIN" "$c" $PSK
done
for c in ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 \
    ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES128-CCM8 ECDHE-ECDSA-AES128-CCM \
    ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305; do
    ossl "$PLAIN" "$c"
done
ossl "$PLAIN" ECDHE-RSA-AES128-GCM-SHA256 -groups X25519
ossl "$PLAIN" ECDHE-RSA-AES128-GCM-SHA256 -groups P-384
G="NORMAL:-VERS-ALL:+VERS-DTLS1.2"
gtls "$PLAIN" "$G:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CCM-8" \
    --pskusername Client_identity --pskkey 0102030405060708090a0b0c0d0e0f10
gtls "$PLAIN" "$G:-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:+AES-128-GCM" --insecure
gtls "$PLAIN" "$G:-KX-ALL:+ECDHE-RSA:-CIPHER-ALL:+CHACHA20-POLY1305" --insecure
MBED=$B/tests/interop/mbedtls-dtls-client
if [ -x "$MBED" ]; then # a third ClientHello shape (Mbed TLS)
    for s in TLS-PSK-WITH-AES-128-CCM-8 TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256 \
        TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8 TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384; do
        timeout 8 "$MBED" --port "$PLAIN" --suite "$s" --psk-identity Client_identity \
            --psk 0102030405060708090a0b0c0d0e0f10 >>"$W/clients.log" 2>&1 || true
    done
fi
timeout 8 coap-client-openssl -m get -B 3 -u coap-client -k secretPSK-coap01 \
    "coaps://127.0.0.1:$PLAIN/" >>"$W/clients.log" 2>&1 || true
# client certificate (the fuzz credentials' ECDSA cert is also the CA)
ossl "$CAUTH" ECDHE-ECDSA-AES128-GCM-SHA256 -cert "$W/ec.crt" -key "$W/ec.key"
ossl "$CAUTH" ECDHE-RSA-AES128-GCM-SHA256 -cert "$W/ec.crt" -key "$W/ec.key"
ossl "$CAUTH" ECDHE-ECDSA-AES128-GCM-SHA256
gtls "$CAUTH" "$G:-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:+AES-128-GCM" --insecure \
    --x509certfile "$W/ec.crt" --x509keyfile "$W/ec.key"
# wrong key: Finished fails
ossl "$PLAIN" PSK-AES128-CCM8 -psk_identity Client_identity -psk 1102030405060708090a0b0c0d0e0f10
# retransmissions and reordering through a lossy relay
for seed in 3 4; do
    rm -f "$W/relay.port"
    "$RELAY" --listen 0 --port-file "$W/relay.port" --to "127.0.0.1:$PLAIN" --loss 0.3 \
        --reorder 0.3 --dup 0.3 --seed $seed >"$W/relay-$seed.out" 2>&1 &
    RP=$!
    PIDS="$PIDS $RP"
    i=0
    while [ ! -s "$W/relay.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    ossl "$(cat "$W/relay.port")" ECDHE-ECDSA-AES128-GCM-SHA256
    # shellcheck disable=SC2086
    ossl "$(cat "$W/relay.port")" PSK-AES128-CCM8 $PSK
    kill $RP 2>/dev/null || true
done

# Stop the drivers: sessions still open are captured at shutdown.
for p in $PIDS; do kill "$p" 2>/dev/null || true; done
for p in $PIDS; do wait "$p" 2>/dev/null || true; done
PIDS=""
rm -f "$OUT"/det-*.bin
n=0
for kind in plain cauth; do
    for f in "$W/cap-$kind"/*.bin; do
        [ -e "$f" ] || continue
        # hs-PID-ID-TAG.bin -> det-KIND-ID-TAG.bin
        base=$(basename "$f" .bin | cut -d- -f3-)
        cp "$f" "$OUT/det-$kind-$base.bin"
        n=$((n + 1))
    done
done
grep -c '^ESTABLISHED' "$W/plain.log" "$W/cauth.log" || true
echo "recorded $n seeds into $OUT"
