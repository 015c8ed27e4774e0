#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Stand-in for tests/world/world.sh while it does not exist: makes a small PKI, starts mosquitto
# with the emulator plugin on a free loopback port, writes DIR/world.env.
#   mini-world.sh start DIR | stop DIR
set -eu
cmd=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
builddir=${top_builddir:-$here/../../build}

if [ "$cmd" = stop ]; then
        [ -f "$dir/mosquitto.pid" ] && kill "$(cat "$dir/mosquitto.pid")" 2>/dev/null || true
        exit 0
fi

mkdir -p "$dir/pki"
p=$dir/pki
ca() { # name cn
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=$2" \
                -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
                -keyout "$p/$1.key" -out "$p/$1.crt" 2>/dev/null
}
leaf() { # name ca cn [ext]
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
                -keyout "$p/$1.key" -out "$p/$1.csr" 2>/dev/null
        printf '%s\n' "${4:-extendedKeyUsage=clientAuth}" >"$p/$1.ext"
        openssl x509 -req -in "$p/$1.csr" -CA "$p/$2.crt" -CAkey "$p/$2.key" -CAcreateserial -days 30 \
                -extfile "$p/$1.ext" -out "$p/$1.crt" 2>/dev/null
}
ca root "Test Amazon Root CA 1"
ca device-ca "Device Maker CA"
ca claim-ca "Claim CA"
ca issuer-ca "Emulator Issuing CA"
leaf server root localhost "subjectAltName=DNS:localhost,IP:127.0.0.1"
leaf claim claim-ca "claim-1"
cat "$p/device-ca.crt" "$p/claim-ca.crt" "$p/issuer-ca.crt" >"$p/client-cas.pem"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export OB_WORLD_DIR=$dir OB_CLAIM_CA_CERT=$p/claim-ca.crt OB_CLAIM_CA_KEY=$p/claim-ca.key \
        OB_CLAIM_CERT=$p/claim.crt OB_DEVICE_CA_CERT=$p/device-ca.crt OB_ISSUER_CA_CERT=$p/issuer-ca.crt \
        OB_ISSUER_CA_KEY=$p/issuer-ca.key OB_EMULATOR_PLUGIN=${OB_EMULATOR_PLUGIN:-$builddir/tests/emulator/.libs/ob_emulator.so}
{
        echo "per_listener_settings false"
        echo "user $(id -un)"
        echo "log_dest file $dir/mosquitto.log"
        echo "log_type all"
        echo "pid_file $dir/mosquitto.pid"
        echo "listener $port 127.0.0.1"
        echo "cafile $p/client-cas.pem"
        echo "certfile $p/server.crt"
        echo "keyfile $p/server.key"
        echo "require_certificate true"
        sh "$here/world-hook.sh" | grep -v '^#ENV'
} >"$dir/mosquitto.conf"
{
        echo "export OB_WORLD_DIR=$dir OB_MQTT_HOST=localhost OB_MQTT_PORT=$port OB_PKI_DIR=$p"
        echo "export OB_ROOT_CA=$p/root.crt OB_CLAIM_CERT=$p/claim.crt OB_CLAIM_KEY=$p/claim.key"
        echo "export OB_DEVICE_CA_CERT=$p/device-ca.crt OB_DEVICE_CA_KEY=$p/device-ca.key"
        echo "export OB_CLAIM_CA_CERT=$p/claim-ca.crt OB_CLAIM_CA_KEY=$p/claim-ca.key"
        echo "export OB_ISSUER_CA_CERT=$p/issuer-ca.crt OB_ISSUER_CA_KEY=$p/issuer-ca.key"
        echo "export OB_MOSQ_CONF=$dir/mosquitto.conf OB_MOSQ_LOG=$dir/mosquitto.log OB_MOSQ_PID=$dir/mosquitto.pid"
        echo "export OB_EMULATOR=1"
        sh "$here/world-hook.sh" | sed -n 's/^#ENV /export /p'
} >"$dir/world.env"
# A sanitizer build of the plugin needs the ASan runtime loaded first into mosquitto.
if ldd "$OB_EMULATOR_PLUGIN" 2>/dev/null | grep -q libasan; then
        LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
                mosquitto -d -c "$dir/mosquitto.conf"
else
        mosquitto -d -c "$dir/mosquitto.conf"
fi
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        [ -s "$dir/mosquitto.pid" ] && grep -q "Opening ipv4 listen socket on port $port" "$dir/mosquitto.log" 2>/dev/null && exit 0
        sleep 0.1
done
echo "mini-world: mosquitto did not start" >&2
cat "$dir/mosquitto.log" >&2
exit 1
