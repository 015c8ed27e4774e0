#!/bin/sh
# Build and run the libFuzzer targets of tests/fuzz/ (docs/testing.md, "Fuzzing").
#
#   fuzz.sh build            compile the targets into $FUZZ_OUT
#   fuzz.sh run SECONDS      build, then fuzz each target for SECONDS
#   fuzz.sh check SECONDS    build, replay every seed of every target, then fuzz each for SECONDS
#
# Called by tests/fuzz/local.mk, which passes (environment):
#   top_srcdir, FUZZ_OUT        source tree; output directory (build/fuzz)
#   FUZZ_TARGETS                names: target T is tests/fuzz/fuzz-T.c with seeds in corpus/T/
#   FUZZ_SOURCES                sources (relative to top_srcdir) the targets link; *.c are built
#   FUZZ_CC, FUZZ_CPPFLAGS, FUZZ_LIBS, FUZZ_JOBS
#
# Everything is compiled here with clang, independently of the compiler the tree is configured
# with. Seeds are never written to: new inputs go to $FUZZ_OUT/corpus/T, crashes to
# $FUZZ_OUT/artifacts/. Exit status: 0 all passed, 1 a target crashed or broke an invariant,
# 77 (check only) clang with libFuzzer is not available.
set -eu

mode=${1:?usage: fuzz.sh build|run SECONDS|check SECONDS}
seconds=${2:-60}
src=${top_srcdir:?}
out=${FUZZ_OUT:?}
cc=${FUZZ_CC:-clang}
jobs=${FUZZ_JOBS:-2}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-g -O1 -fno-omit-frame-pointer -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
-Wno-missing-field-initializers -Wmissing-prototypes -Werror $san"

# ---------------------------------------------------------------- toolchain
have_libfuzzer()
{
        command -v "$cc" >/dev/null 2>&1 || return 1
        mkdir -p "$out"
        printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
                'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }' \
                >"$out/probe.c"
        "$cc" -fsanitize=fuzzer,address,undefined "$out/probe.c" -o "$out/probe" \
                >"$out/probe.log" 2>&1
}

if ! have_libfuzzer; then
        msg="clang with libFuzzer not found (CC=$cc; Debian: apt-get install clang libclang-rt-14-dev)"
        if [ "$mode" = check ]; then
                echo "SKIP: check-fuzz: $msg"
                exit 77
        fi
        echo "fuzz: $msg" >&2
        exit 1
fi

# ---------------------------------------------------------------- build
# An object is rebuilt when it is missing, older than any file its dependency list names, or
# the flags changed.
stale()
{
        obj=$1 dep=$2
        [ -f "$obj" ] && [ -f "$dep" ] || return 0
        for f in $(sed -e 's/\\$//' -e 's/^[^:]*://' "$dep"); do
                [ "$f" -nt "$obj" ] && return 0
        done
        return 1
}

compile()
{
        # compile SRC OBJ [sanitizer flags]; eval: FUZZ_CPPFLAGS holds make-quoted -D\"...\"
        eval "\"\$cc\" \$cflags \$3 $FUZZ_CPPFLAGS -I\"\$src/tests/fuzz\" -MMD -MF \"\$2.d\"" \
                '-c "$1" -o "$2"'
}

build()
{
        mkdir -p "$out/obj"
        flags="$cc $cflags $FUZZ_CPPFLAGS $FUZZ_LIBS"
        if [ "$(cat "$out/flags" 2>/dev/null)" != "$flags" ]; then
                rm -f "$out"/obj/* "$out"/libfuzz.a
                echo "$flags" >"$out/flags"
        fi
        # library objects (instrumented for coverage and sanitizers, without libFuzzer's main)
        objs="" n=0 changed=0
        for s in $FUZZ_SOURCES; do
                case $s in *.c) ;; *) continue ;; esac
                o="$out/obj/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')"
                objs="$objs $o"
                if stale "$o" "$o.d"; then
                        echo "  CC (fuzz) $s"
                        rm -f "$o"
                        compile "$src/$s" "$o" -fsanitize=fuzzer-no-link &
                        changed=1 n=$((n + 1))
                        if [ "$n" -ge "$jobs" ]; then
                                wait
                                n=0
                        fi
                fi
        done
        wait
        for o in $objs; do
                [ -f "$o" ] || { echo "fuzz: failed to compile $o" >&2; exit 1; }
        done
        if [ "$changed" = 1 ] || [ ! -f "$out/libfuzz.a" ]; then
                rm -f "$out/libfuzz.a"
                ar rcs "$out/libfuzz.a" $objs
        fi
        # targets
        for t in $FUZZ_TARGETS; do
                o="$out/obj/fuzz-$t.o"
                if stale "$o" "$o.d" || [ "$out/libfuzz.a" -nt "$out/fuzz-$t" ]; then
                        echo "  CCLD (fuzz) fuzz-$t"
                        compile "$src/tests/fuzz/fuzz-$t.c" "$o" -fsanitize=fuzzer-no-link
                        "$cc" $san -fsanitize=fuzzer "$o" "$out/libfuzz.a" $FUZZ_LIBS \
                                -o "$out/fuzz-$t"
                fi
        done
}

# ---------------------------------------------------------------- run
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

stat_of()
{
        sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

failed=""

# Replay every seed once (the regression part: fixed findings live in the seed folders).
replay()
{
        t=$1 seeds="$src/tests/fuzz/corpus/$t"
        log="$out/logs/$t.replay.log"
        files=$(find "$seeds" -type f 2>/dev/null | sort)
        if [ -z "$files" ]; then
                printf '%-16s no seeds in %s\n' "$t" "$seeds"
                failed="$failed $t"
                return
        fi
        # shellcheck disable=SC2086
        if "$out/fuzz-$t" -error_exitcode=1 $files >"$log" 2>&1; then
                printf '%-16s replayed %s seeds\n' "$t" "$(echo "$files" | wc -l)"
        else
                printf '%-16s REPLAY FAILED (log: %s)\n' "$t" "$log"
                tail -n 30 "$log"
                failed="$failed $t"
        fi
}

# Fuzz one target; the result line goes to $out/logs/T.result (targets run in parallel).
fuzz_one()
{
        t=$1 seeds="$src/tests/fuzz/corpus/$t"
        log="$out/logs/$t.log"
        dict=""
        [ -f "$src/tests/fuzz/fuzz-$t.dict" ] && dict="-dict=$src/tests/fuzz/fuzz-$t.dict"
        mkdir -p "$out/corpus/$t" "$out/artifacts"
        # shellcheck disable=SC2086
        if "$out/fuzz-$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
                -error_exitcode=1 -artifact_prefix="$out/artifacts/$t-" $dict \
                "$out/corpus/$t" "$seeds" >"$log" 2>&1; then
                res=ok
        else
                res=FAILED
        fi
        {
                printf '%-16s %12s %10s %8s %8s  %s\n' "$t" \
                        "$(stat_of number_of_executed_units "$log")" \
                        "$(stat_of average_exec_per_sec "$log")" \
                        "$(stat_of new_units_added "$log")" "$(ls "$out/corpus/$t" | wc -l)" "$res"
                if [ "$res" = FAILED ]; then
                        grep -E 'ERROR:|runtime error:|invariant broken|Test unit written' \
                                "$log" | head -n 5
                        echo "  (log: $log)"
                fi
        } >"$out/logs/$t.result"
}

build
mkdir -p "$out/logs"
case $mode in
build) exit 0 ;;
check)
        for t in $FUZZ_TARGETS; do
                replay "$t"
        done
        ;;
run) ;;
*)
        echo "fuzz.sh: unknown mode $mode" >&2
        exit 2
        ;;
esac
echo "fuzzing each target for ${seconds} s, $jobs at a time (logs: $out/logs)"
printf '%-16s %12s %10s %8s %8s  %s\n' target execs exec/s new corpus result
n=0
for t in $FUZZ_TARGETS; do
        rm -f "$out/logs/$t.result"
        fuzz_one "$t" &
        n=$((n + 1))
        if [ "$n" -ge "$jobs" ]; then
                wait
                n=0
        fi
done
wait
for t in $FUZZ_TARGETS; do
        cat "$out/logs/$t.result"
        grep -q ' ok$' "$out/logs/$t.result" || failed="$failed $t"
done
if [ -n "$failed" ]; then
        echo "fuzz: FAILED:$failed (reproduce: $out/fuzz-T ARTIFACT; after the fix, add the" \
                "input to tests/fuzz/corpus/T/)"
        exit 1
fi
echo "fuzz: all targets passed"
