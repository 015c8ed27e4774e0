#!/usr/bin/env bash
# The test world: a private, throw-away "gateway + cloud" on loopback.
#
#   world.sh start DIR      bring up a world in DIR (created if missing), write DIR/world.env
#   world.sh stop DIR       tear it down (kills only the PIDs this world started)
#   world.sh run -- CMD...  start a world in a fresh temp dir, run CMD with world.env exported,
#                           tear down (also on failure or signal), exit with CMD's status
#
# Parts: swtpm (TPM 2.0 simulator) behind tpm2-abrmd on a private D-Bus session bus, a test PKI
# (server root standing in for Amazon Root CA 1, device-maker CA, claim CA + claim certificate,
# issuer CA), mosquitto with a TLS listener that requires client certificates, and the AWS IoT
# Core emulator plugin when it is built. The variables are listed in docs/testing.md.
#
# Exit status of start/run when the world cannot come up: 77 (skip) when a required program is
# missing and OB_REQUIRE_WORLD is not 1; otherwise 99 (hard error), with the failing log shown.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
WAIT_SECONDS=${OB_WORLD_WAIT:-20}

die() { echo "world: $*" >&2; exit 99; }

need() {
  local missing=""
  for p in "$@"; do command -v "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  [ -z "$missing" ] && return 0
  if [ "${OB_REQUIRE_WORLD:-0}" = 1 ]; then
    die "missing programs:$missing (run build-aux/install-deps)"
  fi
  echo "world: SKIP: missing programs:$missing (run build-aux/install-deps)" >&2
  exit 77
}

free_port() { # two consecutive free ports when $1 = 2
  # below the kernel's ephemeral range: a port checked free there can be taken a moment later
  # by any outgoing connection's local port (a CI run failed on mosquitto's "Address already
  # in use" so), one below it only by another test picking the same number
  python3 - "${1:-1}" <<'PY'
import socket, sys, random
n = int(sys.argv[1])
try:
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    lo = 0
hi = lo - n - 1 if lo > 12000 + n else 60000
for _ in range(200):
    base = random.randint(10000 if hi < 60000 else 20000, hi)
    socks = []
    try:
        for i in range(n):
            s = socket.socket(); s.bind(("127.0.0.1", base + i)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}

wait_for() { # description, log file, command...
  local what=$1 log=$2; shift 2
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "world: $what did not come up within ${WAIT_SECONDS}s; last lines of $log:" >&2
      tail -n 20 "$log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.05
  done
}

pki() { # DIR
  local d=$1
  mkdir -p "$d"
  local days=3650
  ossl() { openssl "$@" 2>>"$d/openssl.log"; }
  mkkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; chmod 600 "$1"; }
  mkca() { # name subject [issuer]
    mkkey "$d/$1.key"
    if [ -z "${3:-}" ]; then
      ossl req -new -x509 -key "$d/$1.key" -subj "$2" -days $days -out "$d/$1.crt" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    fi
  }
  leaf() { # name subject ca ext...
    local name=$1 subj=$2 ca=$3; shift 3
    mkkey "$d/$name.key"
    ossl req -new -key "$d/$name.key" -subj "$subj" -out "$d/$name.csr"
    printf '%s\n' "$@" >"$d/$name.ext"
    ossl x509 -req -in "$d/$name.csr" -CA "$d/$ca.crt" -CAkey "$d/$ca.key" -CAcreateserial \
      -days $days -extfile "$d/$name.ext" -out "$d/$name.crt"
  }
  mkca root "/O=onboard-agent test world/CN=Test Root CA (Amazon Root CA 1 stand-in)"
  leaf server "/CN=localhost" root "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    "extendedKeyUsage=serverAuth" "basicConstraints=CA:FALSE"
  mkca device-ca "/O=Acme Devices/CN=Acme Device CA"
  mkca claim-ca "/O=Acme Devices/CN=Acme Claim CA"
  # AWS's issuer name and RSA key (docs/emulator.md, "Issued certificates")
  if ! /usr/bin/python3 "$here/../emulator/aws-issuer-ca.py" "$d/issuer-ca.crt" "$d/issuer-ca.key" \
    2>>"$d/openssl.log"; then
    echo "world: no python3-cryptography (build-aux/install-deps): issuer CA without AWS's name" >&2
    mkca issuer-ca "/O=onboard-agent test world/CN=Test IoT Issuing CA"
  fi
  leaf claim "/O=Acme Devices/CN=claim-batch-1" claim-ca "extendedKeyUsage=clientAuth" \
    "basicConstraints=CA:FALSE"
  cat "$d/device-ca.crt" "$d/claim-ca.crt" "$d/issuer-ca.crt" >"$d/client-cas.pem"
}

start() {
  local d=$1
  need swtpm tpm2-abrmd dbus-daemon mosquitto mosquitto_pub openssl tpm2_getrandom python3
  mkdir -p "$d"
  d=$(cd "$d" && pwd)
  local t0; t0=$(date +%s%N)
  : >"$d/pids"

  # ---- TPM: swtpm + private D-Bus + tpm2-abrmd
  local tport
  tport=$(free_port 2)
  mkdir -p "$d/tpm"
  swtpm socket --tpm2 --daemon --pid "file=$d/swtpm.pid" --tpmstate "dir=$d/tpm" \
    --server "type=tcp,port=$tport,bindaddr=127.0.0.1" \
    --ctrl "type=tcp,port=$((tport + 1)),bindaddr=127.0.0.1" \
    --flags not-need-init,startup-clear --log "file=$d/swtpm.log,level=1" ||
    die "swtpm failed to start; see $d/swtpm.log"
  echo "$(cat "$d/swtpm.pid")" >>"$d/pids"

  dbus-daemon --session --address="unix:path=$d/bus" --fork --print-pid >"$d/dbus.pid" ||
    die "dbus-daemon failed to start"
  echo "$(cat "$d/dbus.pid")" >>"$d/pids"
  export DBUS_SESSION_BUS_ADDRESS="unix:path=$d/bus"

  local busname="com.intel.tss2.Tabrmd.ob$$x$RANDOM"
  tpm2-abrmd --session --allow-root --dbus-name="$busname" \
    --tcti="swtpm:host=127.0.0.1,port=$tport" >"$d/abrmd.log" 2>&1 &
  echo $! >>"$d/pids"
  local tcti="tabrmd:bus_name=$busname,bus_type=session"
  wait_for "tpm2-abrmd" "$d/abrmd.log" tpm2_getrandom -T "$tcti" 4 || die "TPM not reachable"

  # ---- PKI
  pki "$d/pki"
  local p="$d/pki"

  # ---- emulator hook (contract: tests/emulator/world-hook.sh)
  local plugin="${OB_EMULATOR_PLUGIN:-$top_builddir/tests/emulator/.libs/ob_emulator.so}"
  local hook="$top_srcdir/tests/emulator/world-hook.sh"
  local emulator=0 hook_out=""

  local mport
  mport=$(free_port 1)
  cat >"$d/world.env" <<ENV
export OB_WORLD_DIR='$d'
export OB_TCTI='$tcti'
export DBUS_SESSION_BUS_ADDRESS='unix:path=$d/bus'
export OB_SWTPM_PORT=$tport
export OB_SWTPM_CTRL_PORT=$((tport + 1))
export OB_MQTT_HOST=localhost
export OB_MQTT_PORT=$mport
export OB_PKI_DIR='$p'
export OB_ROOT_CA='$p/root.crt'
export OB_SERVER_CERT='$p/server.crt'
export OB_SERVER_KEY='$p/server.key'
export OB_DEVICE_CA_CERT='$p/device-ca.crt'
export OB_DEVICE_CA_KEY='$p/device-ca.key'
export OB_CLAIM_CA_CERT='$p/claim-ca.crt'
export OB_CLAIM_CA_KEY='$p/claim-ca.key'
export OB_CLAIM_CERT='$p/claim.crt'
export OB_CLAIM_KEY='$p/claim.key'
export OB_ISSUER_CA_CERT='$p/issuer-ca.crt'
export OB_ISSUER_CA_KEY='$p/issuer-ca.key'
export OB_MOSQ_CONF='$d/mosquitto.conf'
export OB_MOSQ_LOG='$d/mosquitto.log'
export OB_MOSQ_PID='$d/mosquitto.pid'
export OB_SWTPM_LOG='$d/swtpm.log'
export OB_ABRMD_LOG='$d/abrmd.log'
ENV
  if [ -f "$plugin" ] && [ -x "$hook" ]; then
    # shellcheck disable=SC1091
    hook_out=$(set -a; . "$d/world.env"; OB_EMULATOR_PLUGIN="$plugin" "$hook") ||
      die "emulator hook $hook failed"
    emulator=1
  fi
  echo "export OB_EMULATOR=$emulator" >>"$d/world.env"
  printf '%s\n' "$hook_out" | sed -n 's/^#ENV \([A-Za-z_][A-Za-z0-9_]*\)=\(.*\)$/export \1='"'"'\2'"'"'/p' \
    >>"$d/world.env"

  # ---- mosquitto
  {
    echo "pid_file $d/mosquitto.pid"
    echo "log_dest file $d/mosquitto.log"
    echo "log_type error"
    echo "log_type warning"
    echo "log_type notice"
    echo "log_type information"
    # OB_WORLD_MOSQ_DEBUG=1: every packet (Received SUBSCRIBE from ID, ...), for tests that count them
    [ "${OB_WORLD_MOSQ_DEBUG:-}" = 1 ] && echo "log_type debug"
    echo "persistence false"
    [ "$(id -u)" = 0 ] && echo "user root"   # else mosquitto drops to its own user and cannot write here
    echo "allow_anonymous true"
    printf '%s\n' "$hook_out" | grep -v -e '^#ENV ' -e '^#LISTENER ' || true
    echo "listener $mport 127.0.0.1"
    echo "certfile $p/server.crt"
    echo "keyfile $p/server.key"
    echo "cafile $p/client-cas.pem"
    echo "require_certificate true"
    # the hook's listener options (the emulator's capath: CAs registered at run time)
    printf '%s\n' "$hook_out" | sed -n 's/^#LISTENER //p'
    echo "tls_version tlsv1.2"
  } >"$d/mosquitto.conf"
  : >"$d/mosquitto.log"
  # a plugin built with sanitizers needs their runtimes in the (uninstrumented) broker
  local preload=""
  if [ "$emulator" = 1 ] && ldd "$plugin" 2>/dev/null | grep -q libasan; then
    preload="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
  fi
  LD_PRELOAD="$preload" \
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}:log_path=$d/sanitizer" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}:log_path=$d/sanitizer" \
    mosquitto -c "$d/mosquitto.conf" -d || die "mosquitto failed to start; see $d/mosquitto.log"
  wait_for "mosquitto pid file" "$d/mosquitto.log" test -s "$d/mosquitto.pid" ||
    die "mosquitto did not start"
  echo "$(cat "$d/mosquitto.pid")" >>"$d/pids"
  wait_for "mosquitto TLS listener" "$d/mosquitto.log" \
    mosquitto_pub -h localhost -p "$mport" --cafile "$p/root.crt" --cert "$p/claim.crt" \
    --key "$p/claim.key" -i "world-probe-$$" -t world/probe -m up -q 0 ||
    { cat "$d"/sanitizer.* 2>/dev/null >&2; die "mosquitto not reachable over TLS"; }

  echo "world: up in $(( ($(date +%s%N) - t0) / 1000000 )) ms at $d (TPM $tcti, MQTT localhost:$mport, emulator $emulator)" >&2
}

stop() {
  local d=$1
  [ -f "$d/pids" ] || return 0
  # reverse order: mosquitto, abrmd, dbus, swtpm
  tac "$d/pids" | while read -r pid; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  local deadline=$((SECONDS + 5))
  while read -r pid; do
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done <"$d/pids"
  rm -f "$d/pids"
  # stragglers the list missed (a broker a test restarted with -d before its pid file was
  # rewritten, a daemon a failed check left running): anything still naming this world's folder
  local left p
  left=$(pgrep -f -- "$d/" | grep -vx -e "$$" -e "${BASHPID:-$$}" || true)
  if [ -n "$left" ]; then
    echo "world: stopping $(echo $left | wc -w) process(es) left in $d: $(for p in $left; do tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | cut -c1-60; echo; done | sed '/^$/d' | paste -sd ';')" >&2
    kill $left 2>/dev/null || true
    sleep 0.3
    kill -9 $left 2>/dev/null || true
  fi
}

# archive DIR NAME: with OB_WORLD_LOGS set, keep the world's logs (every *.log: the daemons',
# mosquitto's, swtpm's, abrmd's) in OB_WORLD_LOGS/NAME.PID/ with secrets.lst, the strings that
# must never appear in a log: every ownership token the emulator issued and the body lines of
# every private key in the world (PKI, claims, device keys, TSS2 blobs). The suite's last test,
# tests/hygiene/test-secrets.sh, scans all logs for them.
archive() {
  local d=$1 out
  [ -n "${OB_WORLD_LOGS:-}" ] || return 0
  out=$OB_WORLD_LOGS/$2.$$
  mkdir -p "$out" || return 0
  (cd "$d" && find . -name '*.log' -type f) | while read -r f; do
    mkdir -p "$out/$(dirname "$f")" && cp "$d/$f" "$out/$f"
  done
  {
    cat "$d/emulator/state/issued-tokens" 2>/dev/null
    grep -rlI -e '-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----' --exclude='*.log' "$d" 2>/dev/null |
      while read -r k; do sed -n '/-----BEGIN/,/-----END/{/-----/d;p}' "$k"; done
  } | awk 'length($0) >= 16' | sort -u >"$out/secrets.lst"
}

case "${1:-}" in
start)
  [ $# -eq 2 ] || die "usage: world.sh start DIR"
  start "$2"
  ;;
stop)
  [ $# -eq 2 ] || die "usage: world.sh stop DIR"
  stop "$2"
  ;;
run)
  shift
  [ "${1:-}" = "--" ] && shift
  [ $# -ge 1 ] || die "usage: world.sh run -- CMD [ARGS...]"
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ob-world.XXXXXX")
  name=$(basename "$1")
  for a in "$@"; do case $a in *.sh) name=$(basename "$a"); break ;; esac; done
  cleanup() {
    stop "$dir"
    archive "$dir" "$name"
    if [ "${OB_WORLD_KEEP:-0}" = 1 ]; then echo "world: kept $dir" >&2; else rm -rf "$dir"; fi
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  set +e
  (start "$dir")
  rc=$?
  if [ $rc -ne 0 ]; then exit $rc; fi
  (
    set -a
    # shellcheck disable=SC1091
    . "$dir/world.env"
    set +a
    "$@"
  )
  rc=$?
  exit $rc
  ;;
*)
  echo "usage: world.sh start DIR | stop DIR | run -- CMD [ARGS...]" >&2
  exit 64
  ;;
esac
