// A guard for the repository's JSON objects (snapshot manifests, tombstones, the repository
// config, lock objects), which are read with nlohmann's integer conversions: converting a
// floating-point value outside the target's range (1e30 where an int64 is expected) is undefined
// behaviour, so a document holding one is refused before any field is read. Found by fuzzing
// (docs/reliability.md).
#pragma once

#include <cmath>

#include <nlohmann/json.hpp>

namespace coffer::repo {

// False when any floating-point number in j (recursively) is not finite or lies outside the
// range of int64 (every integer field coffer reads fits in it or in uint32).
inline bool numbers_fit(const nlohmann::json& j) {
    if (j.is_number_float()) {
        double v = j.get<double>();
        return std::isfinite(v) && v > -9.2e18 && v < 9.2e18;
    }
    if (j.is_structured())
        for (const auto& e : j)
            if (!numbers_fit(e)) return false;
    return true;
}

}  // namespace coffer::repo
