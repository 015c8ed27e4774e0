#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The benchmarks (docs/performance.md), run by `make bench`; not part of `make check`.
#   tests/bench/run.sh [P1 P2 P3 P4 P5 P6]     (default: all)
# P4 needs only the build tree; P1, P2, P3, P6 share one test world; P5 gets its own (it
# changes the emulator's throttles). Knobs: OB_BENCH_RUNS (P1 runs, 5), OB_BENCH_IDLE_SECONDS
# (P2 window, 60), OB_BENCH_STARTS (P6 starts, 20), OB_BENCH_RELOADS and
# OB_BENCH_RELOAD_BATCHES (P7: 3 batches of 1000 SIGHUPs), OB_BENCH_AGENTS (P5 N, 200),
# OB_BENCH_RATE (P5 R, requests/s per API, 20), OB_BENCH_THROTTLED_CAP (P5 agents'
# retry.throttled.cap, default: the shipped one).
# Every figure is printed as one line "Pn key=value ..."; lines starting with # are comments.
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
here=$top_srcdir/tests/bench
py=/usr/bin/python3
want=${*:-P1 P2 P3 P4 P5 P6 P7}
has() { case " $want " in *" $1 "*) return 0 ;; esac; return 1; }

[ -x "$top_builddir/onboard-agent" ] || { echo "# SKIP: onboard-agent not built (needs libsystemd)"; exit 77; }
$py -c 'import paho.mqtt' 2>/dev/null || { echo "# SKIP: python3-paho-mqtt missing (P1's floor)"; exit 77; }
echo "# onboard-agent benchmarks on $(uname -m), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$top_srcdir" describe --always --dirty 2>/dev/null || echo unknown)"

has P4 && "$here/p4-size.sh"

if has P1 || has P2 || has P3 || has P6 || has P7; then
  "$top_srcdir/tests/world/world.sh" run -- sh -c '
    set -e
    case " $1 " in *" P1 "*) '"$py"' "$2/p1-onboard.py" -v ;; esac
    case " $1 " in *" P3 "*) '"$py"' "$2/p3-memory.py" -v --tcti device-like
                               '"$py"' "$2/p3-memory.py" -v --tcti abrmd ;; esac
    case " $1 " in *" P6 "*) '"$py"' "$2/p6-startup.py" -n "${OB_BENCH_STARTS:-20}"
                               '"$py"' "$2/p6-startup.py" -n "${OB_BENCH_STARTS:-20}" --backend software ;; esac
    case " $1 " in *" P2 "*) '"$py"' "$2/p2-idle.py" -s "${OB_BENCH_IDLE_SECONDS:-60}" ;; esac
    case " $1 " in *" P7 "*) '"$py"' "$2/p7-reload.py"
                               '"$py"' "$2/p7-reload.py" --tcti device-like ;; esac
  ' sh "$want" "$here"
fi

if has P5; then
  "$top_srcdir/tests/world/world.sh" run -- $py "$here/p5-fleet.py" \
    ${OB_BENCH_THROTTLED_CAP:+--throttled-cap "$OB_BENCH_THROTTLED_CAP"}
fi
