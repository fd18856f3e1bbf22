// Internal to coffer_config: validation of a parsed coffer.toml tree against the schema in
// config.h. Not installed; include only from src/coffer/config/*.cpp.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>
#include <vector>

#include "coffer/config/config.h"

namespace coffer::config::detail {

// Walks the tree, returning what it could read and appending every problem found (unordered).
// The result is meaningful only when no problem was added.
Config check(const toml::table& root, std::vector<Problem>& problems);

// A value fit to quote in a message: control characters replaced, long text shortened.
std::string shown(std::string_view text);

// Optimal string alignment distance (Levenshtein plus adjacent swaps): "dns" -> "dsn" is 1.
size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace coffer::config::detail
