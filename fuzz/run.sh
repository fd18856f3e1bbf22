#!/usr/bin/env bash
# fuzz/run.sh [SECONDS_PER_TARGET]: configures and builds the fuzz preset when needed, makes the
# seed corpus (fuzz/make_corpus.sh), runs every fuzz target for SECONDS_PER_TARGET seconds
# (default 10) and prints, per target, the executions from libFuzzer's final "Done N runs" line.
# Exits non-zero if any target crashed (crash, sanitizer report, invariant violation, timeout,
# out of memory), printing the input libFuzzer saved for it.
#
# Environment:
#   COFFER_FUZZ_BUILD_DIR  build directory (default build/fuzz, the fuzz preset's)
#   COFFER_FUZZ_WORK_DIR   corpora, logs and crash inputs (default <build dir>/fuzz-work); the
#                          corpus of each target grows there from run to run
#   COFFER_FUZZ_JOBS       build parallelism (default: the number of cores)
#   COFFER_FUZZ_TARGETS    space-separated subset of targets to run (default: all)
set -uo pipefail

secs=${1:-10}
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 1)); then
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build=${COFFER_FUZZ_BUILD_DIR:-$root/build/fuzz}
build=$(mkdir -p "$build" && cd "$build" && pwd)
work=${COFFER_FUZZ_WORK_DIR:-$build/fuzz-work}
jobs=${COFFER_FUZZ_JOBS:-$(nproc)}

if [[ ! -f $build/build.ninja ]]; then
    echo "== configuring the fuzz preset in $build"
    (cd "$root" && cmake --preset fuzz -B "$build") >"$build/fuzz-configure.log" 2>&1 || {
        cat "$build/fuzz-configure.log" >&2
        echo "run.sh: configure failed" >&2
        exit 2
    }
fi
echo "== building the fuzz targets ($jobs jobs)"
if ! cmake --build "$build" -j "$jobs" --target fuzzers >"$build/fuzz-build.log" 2>&1; then
    tail -40 "$build/fuzz-build.log" >&2
    echo "run.sh: build failed (full log: $build/fuzz-build.log)" >&2
    exit 2
fi

echo "== making the seed corpus"
rm -rf "$work/seeds"
mkdir -p "$work/seeds" "$work/corpus" "$work/logs" "$work/artifacts"
if ! COFFER_FUZZ_BUILD_DIR=$build bash "$root/fuzz/make_corpus.sh" "$work/seeds"; then
    echo "run.sh: making the corpus failed" >&2
    exit 2
fi

read -r -a targets <<<"${COFFER_FUZZ_TARGETS:-$(tr '\n' ' ' <"$build/fuzz/targets.txt")}"
# Targets that write files get a scratch TMPDIR, on tmpfs when there is one (fsync is free).
scratch_base=/dev/shm
[[ -d $scratch_base && -w $scratch_base ]] || scratch_base=$work
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== running ${#targets[@]} targets for ${secs}s each"
failed=()
results=()
for t in "${targets[@]}"; do
    bin=$build/fuzz/$t
    if [[ ! -x $bin ]]; then
        results+=("$(printf '%-20s %s' "$t" "MISSING ($bin)")")
        failed+=("$t")
        continue
    fi
    mkdir -p "$work/corpus/$t" "$work/seeds/$t"
    log=$work/logs/$t.log
    dict=()
    [[ -f $work/seeds/$t.dict ]] && dict=(-dict="$work/seeds/$t.dict")
    tmp=$(mktemp -d "$scratch_base/coffer-fuzz-$t.XXXXXX")
    TMPDIR=$tmp "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" "${dict[@]}" \
        "$work/corpus/$t" "$work/seeds/$t" >"$log" 2>&1
    rc=$?
    rm -rf "$tmp"
    runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -1 | awk '{print $2}')
    [[ -n $runs ]] || runs=$(grep -Eo 'number_of_executed_units: [0-9]+' "$log" | tail -1 |
        awk '{print $2}')
    corpus=$(find "$work/corpus/$t" -type f | wc -l)
    if ((rc == 0)) && grep -q 'Done [0-9]* runs' "$log"; then
        line=$(printf '%-20s %10s runs   corpus %5s' "$t" "${runs:-?}" "$corpus")
        echo "$line"
        results+=("$line")
    else
        artifact=$(grep -Eo 'Test unit written to .*' "$log" | tail -1 | sed 's/^Test unit written to //')
        what=$(grep -Em1 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|INVARIANT VIOLATED' "$log" |
            sed 's/^ *//' | cut -c1-160)
        line=$(printf '%-20s %10s runs   CRASHED (exit %s): %s\n%22sinput: %s\n%22slog:   %s' \
            "$t" "${runs:-?}" "$rc" "${what:-see log}" "" "${artifact:-none written}" "" "$log")
        echo "$line"
        results+=("$line")
        failed+=("$t")
    fi
done

echo
echo "== summary (${secs}s per target; logs in $work/logs)"
printf '%s\n' "${results[@]}"
if ((${#failed[@]})); then
    echo "== ${#failed[@]} target(s) failed: ${failed[*]}"
    echo "   reproduce: <build>/fuzz/<target> <input>"
    exit 1
fi
echo "== all ${#targets[@]} targets ran clean"
