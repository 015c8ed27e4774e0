#!/bin/sh
# The bash completion of agentctl: commands (from 'agentctl help'), subcommands, options, and
# the check ids after --skip, which must be exactly the ids 'agentctl check' reports.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
command -v bash >/dev/null || { echo "# SKIP: no bash"; exit 77; }
command -v jq >/dev/null || { echo "# SKIP: no jq"; exit 77; }
export top_srcdir top_builddir
exec bash -c '
. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/config/agentctl.bash-completion"
ctl=$top_builddir/agentctl
# complete WORDS...: COMPREPLY for the last word, space-separated and sorted
complete_words() {
  COMP_WORDS=("$ctl" "$@"); COMP_CWORD=$#
  _agentctl
  printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"
}
expect_completion() {
  what=$1 want=$2; shift 2
  got=$(complete_words "$@")
  [ "$got" = "$want" ] && ok "$what: $got" || bad "$what: want \"$want\", got \"$got\""
}
expect_completion "a command" "check config" c
expect_completion "the factory command" "factory" f
expect_completion "config subcommands" "check keys show" config ""
expect_completion "check options" "--json --skip" check --
expect_completion "ids after --skip" "tcp tls tls-provider tpm" check --skip t
expect_completion "ids after a global option" "claim-cert clock cloud" --config /x check --skip cl
expect_completion "global options" "--config" --co
expect_completion "factory subcommands" "csr install-cert status" factory ""
expect_completion "factory csr options" "--json --out --subject" factory csr --
expect_completion "help options" "--json" help --
expect_completion "factory install-cert options" "--cert --chain --force --json" factory install-cert --
expect_completion "factory status options" "--json" factory status --
expect_completion "a file after --cert" "$top_srcdir/configure.ac" factory install-cert --cert "$top_srcdir/configure.a"
# the completion knows every id agentctl check reports, and no other
ids=$("$ctl" --config /nonexistent check --json | jq -r "[.checks[].id] | join(\" \")")
[ "$ids" = "$_agentctl_check_ids" ] && ok "check ids agree with agentctl check" ||
  bad "ids: agentctl check has \"$ids\", the completion \"$_agentctl_check_ids\""
exit $fail
'
