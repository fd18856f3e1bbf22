// Canonical JSON (RFC 8785, the JSON Canonicalization Scheme) for audit log entries.
//
// The output is what ECMAScript's JSON.stringify prints after sorting every object's members by
// the UTF-16 code units of their names: no whitespace; strings with only \" \\ \b \f \n \r \t and
// \u00xx (lowercase hex, for the other characters below U+0020) escaped and everything else,
// non-ASCII included, as raw UTF-8. Two values that are equal as JSON give the same bytes, so an
// entry can be hashed and signed as bytes and checked later by re-serializing what was parsed.
// The output never contains a raw newline, so one entry is one line of an NDJSON file.
//
// Numbers: only integers in [-2^53, 2^53] are accepted, printed in decimal. Audit entries carry no
// floats, and refusing them spares us RFC 8785's ECMAScript double formatting; the bound keeps
// every accepted value exact in any JSON implementation that reads numbers as doubles.
//
// Failure (Code::invalid_argument, naming the JSON path): a float or an out-of-range integer,
// a string or member name that is not valid UTF-8 (overlong forms, surrogates, code points above
// U+10FFFF), binary values, or nesting deeper than k_max_depth. Free function; thread-safe.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "coffer/util/status.h"

namespace coffer::audit {

// Arrays and objects nested deeper than this are refused rather than recursed into.
constexpr int k_max_depth = 64;

Result<std::string> canonical_json(const nlohmann::json& value);

}  // namespace coffer::audit
