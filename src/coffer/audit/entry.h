// The audit entry schema (coffer.audit.entry/v1), shared by the writer and the verifier so that
// both accept exactly the same entries.
//
// An entry is one JSON object, stored as its canonical bytes (jcs.h) without a trailing newline;
// those bytes are the Merkle leaf. Members, all required unless noted:
//   schema   "coffer.audit.entry/v1"
//   origin   the log's origin (non-empty string; also the checkpoints' first line)
//   index    the entry's 0-based position in the log
//   time     RFC 3339 UTC, "2024-05-01T12:00:00Z", optionally with 1-9 fractional digits
//   actor    who acted (non-empty string)
//   host     where (string)
//   action   what (non-empty string, e.g. "backup.run", "audit.key.activate")
//   target   on what (string, may be empty)
//   outcome  "ok" | "failed" | "refused" | "started"
//   error    optional string
//   details  object, free-form except for the key actions:
//     audit.key.activate  {"key": "<verifier key string>", ...}  outcome must be "ok"
//     audit.key.retire    {"key_id": "<8 lowercase hex>", ...}   outcome must be "ok"
// Any other member is refused, so v1 readers never silently skip a field they do not know.
//
// Errors are Code::invalid_argument with a one-line message naming the field. Free functions;
// thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "coffer/audit/note.h"
#include "coffer/util/status.h"

namespace coffer::audit {

inline constexpr std::string_view k_entry_schema = "coffer.audit.entry/v1";
inline constexpr std::string_view k_action_key_activate = "audit.key.activate";
inline constexpr std::string_view k_action_key_retire = "audit.key.retire";

// A point in time as an entry spells it: seconds since the Unix epoch plus nanoseconds.
struct EntryTime {
    int64_t seconds = 0;
    uint32_t nanos = 0;
    auto operator<=>(const EntryTime&) const = default;
};

// Strict RFC 3339 in UTC ('T' and 'Z' upper case, no offsets, no leap second 60).
Result<EntryTime> parse_entry_time(std::string_view text);
// "2024-05-01T12:00:00.123Z": millisecond precision, what the writer should put in `time`.
std::string format_entry_time(std::chrono::system_clock::time_point t);

// The fields the verifier needs, read from an entry that passed the schema check.
struct EntryFields {
    std::string origin;
    uint64_t index = 0;
    EntryTime time;
    std::string action;
    std::string outcome;
    Verifier activated_key;       // for audit.key.activate
    uint32_t retired_key_id = 0;  // for audit.key.retire
};

// Checks an entry against the schema.
Result<EntryFields> check_entry(const nlohmann::json& entry);

// Checks fields against the schema and returns their canonical bytes: the leaf to append (the
// caller adds the newline of its NDJSON file). Adds nothing: the caller sets every field,
// origin and index included.
Result<std::string> encode_entry(const nlohmann::json& fields);

}  // namespace coffer::audit
