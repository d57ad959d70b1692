#!/bin/sh
# Installs the Debian 12 packages dtlsgw needs to build, test and run.
# Idempotent: does nothing when every package is already installed.
# dpdk-dev ships /usr/bin/dpdk-telemetry.py (the e2e telemetry test uses it);
# dpdk ships /usr/bin/dpdk-pdump (capture on DPDK ports, the e2e capture test).
set -eu
PKGS="meson ninja-build pkg-config gcc clang libclang-rt-14-dev
libdpdk-dev dpdk dpdk-dev libipsec-mb-dev libssl-dev openssl libcunit1-dev libyaml-dev libjansson-dev
gnutls-bin libcoap3-bin libmbedtls-dev iproute2 iputils-ping ethtool procps python3 clang-format"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing$missing"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
