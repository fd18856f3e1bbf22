// The checks a set declares for its drills ([[set.drill_check]]), run against the scratch
// restore: an SQL query with an expected result, a command that must succeed (the scratch
// targets in its environment), an HTTP GET that must answer a status. Each result is one line
// naming the check; a check that cannot run is a failed check, not an error.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "coffer/config/config.h"

namespace coffer::drill {

struct Scratch {
    std::string dir;                               // the scratch directory
    std::map<std::string, std::string> databases;  // postgres source -> scratch database
};

struct CheckResult {
    std::string name;
    bool ok = false;
    std::string detail;
};

// The environment a command check gets: COFFER_DRILL_DIR, and per source
// COFFER_DRILL_<SOURCE>_DSN (postgres: libpq conninfo without the password, which is in
// PGPASSWORD) or COFFER_DRILL_<SOURCE>_PATH (everything else). Source names upper-cased, with
// anything but letters and digits as '_'.
std::vector<std::string> scratch_environment(const config::SetConfig& set, const Scratch& s);

// "[op] value" against a result: numbers compare as numbers, anything else as text (= and !=).
bool expectation_met(const std::string& expect, const std::string& result, std::string& why);

std::vector<CheckResult> run_checks(const config::SetConfig& set, const Scratch& scratch);

}  // namespace coffer::drill
