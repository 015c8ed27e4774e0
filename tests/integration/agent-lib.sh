# Helpers for tests that run onboard-agent against the test world (sourced after common.sh).
# A gateway NAME lives in $OB_WORLD_DIR/gw-NAME (config.json, state/, run/, agent.log, pid).
agent=$top_builddir/onboard-agent
ctl=$top_builddir/agentctl
admin=$top_srcdir/tests/emulator/ob-emu-admin

# start NAME [ENV=VALUE...]: the daemon in the background (stderr logging)
start() {
  n=$1; shift
  g=$OB_WORLD_DIR/gw-$n
  env "$@" "$agent" --config "$g/config.json" --log-level debug >>"$g/agent.log" 2>&1 &
  echo $! >"$g/pid"
}
stop() {
  g=$OB_WORLD_DIR/gw-$1
  pid=$(cat "$g/pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -f "$g/pid"
}
st() { "$ctl" --config "$OB_WORLD_DIR/gw-$1/config.json" --json status 2>/dev/null; }
# wait_for NAME JQ_EXPR [SECONDS] [dead-ok]: until the status JSON satisfies the expression
# (gives up early when the daemon died, unless dead-ok)
wait_for() {
  i=0 lim=$(( ${3:-20} * 10 ))
  while [ $i -lt $lim ]; do
    st "$1" | jq -e "$2" >/dev/null 2>&1 && return 0
    pid=$(cat "$OB_WORLD_DIR/gw-$1/pid" 2>/dev/null)
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && [ "${4:-}" != dead-ok ] && return 1
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
log_tail() { sed 's/^/#   /' "$OB_WORLD_DIR/gw-$1/agent.log" | tail -${2:-15}; }
# want SECTION: run a section unless OB_TEST_CASES (space-separated) names others
want() { [ -z "${OB_TEST_CASES:-}" ] || case " $OB_TEST_CASES " in *" $1 "*) ;; *) return 1 ;; esac; }

# retry_all BASE CAP: the retry members of a config with every class at BASE and CAP
retry_all() {
  printf '"network": { "base": %s, "cap": %s }, "rejected": { "base": %s, "cap": %s },\n' "$1" "$2" "$1" "$2"
  printf '             "throttled": { "base": %s, "cap": %s }, "tls": { "base": %s, "cap": %s },\n' "$1" "$2" "$1" "$2"
  printf '             "timeout": { "base": %s, "cap": %s }, "refused": { "base": %s, "cap": %s }' "$1" "$2" "$1" "$2"
}

# gw_config NAME [KEY=VALUE...]: the gateway directory $OB_WORLD_DIR/gw-NAME (in $g) with its
# serial file and a config.json for the test world: the endpoint, the claim flow (fleet-claim,
# OnboardTemplate, the claim certificate), a TPM key, retry caps of 2 s. Each KEY changes a
# part (JSON text where it names members):
#   serial=SN (SN-NAME-$$)  host=  port=  root_ca=  ct= st= (connect/step_timeout, 5)
#   endpoint=MEMBERS (added)  method=M  template=T  provisioning=MEMBERS (added to the claim
#   flow's)  prov=MEMBERS (instead of the claim flow's)  identity=MEMBERS (added)  backend=B
#   tpm=MEMBERS (added)  retry=MEMBERS (instead)  top=MEMBERS (more sections)
# A gateway without check-ins (docs/shadow.md), for tests whose subject needs it idle after
# onboarding: gw_config NAME top="$NO_CHECKINS"
NO_CHECKINS='"jobs": { "poll_interval_minutes": 0 }, "shadow": { "report": false }'

gw_config() {
  g=$OB_WORLD_DIR/gw-$1
  _serial=SN-$1-$$ _host=$OB_MQTT_HOST _port=$OB_MQTT_PORT _ca=$OB_ROOT_CA _ct=5 _st=5 _ep=""
  _method=fleet-claim _tmpl=OnboardTemplate _pextra="" _prov="" _id="" _be=tpm _tpm=""
  _retry=$(retry_all 1 2) _top=""
  shift
  for _kv in "$@"; do
    case $_kv in
      serial=*) _serial=${_kv#*=} ;; host=*) _host=${_kv#*=} ;; port=*) _port=${_kv#*=} ;;
      root_ca=*) _ca=${_kv#*=} ;; ct=*) _ct=${_kv#*=} ;; st=*) _st=${_kv#*=} ;;
      endpoint=*) _ep=${_kv#*=} ;; method=*) _method=${_kv#*=} ;; template=*) _tmpl=${_kv#*=} ;;
      provisioning=*) _pextra=${_kv#*=} ;; prov=*) _prov=${_kv#*=} ;; identity=*) _id=${_kv#*=} ;;
      backend=*) _be=${_kv#*=} ;; tpm=*) _tpm=${_kv#*=} ;; retry=*) _retry=${_kv#*=} ;;
      top=*) _top=${_kv#*=} ;;
      *) echo "gw_config: unknown $_kv" >&2; return 1 ;;
    esac
  done
  [ -n "$_prov" ] || _prov="\"method\": \"$_method\", \"template\": \"$_tmpl\",
                    \"claim_cert\": \"$OB_CLAIM_CERT\", \"claim_key\": \"$OB_CLAIM_KEY\""
  mkdir -p "$g"
  echo "$_serial" >"$g/serial"
  cat >"$g/config.json" <<JSON
{
  "endpoint": { "host": "$_host", "port": $_port, "root_ca": "$_ca",
                "connect_timeout": $_ct, "step_timeout": $_st${_ep:+, $_ep} },
  "provisioning": { $_prov${_pextra:+, $_pextra} },
  "identity": { "serial_sources": ["file:$g/serial"]${_id:+, $_id} },
  "key": { "backend": "$_be" },
  "tpm": { "tcti": "$OB_TCTI"${_tpm:+, $_tpm} },
  "retry": { $_retry },${_top:+
  $_top,}
  "paths": { "state_dir": "$g/state", "runtime_dir": "$g/run" }
}
JSON
}

# device_policy: the cloud side of rotation (docs/rotation.md): a device's own certificate may
# call the provisioning API for itself and the template re-registers the same thing
# (DevicePolicy in the emulator, tests/emulator/world-hook.sh: the same statements, the thing's
# own jobs and onboard-agent shadow topics included). 0, or the admin tool's failure.
device_policy() {
  cat >"$OB_WORLD_DIR/device-policy.json" <<'JSON'
{ "Version": "2012-10-17", "Statement": [
  { "Effect": "Allow", "Action": "iot:Connect",
    "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}" },
  { "Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [
      "arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/*",
      "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*",
      "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/name/onboard-agent/*",
      "arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create-from-csr/*",
      "arn:aws:iot:us-east-1:123456789012:topic/$aws/provisioning-templates/OnboardTemplate/provision/*" ] },
  { "Effect": "Allow", "Action": "iot:Subscribe", "Resource": [
      "arn:aws:iot:us-east-1:123456789012:topicfilter/things/${iot:Connection.Thing.ThingName}/*",
      "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*",
      "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/name/onboard-agent/*",
      "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create-from-csr/*",
      "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/provisioning-templates/OnboardTemplate/provision/*" ] } ] }
JSON
  "$admin" put-policy DevicePolicy "$OB_WORLD_DIR/device-policy.json" >/dev/null
}

# active_certs THING: ACTIVE certificates attached to the thing in the emulator's registry
active_certs() {
  jq --arg t "$1" '[.certificates | to_entries[] | select(.value.status == "ACTIVE") |
                    select((.value.things // []) | index($t))] | length' \
    "$OB_EMULATOR_STATE_DIR/registry.json"
}
