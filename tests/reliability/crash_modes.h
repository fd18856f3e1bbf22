// Which ways to kill a process at one mutating call. Normally every mode at every call; under
// COFFER_CRASH_ONE_MODE=1 (the sanitizer run, where each trial costs several times as much and
// the point is memory errors, not crash coverage, which the main run has) one mode per call,
// taken in turn, so every call is still killed at and every mode still used.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

namespace coffer::e2e {

inline std::vector<std::string> crash_modes_at(int at, const std::vector<std::string>& modes) {
    const char* one = std::getenv("COFFER_CRASH_ONE_MODE");
    if (!one || std::string(one) != "1") return modes;
    return {modes[static_cast<size_t>(at) % modes.size()]};
}

}  // namespace coffer::e2e
