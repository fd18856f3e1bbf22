// Named crash steps for the crash-consistency harness (tests/reliability): in a test build
// (CMake option COFFER_CRASH_POINTS), crash_step("x") SIGKILLs the process when the environment
// has COFFER_CRASH_STEP=x. It marks the moments between two steps of a multi-step change that
// no storage call separates (store/fault/crash_point_store.h covers those), such as a restore's
// rename into place and its removal of what the old file left. In other builds it does nothing.
#pragma once

namespace coffer {

void crash_step(const char* name);

}  // namespace coffer
