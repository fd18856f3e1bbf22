// Retention policy: which snapshots of a set to keep, as restic's `forget --keep-*` decides.
//
// Pure: no I/O, no clock. plan() sees only the snapshots it is given, so "within 30d" is measured
// from the newest snapshot of each group, never from now: if backups stop, retention does not
// purge the history they left. The newest snapshot of every group is always kept, so a policy can
// never empty a set. Calendar buckets (hour, day, ISO-8601 week, month, year) are in UTC, so the
// same snapshots give the same plan on every host. The ordering rules that turn a plan into
// deletions (snapshot objects first, then prune) live with the caller, not here.
//
// Plain values and free functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coffer/util/status.h"

namespace coffer::retention {

// Each rule is optional; an unset rule takes no part. A count of 0 is a set rule that keeps
// nothing (the newest snapshot is still kept).
struct Policy {
    std::optional<uint32_t> keep_last;     // the N newest snapshots
    std::optional<uint32_t> keep_hourly;   // the newest of each of the last N hours with one
    std::optional<uint32_t> keep_daily;    // ... calendar days (UTC)
    std::optional<uint32_t> keep_weekly;   // ... ISO-8601 weeks (Monday to Sunday, UTC)
    std::optional<uint32_t> keep_monthly;  // ... calendar months (UTC)
    std::optional<uint32_t> keep_yearly;   // ... calendar years (UTC)
    std::optional<int64_t> keep_within_s;  // every snapshot less than this many seconds older
                                           // than the group's newest; must not be negative

    // True when no rule is set at all.
    bool empty() const;
    // The set rules as the CLI spells them, in the order last, within, hourly, daily, weekly,
    // monthly, yearly: "keep-last 3, keep-within 30d, keep-daily 7". "" when empty().
    std::string describe() const;
};

struct Candidate {
    std::string id;
    int64_t time_ns = 0;  // nanoseconds since the Unix epoch, UTC
    std::string group;    // snapshots are planned per group, each group on its own
};

struct Decision {
    std::string id;
    std::string group;
    int64_t time_ns = 0;
    bool keep = false;
    // Every rule that keeps this snapshot, in the order "newest", "last N", "within D",
    // "hourly 2026-11-30T14", "daily 2026-11-30", "weekly 2026-W49", "monthly 2026-11",
    // "yearly 2026". Empty exactly when keep is false.
    std::vector<std::string> reasons;
};

// Decides, per group independently, which snapshots to keep. Within a group snapshots are ordered
// newest first, equal times by id (ascending), and then:
//   - keep-last N keeps the first N;
//   - keep-hourly/daily/weekly/monthly/yearly N walks that order and keeps the first snapshot of
//     each new bucket until N buckets have been kept (empty buckets do not count);
//   - keep-within D keeps every snapshot whose time is after (newest - D); one exactly D older
//     than the newest is not kept, as in restic;
//   - the newest snapshot (the first) is always kept.
// Unlike restic since 0.16, the oldest snapshot is not kept additionally when a rule has buckets
// left over.
// Returns one Decision per candidate, ordered by group (byte order), then as above.
// Code::invalid_argument when policy.empty() (a plan that keeps only the newest is never what
// an unconfigured caller meant) or keep_within_s is negative. No candidates: an empty plan.
Result<std::vector<Decision>> plan(const std::vector<Candidate>& snapshots, const Policy& policy);

// "30s", "15m", "1h", "7d", "2w", "1h30m" (units w, d, h, m, s, largest first, each at most
// once) -> seconds. Code::invalid_argument otherwise, or when it does not fit in an int64_t.
Result<int64_t> parse_duration(std::string_view text);

// The inverse of parse_duration for seconds >= 0: units largest first, zero parts left out, and
// the whole days written as weeks only when they are a whole number of weeks, so that a month
// reads as "30d", not "4w2d":
// 45 -> "45s", 5400 -> "1h30m", 2592000 -> "30d", 1209600 -> "2w", 0 -> "0s". A negative value
// is formatted as "-" and its magnitude (parse_duration does not accept it).
std::string format_duration(int64_t seconds);

}  // namespace coffer::retention
