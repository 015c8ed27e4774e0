#!/bin/sh
# A sample of the crash campaign for make check (docs/testing.md, "Crash campaign"): about 40
# SIGKILLs at seeded random moments of onboarding and rotation, software keys, two worlds in
# parallel, the flow durations of tests/integration/crash-times.txt (not measured again). The
# seed is printed; CRASH_SEED=N repeats the plan. The full campaign (1000 kills,
# TPM share): make check-crash.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
command -v bash >/dev/null || { echo "# SKIP: needs bash"; exit 77; }
CRASH_KILLS=${CRASH_KILLS:-40} CRASH_JOBS=${CRASH_JOBS:-2} \
  CRASH_TPM_SHARE=${CRASH_TPM_SHARE:-0} \
  CRASH_TIMES=${CRASH_TIMES:-$top_srcdir/tests/integration/crash-times.txt} \
  exec bash "$top_srcdir/tests/integration/crash-campaign.sh"
