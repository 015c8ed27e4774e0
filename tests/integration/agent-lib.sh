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
