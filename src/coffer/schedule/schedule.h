// When a set's backup runs: a cron expression or a fixed interval, in a time zone.
//
// A Schedule is parsed once and then answers one question, next_after(t): the first firing
// instant strictly after t. It reads no clock (the caller passes t, so tests and the daemon's
// catch-up logic inject time by passing it) and does no I/O after parse, which reads the
// system's tzdata (/usr/share/zoneinfo) for any zone other than "UTC".
//
// Forms:
//   - cron, 5 fields "minute hour day-of-month month day-of-week", Vixie cron syntax: "*", lists
//     "a,b", ranges "a-b", steps "*/n" and "a-b/n" (n from 1 to the field's span), month names
//     jan..dec and day names sun..sat (case-insensitive, also in ranges), day-of-week 0-7 with 0
//     and 7 both Sunday. As in Vixie cron, a day field is "restricted" when it does not start
//     with '*': when both day fields are restricted a day matches if EITHER matches
//     ("0 0 1 * mon": the 1st and every Monday); otherwise both must match.
//     Minute resolution: cron forms fire at second 0.
//   - @hourly, @daily (= @midnight), @weekly (Sunday 00:00), @monthly, @yearly (= @annually).
//   - "@every <duration>" ("30s", "1h30m": retention::parse_duration, at least 1s, at most
//     36500d): fires at every multiple of the interval since the Unix epoch, whatever the zone.
//
// Cron fields are matched against wall-clock time in the schedule's zone. Daylight saving:
//   - a local time that does not exist (the spring-forward gap, e.g. 02:30 on 2026-03-29 in
//     Europe/Berlin) fires once, at the instant the gap ends (the transition, 03:00 local), as
//     Vixie cron runs the jobs of a skipped hour right after it. Several times in one gap
//     ("*/15 * * * *") fire together, once;
//   - a local time that happens twice (fall-back, 02:00-03:00 on 2026-10-25 in Europe/Berlin)
//     fires once, at its first occurrence. So "*/15 * * * *" pauses during the repeated hour;
//     use @every for a fixed real-time interval.
// Offsets come from the explicit transitions in the tzdata files. Debian's end in 2037 (the
// library does not read the files' POSIX rule for later years), so from 2038 on a zone keeps its
// last offset: standard time, no DST.
//
// parse() rejects an expression that can never fire ("0 0 31 2 *"): it searches a whole
// 400-year Gregorian cycle, after which the calendar (weekdays included) repeats, so every
// accepted expression fires at least once in any 400 years and next_after always terminates.
//
// Immutable after parse; every method is const and safe to call from several threads at once.
// Cheap to copy (the zone is a pointer into the process-wide tz database, never freed).
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>

#include "coffer/util/status.h"

namespace date {
class time_zone;
}

namespace coffer::schedule {

namespace detail {
// A parsed cron expression: which values of each field match. Internal to schedule.cpp.
struct CronFields {
    std::bitset<60> minutes;
    std::bitset<24> hours;
    std::bitset<32> days;     // 1..31
    std::bitset<13> months;   // 1..12
    std::bitset<7> weekdays;  // 0..6, Sunday first (7 folded into 0)
    bool days_or = false;     // both day fields restricted: a day matches if either does
};
}  // namespace detail

class Schedule {
public:
    // Parses expression in timezone (an IANA name such as "Europe/Berlin"; "UTC" needs no
    // tzdata). Leading and trailing white space is ignored. Code::invalid_argument with a
    // one-line message naming the bad field and what is allowed:
    //   "schedule '61 * * * *': minute 61 is outside 0-59"
    //   "schedule '0 0 31 2 *': never fires: no date matches its day-of-month, month and
    //    day-of-week"
    //   "unknown time zone 'Mars/Base': use an IANA name such as Europe/Berlin or UTC"
    // Code::io when the tz database cannot be read at all.
    static Result<Schedule> parse(std::string_view expression, std::string_view timezone = "UTC");

    // Ok when parse() accepts timezone; otherwise the Status parse() would return for it. Lets
    // a caller report a bad zone apart from a bad expression.
    static Status check_timezone(std::string_view timezone);

    // The first firing instant strictly after t_ns (nanoseconds since the Unix epoch, UTC), so
    // repeated calls on the result walk every firing in order. INT64_MAX when that instant is
    // not representable (after 2262-04-11T23:47:16Z).
    int64_t next_after(int64_t t_ns) const;

    const std::string& expression() const { return m_expression; }  // as given, trimmed
    const std::string& timezone() const { return m_timezone; }

private:
    Schedule() = default;

    int64_t next_cron_after(int64_t t_ns) const;

    std::string m_expression;
    std::string m_timezone;
    int64_t m_every_s = 0;                    // > 0: an @every schedule, m_cron unused
    const date::time_zone* m_zone = nullptr;  // nullptr: UTC
    detail::CronFields m_cron;
};

}  // namespace coffer::schedule
