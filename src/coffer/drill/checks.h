// The checks a set declares for its drills ([[set.drill_check]]), run against the scratch
// restore: an SQL query with an expected result, a command that must succeed (the scratch
// targets in its environment), an HTTP GET that must answer a status. Each result is one line
// naming the check; a check that cannot run is a failed check, not an error.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coffer/config/config.h"
#include "coffer/util/bytes.h"

namespace coffer::drill {

struct Scratch {
    std::string dir;                               // the scratch directory
    std::map<std::string, std::string> databases;  // postgres source -> scratch database
    std::map<std::string, std::string> prefixes;   // s3 source -> "s3:..." scratch prefix
};

struct CheckResult {
    std::string name;
    bool ok = false;
    std::string detail;
};

// The environment a command check gets: COFFER_DRILL_DIR, and per source
// COFFER_DRILL_<SOURCE>_DSN (postgres: libpq conninfo without the password, which is in
// PGPASSWORD), COFFER_DRILL_<SOURCE>_URL (s3 with a drill_url: the scratch prefix) or
// COFFER_DRILL_<SOURCE>_PATH (everything else). Source names upper-cased, with
// anything but letters and digits as '_'.
std::vector<std::string> scratch_environment(const config::SetConfig& set, const Scratch& s);

// "[op] value" against a result: numbers compare as numbers, anything else as text (= and !=).
bool expectation_met(const std::string& expect, const std::string& result, std::string& why);

// What a decrypt check's key file must be (crypto::key_from_text), for messages.
inline constexpr std::string_view k_key_formats =
    "holds no 32-byte key (raw, 64 hex digits or base64)";

std::vector<CheckResult> run_checks(const config::SetConfig& set, const Scratch& scratch);

}  // namespace coffer::drill
