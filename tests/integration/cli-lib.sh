# The real AWS CLI against the emulator's control plane (docs/emulator-cli.md), for tests that
# run inside the test world (sourced after common.sh). `aws iot ...` then reads as in AWS's
# documentation: the endpoint, the world's root CA and the region are added here, the
# credentials are test values (the emulator checks the form of the SigV4 signature, not the
# secret), and no AWS configuration file is read.
AWS_CLI=${AWS_CLI:-/usr/bin/aws}
if [ ! -x "$AWS_CLI" ]; then
  echo "# SKIP: $AWS_CLI not found: the Debian package awscli (build-aux/install-deps)"
  exit 77
fi
if [ -z "${OB_EMU_API_URL:-}" ]; then
  echo "# SKIP: the emulator's control plane is not running (OB_EMU_API_URL unset)"
  exit 77
fi
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=
export AWS_EC2_METADATA_DISABLED=true AWS_CLI_AUTO_PROMPT=off
aws() {
  "$AWS_CLI" --endpoint-url "$OB_EMU_API_URL" --ca-bundle "$OB_ROOT_CA" --region us-east-1 \
    --output json "$@"
}
ARN_PREFIX=arn:aws:iot:us-east-1:123456789012

# cli WHAT CMD...: run CMD (an `aws ...` command), ok/bad by its exit status; its output in $out
cli() {
  _what=$1
  shift
  out=$("$@" 2>&1)
  _rc=$?
  if [ $_rc -eq 0 ]; then ok "$_what"; else bad "$_what: rc=$_rc: $out"; fi
  return $_rc
}

# device_ca NAME SUBJECT [ISSUER_NAME]: a CA in $OB_WORLD_DIR/NAME.{crt,key} (self-signed, or
# signed by ISSUER_NAME's key: OB_DEVICE_CA for the world's device-maker CA)
device_ca() {
  _d=$OB_WORLD_DIR
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$_d/$1.key" 2>/dev/null
  printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$_d/$1.ext"
  if [ "${3:-}" = OB_DEVICE_CA ]; then
    openssl req -new -key "$_d/$1.key" -subj "$2" -out "$_d/$1.csr" 2>/dev/null &&
      openssl x509 -req -in "$_d/$1.csr" -CA "$OB_DEVICE_CA_CERT" -CAkey "$OB_DEVICE_CA_KEY" \
        -CAcreateserial -days 30 -extfile "$_d/$1.ext" -out "$_d/$1.crt" 2>/dev/null
  else
    openssl req -new -x509 -key "$_d/$1.key" -subj "$2" -days 30 \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out "$_d/$1.crt" 2>/dev/null
  fi
}

# verification_cert CA CODE: AWS's proof of possession for RegisterCACertificate, a certificate
# with CN = the registration code signed by the CA's key ($OB_WORLD_DIR/CA-verification.crt)
verification_cert() {
  _d=$OB_WORLD_DIR
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$_d/$1-verification.key" -out "$_d/$1-verification.csr" 2>/dev/null &&
    openssl x509 -req -in "$_d/$1-verification.csr" -CA "$_d/$1.crt" -CAkey "$_d/$1.key" \
      -CAcreateserial -days 1 -out "$_d/$1-verification.crt" 2>/dev/null
}
