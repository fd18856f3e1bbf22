#!/usr/bin/env bash
# The test suite again under AddressSanitizer and UndefinedBehaviorSanitizer (build/asan), then
# the backup pipeline's and the daemon's tests under ThreadSanitizer (build/tsan). Any report
# fails the run. scripts/test.sh calls it after the main run, with the test servers still up
# (COFFER_TEST_* in the environment); run alone, the tests that need a server fail or skip.
# Then, with "fuzz", a short run of every fuzz target (fuzz/run.sh).
# Usage: scripts/test-sanitizers.sh [asan|tsan|fuzz]...   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
which=("$@")
[[ ${#which[@]} -gt 0 ]] || which=(asan tsan fuzz)

for s in "${which[@]}"; do
  case $s in
  asan)
    cmake --preset asan >/dev/null
    cmake --build --preset asan -j "$jobs"
    # Leaks count too; a UBSan report stops the process (-fno-sanitize-recover) with a trace.
    # verify_asan_link_order=0: fiu-run preloads its library ahead of the ASan runtime.
    # COFFER_CRASH_ONE_MODE=1: the crash tests kill at every call in one mode, not all three (the
    # main run has all three; tests/reliability/crash_modes.h), which halves this stage.
    COFFER_CRASH_ONE_MODE=1 \
    ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:verify_asan_link_order=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --preset asan -j "$jobs" --timeout 1200
    ;;
  tsan)
    cmake --preset tsan >/dev/null
    cmake --build --preset tsan -j "$jobs" --target backup_test server_test
    for t in build/tsan/tests/backup/backup_test build/tsan/tests/server/server_test; do
      echo "tsan: $t"
      TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "$t" --gtest_brief=1
    done
    ;;
  fuzz)
    # Every libFuzzer target (clang, ASan+UBSan; the fuzz preset in build/fuzz) for
    # COFFER_FUZZ_SECONDS (default 5) on its generated seed corpus; longer runs: fuzz/run.sh N.
    COFFER_FUZZ_JOBS=$jobs bash fuzz/run.sh "${COFFER_FUZZ_SECONDS:-5}"
    ;;
  *)
    echo "usage: $0 [asan|tsan|fuzz]..." >&2
    exit 2
    ;;
  esac
done
