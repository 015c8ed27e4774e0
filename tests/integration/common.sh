# Shared helpers for integration tests that run inside the test world (sourced, POSIX sh).
# Counts failures in $fail; a test ends with `exit $fail`.
fail=0
ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; fail=1; }

# expect DESCRIPTION SUBSTRING CMD...: CMD must fail and its output contain SUBSTRING
expect() {
  what=$1 want=$2
  shift 2
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -ne 0 ] && echo "$out" | grep -q -- "$want"; then ok "$what"; else bad "$what: rc=$rc: $out"; fi
}

# cert_id CERT: the IoT Core certificate id (SHA-256 of the DER, lower-case hex)
cert_id() {
  openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f
}

# register_cert CERT: the emulator, like IoT Core, only lets registered certificates in;
# register CERT as ACTIVE with an allow-all policy (no-op without the emulator).
register_cert() {
  [ "${OB_EMULATOR:-0}" = 1 ] || return 0
  admin="$top_srcdir/tests/emulator/ob-emu-admin"
  "$admin" register-cert "$1" ACTIVE >/dev/null && "$admin" attach-policy "$(cert_id "$1")" AllowAll >/dev/null
}

# sign_device_csr CSR OUT: a device certificate from the device maker's CA
sign_device_csr() {
  openssl x509 -req -in "$1" -CA "$OB_DEVICE_CA_CERT" -CAkey "$OB_DEVICE_CA_KEY" -CAcreateserial \
    -days 1 -out "$2" 2>/dev/null
}
