#!/bin/sh
# The emulator's AWS IoT control plane (api-server.py, docs/emulator-cli.md) as the AWS CLI sees
# it: the route of every operation against the botocore model that Debian's awscli ships, the
# SigV4 form check and AWS's error shapes, every operation and its documented errors through the
# CLI's own botocore (api-check.py, one process: seconds), then real `aws` commands: an error as
# the CLI prints it, an unsigned request, pages by marker, and ob-emu-admin reading what the CLI
# made.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
[ "${1:-}" = --inside ] || exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
. "$top_srcdir/tests/integration/cli-lib.sh"
admin=$top_srcdir/tests/emulator/ob-emu-admin

/usr/bin/python3 "$top_srcdir/tests/emulator/api-check.py" "$OB_EMU_API_URL" "$OB_ROOT_CA" \
  "$OB_WORLD_DIR" || fail=1

out=$(aws iot describe-thing --thing-name no-such-thing 2>&1)
[ $? = 254 ] && echo "$out" | grep -q "An error occurred (ResourceNotFoundException) when calling the DescribeThing operation: Thing no-such-thing cannot be found" &&
  ok "aws: an error as the CLI prints it (exit 254): $out" || bad "describe-thing: $out"
out=$(aws --no-sign-request iot list-things 2>&1)
[ $? = 254 ] && echo "$out" | grep -q "(MissingAuthenticationTokenException).*Missing Authentication Token" &&
  ok "aws --no-sign-request: $out" || bad "unsigned: $out"
# (the CLI does not page by itself here: list-certificates has its own pageSize parameter)
p1=$(aws iot list-certificates --page-size 1 2>&1)
m=$(printf '%s\n' "$p1" | jq -r .nextMarker)
p2=$(aws iot list-certificates --page-size 1 --marker "$m" 2>&1)
ids=$(printf '%s\n%s\n' "$p1" "$p2" | jq -r '.certificates[].certificateId' | sort -u | wc -l)
[ "$ids" = 2 ] && ok "aws iot list-certificates --page-size 1, then --marker: two pages, two certificates" ||
  bad "list-certificates pages: $p1 / $p2"
cli "aws iot create-thing" aws iot create-thing --thing-name made-by-the-cli \
  --attribute-payload '{"attributes": {"line": "7"}}'
"$admin" list-things | jq -e '."made-by-the-cli".attributes.line == "7"' >/dev/null &&
  ok "ob-emu-admin list-things sees it" || bad "ob-emu-admin: $("$admin" list-things)"
cli "aws iot create-job" aws iot create-job --job-id made-by-the-cli \
  --targets arn:aws:iot:us-east-1:123456789012:thing/made-by-the-cli --document '{"operation": "report"}'
"$admin" describe-job-execution made-by-the-cli made-by-the-cli | jq -e '.status == "QUEUED" and .versionNumber == 1' >/dev/null &&
  ok "ob-emu-admin describe-job-execution sees its QUEUED execution" || bad "ob-emu-admin: $("$admin" list-jobs)"

exit $fail
