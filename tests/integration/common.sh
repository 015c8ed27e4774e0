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

# getcap_tpm_info: "MANUFACTURER FIRMWARE" from tpm2-tools in this world (tpm2_getcap
# properties-fixed): TPM2_PT_MANUFACTURER's value, quotes and padding dropped; the firmware as
# the four 16-bit parts of the raw TPM2_PT_FIRMWARE_VERSION_1 and _2 (docs/shadow.md, "tpm")
getcap_tpm_info() {
  set -- $(tpm2_getcap -T "$OB_TCTI" properties-fixed | awk '
    /^TPM2_PT_/ { p = $1 }
    p == "TPM2_PT_MANUFACTURER:" && $1 == "value:" { m = $0; sub(/^ *value: *"/, "", m); sub(/ *"$/, "", m) }
    p == "TPM2_PT_FIRMWARE_VERSION_1:" && $1 == "raw:" { f1 = $2 }
    p == "TPM2_PT_FIRMWARE_VERSION_2:" && $1 == "raw:" { f2 = $2 }
    END { if (m != "" && f1 != "" && f2 != "") print m, f1, f2 }')
  [ $# = 3 ] || return 1
  echo "$1 $(($2 >> 16)).$(($2 & 65535)).$(($3 >> 16)).$(($3 & 65535))"
}
