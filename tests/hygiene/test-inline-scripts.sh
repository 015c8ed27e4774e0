#!/bin/sh
# Tests whose body is one single-quoted script (`world.sh run -- sh -c '...'`, `bash -c '...'`)
# end where the quote ends: an apostrophe inside the body ("don't") closes it early, the rest of
# the file becomes arguments nobody runs, and the test passes having run a fraction of its
# checks (test-transport.sh ran 6 of 35 that way, test-tpm-key.sh 2 of 64 for a while). This
# check parses each such script as the shell would (python3 shlex, POSIX rules) and fails when
# the quoted body ends anywhere but on a line of its own that starts with the closing quote
# (optionally followed by the command's trailing arguments).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
fail=0 n=0
for f in "$top_srcdir"/tests/integration/*.sh "$top_srcdir"/tests/system/*.sh; do
  [ -f "$f" ] || continue
  grep -qE "(sh|bash) -c '\$" "$f" || continue
  n=$((n + 1))
  if out=$(python3 - "$f" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
lines = text.split("\n")
for i, line in enumerate(lines):
    if not re.search(r"(sh|bash) -c '$", line):
        continue
    # inside single quotes nothing is special: the body ends at the next apostrophe
    start = sum(len(l) + 1 for l in lines[:i]) + len(line) - 1
    j = text.index("'", start + 1)
    end_line = text.count("\n", 0, j) + 1
    closing = lines[end_line - 1].strip()
    if not re.match(r"^'( [^']*)?$", closing):
        print(f"{path}:{end_line}: the single-quoted script that starts on line {i + 1} ends "
              f"here, inside a line ({closing[:60]!r}): an apostrophe in the script? Write it "
              "without one")
        sys.exit(1)
    print(f"{path}: the script of line {i + 1} ends on line {end_line}")
PY
  ); then
    echo "ok - ${f#"$top_srcdir"/}: $(echo "$out" | sed 's/.*: //' | tr '\n' ' ')"
  else
    echo "FAIL - $out"
    fail=1
  fi
done
[ "$n" -gt 0 ] || { echo "# SKIP: no test with an inline script found under $top_srcdir/tests"; exit 77; }
exit $fail
