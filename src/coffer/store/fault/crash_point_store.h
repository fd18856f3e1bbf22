// CrashPointStore: kills the process at a chosen mutating storage call, for the crash-consistency
// harness (tests/reliability). Only test builds have it (CMake option COFFER_CRASH_POINTS), and
// then only when the environment asks for it:
//   COFFER_CRASH_COUNT=FILE  at exit, appends the number of mutating calls (put, remove) the
//                            process made, over every store it opened, to FILE
//   COFFER_CRASH_AT=N        SIGKILLs the process at the Nth mutating call (1-based), as
//   COFFER_CRASH_MODE=       before (the default): the call never reaches the store
//                            after: the call completed, its caller never saw the result
//                            torn: a power cut mid-write: for a local store, half the object is
//                            left in a temporary file beside it (what an unsynced write leaves)
// The count is process-wide, so a command that opens several stores (mirror) is numbered as a
// whole. Thread-safe.
#pragma once

#include <memory>

#include "coffer/store/store.h"

namespace coffer::store {

// Wraps inner when COFFER_CRASH_AT or COFFER_CRASH_COUNT is set; returns inner otherwise.
std::shared_ptr<Store> with_crash_points(std::shared_ptr<Store> inner);

}  // namespace coffer::store
