// Schedule: every form against firing times worked out by hand (written as UTC strings), the DST
// rules in Europe/Berlin and America/New_York, and every parse error's message.
#include "coffer/schedule/schedule.h"

#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace coffer::schedule {
namespace {

constexpr int64_t k_s = 1'000'000'000;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil), kept
// independent of the library under test.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// "2026-03-29T01:00Z" or "2026-03-29T01:00:30Z" -> ns since the epoch.
int64_t utc(const char* text) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    char z = 0;
    if (std::sscanf(text, "%d-%d-%dT%d:%d:%d%c", &y, &mo, &d, &h, &mi, &s, &z) != 7) {
        s = 0;
        if (std::sscanf(text, "%d-%d-%dT%d:%d%c", &y, &mo, &d, &h, &mi, &z) != 6) z = 0;
    }
    EXPECT_EQ(z, 'Z') << "bad time in test: " << text;
    int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    return ((days * 24 + h) * 60 + mi) * 60 * k_s + s * k_s;
}

// ns -> "2026-03-29T01:00:00Z", for readable failures.
std::string show(int64_t ns) {
    int64_t secs = ns / k_s - (ns % k_s < 0 ? 1 : 0);
    int64_t days = secs / 86400 - (secs % 86400 < 0 ? 1 : 0);
    int64_t rest = secs - days * 86400;
    // civil_from_days
    int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
    char out[64];
    std::snprintf(out, sizeof out, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(rest / 3600),
                  static_cast<long long>(rest / 60 % 60), static_cast<long long>(rest % 60));
    return out;
}

Schedule parse_ok(std::string_view expression, std::string_view timezone = "UTC") {
    auto r = Schedule::parse(expression, timezone);
    EXPECT_TRUE(r.ok()) << expression << " in " << timezone << ": " << r.status().to_string();
    if (!r.ok()) return *Schedule::parse("@daily");
    return *r;
}

// The next n firings after `from`, as UTC strings.
std::vector<std::string> fires(const Schedule& s, const char* from, size_t n) {
    std::vector<std::string> out;
    int64_t t = utc(from);
    for (size_t i = 0; i < n; ++i) {
        int64_t next = s.next_after(t);
        EXPECT_GT(next, t);
        out.push_back(show(next));
        t = next;
    }
    return out;
}

// Firings in [from, to).
size_t count_fires(const Schedule& s, const char* from, const char* to) {
    size_t n = 0;
    const int64_t end = utc(to);
    for (int64_t t = s.next_after(utc(from) - 1); t < end; t = s.next_after(t)) ++n;
    return n;
}

std::string error_of(std::string_view expression, std::string_view timezone = "UTC") {
    auto r = Schedule::parse(expression, timezone);
    EXPECT_FALSE(r.ok()) << "expected '" << expression << "' to be rejected";
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), Code::invalid_argument) << r.status().to_string();
    return r.status().message();
}

using Times = std::vector<std::string>;

TEST(Schedule, Accessors) {
    Schedule s = parse_ok("  30 2 * * *\t", "Europe/Berlin");
    EXPECT_EQ(s.expression(), "30 2 * * *");
    EXPECT_EQ(s.timezone(), "Europe/Berlin");
    EXPECT_EQ(parse_ok("@daily").timezone(), "UTC");
}

TEST(Schedule, StrictlyAfter) {
    Schedule s = parse_ok("*/5 * * * *");
    EXPECT_EQ(show(s.next_after(utc("2026-01-01T00:02:30Z"))), "2026-01-01T00:05:00Z");
    EXPECT_EQ(show(s.next_after(utc("2026-01-01T00:05Z"))), "2026-01-01T00:10:00Z");
    EXPECT_EQ(show(s.next_after(utc("2026-01-01T00:05Z") - 1)), "2026-01-01T00:05:00Z");
    EXPECT_EQ(show(s.next_after(utc("2026-01-01T00:04:59Z") + 999'999'999)),
              "2026-01-01T00:05:00Z");
}

TEST(Schedule, Shortcuts) {
    const char* from = "2026-01-01T10:00Z";  // a Thursday
    EXPECT_EQ(fires(parse_ok("@hourly"), from, 2),
              (Times{"2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("@daily"), from, 2),
              (Times{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("@midnight"), from, 1), (Times{"2026-01-02T00:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("@weekly"), from, 2),
              (Times{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("@monthly"), from, 2),
              (Times{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("@yearly"), from, 2),
              (Times{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("@annually"), from, 1), (Times{"2027-01-01T00:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("@DAILY"), from, 1), (Times{"2026-01-02T00:00:00Z"}));
}

TEST(Schedule, PlainCron) {
    EXPECT_EQ(fires(parse_ok("30 2 * * *"), "2026-01-01T02:30Z", 2),
              (Times{"2026-01-02T02:30:00Z", "2026-01-03T02:30:00Z"}));
    EXPECT_EQ(fires(parse_ok("* * * * *"), "2026-12-31T23:58:30Z", 3),
              (Times{"2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z", "2027-01-01T00:01:00Z"}));
}

TEST(Schedule, MonthEnds) {
    EXPECT_EQ(fires(parse_ok("0 0 31 * *"), "2026-01-31T00:00Z", 7),
              (Times{"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z",
                     "2026-08-31T00:00:00Z", "2026-10-31T00:00:00Z", "2026-12-31T00:00:00Z",
                     "2027-01-31T00:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("0 0 30 * *"), "2026-01-30T00:00Z", 2),
              (Times{"2026-03-30T00:00:00Z", "2026-04-30T00:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("0 12 29 2 *"), "2026-01-01T00:00Z", 3),
              (Times{"2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z", "2036-02-29T12:00:00Z"}));
    // 2100 is not a leap year: eight years between two February 29ths.
    EXPECT_EQ(fires(parse_ok("0 12 29 2 *"), "2096-03-01T00:00Z", 1),
              (Times{"2104-02-29T12:00:00Z"}));
}

TEST(Schedule, AcrossYearEnd) {
    EXPECT_EQ(fires(parse_ok("0 0 1 * *"), "2026-12-15T08:00Z", 3),
              (Times{"2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z", "2027-03-01T00:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("0 0 1 * *"), "2026-12-31T23:59:59Z", 1),
              (Times{"2027-01-01T00:00:00Z"}));
}

TEST(Schedule, StepsRangesListsNames) {
    EXPECT_EQ(fires(parse_ok("10-20/5 8-9 * * *"), "2026-01-01T00:00Z", 7),
              (Times{"2026-01-01T08:10:00Z", "2026-01-01T08:15:00Z", "2026-01-01T08:20:00Z",
                     "2026-01-01T09:10:00Z", "2026-01-01T09:15:00Z", "2026-01-01T09:20:00Z",
                     "2026-01-02T08:10:00Z"}));
    EXPECT_EQ(fires(parse_ok("0,30 * * * *"), "2026-01-01T00:10Z", 3),
              (Times{"2026-01-01T00:30:00Z", "2026-01-01T01:00:00Z", "2026-01-01T01:30:00Z"}));
    // Weekdays 9, 13, 17; 2026-01-02 is a Friday, so the weekend is skipped.
    EXPECT_EQ(fires(parse_ok("0 9-17/4 * * mon-fri"), "2026-01-02T10:00Z", 4),
              (Times{"2026-01-02T13:00:00Z", "2026-01-02T17:00:00Z", "2026-01-05T09:00:00Z",
                     "2026-01-05T13:00:00Z"}));
    // 5-7: Friday, Saturday and Sunday (7 is Sunday).
    EXPECT_EQ(fires(parse_ok("0 0 * * 5-7"), "2026-01-01T12:00Z", 4),
              (Times{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z",
                     "2026-01-09T00:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("0 0 * * 0"), "2026-01-01T12:00Z", 1),
              fires(parse_ok("0 0 * * 7"), "2026-01-01T12:00Z", 1));
    EXPECT_EQ(fires(parse_ok("0 0 * * SUN"), "2026-01-01T12:00Z", 1),
              (Times{"2026-01-04T00:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("0 6 1 Jan,JUL *"), "2026-01-01T12:00Z", 2),
              (Times{"2026-07-01T06:00:00Z", "2027-01-01T06:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("0 0 1 feb-apr/2 *"), "2026-01-01T12:00Z", 3),
              (Times{"2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z", "2027-02-01T00:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("0 */6 * * *"), "2026-01-01T07:00Z", 3),
              (Times{"2026-01-01T12:00:00Z", "2026-01-01T18:00:00Z", "2026-01-02T00:00:00Z"}));
}

TEST(Schedule, DayOfMonthOrDayOfWeek) {
    // Both restricted: the 13th OR any Friday. April 2026: Fridays 3, 10, 17, 24; the 13th is a
    // Monday.
    EXPECT_EQ(fires(parse_ok("0 0 13 * fri"), "2026-04-01T00:00Z", 5),
              (Times{"2026-04-03T00:00:00Z", "2026-04-10T00:00:00Z", "2026-04-13T00:00:00Z",
                     "2026-04-17T00:00:00Z", "2026-04-24T00:00:00Z"}));
    // A day field starting with '*' is unrestricted (Vixie cron): both must match, so odd days
    // that are Fridays. 2026-05-01 is a Friday.
    EXPECT_EQ(fires(parse_ok("0 0 */2 * fri"), "2026-04-01T00:00Z", 4),
              (Times{"2026-04-03T00:00:00Z", "2026-04-17T00:00:00Z", "2026-05-01T00:00:00Z",
                     "2026-05-15T00:00:00Z"}));
    // Only the day of the week restricted.
    EXPECT_EQ(fires(parse_ok("0 0 * * fri"), "2026-04-01T00:00Z", 1),
              (Times{"2026-04-03T00:00:00Z"}));
    // February 31st never exists, but OR with Monday makes it fire on February's Mondays.
    EXPECT_EQ(fires(parse_ok("0 0 31 2 mon"), "2026-01-01T00:00Z", 2),
              (Times{"2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z"}));
}

TEST(ScheduleDst, BerlinDailyThroughSpringForward) {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z); 02:30 does not exist and fires at the
    // transition.
    Schedule s = parse_ok("30 2 * * *", "Europe/Berlin");
    EXPECT_EQ(fires(s, "2026-03-27T12:00Z", 3),
              (Times{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}));
    // 03:00 local is the transition instant as well: it fires once there.
    EXPECT_EQ(fires(parse_ok("0 2,3 * * *", "Europe/Berlin"), "2026-03-28T23:00Z", 2),
              (Times{"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"}));
}

TEST(ScheduleDst, BerlinDailyThroughFallBack) {
    // 2026-10-25: 03:00 CEST goes back to 02:00 CET (01:00Z); 02:30 happens twice and fires at
    // the first, 00:30Z.
    Schedule s = parse_ok("30 2 * * *", "Europe/Berlin");
    EXPECT_EQ(fires(s, "2026-10-23T12:00Z", 3),
              (Times{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}));
    // Asked during the second 02:xx (02:15 CET), the repeated 02:30 does not fire again.
    EXPECT_EQ(fires(s, "2026-10-25T01:15Z", 1), (Times{"2026-10-26T01:30:00Z"}));
}

TEST(ScheduleDst, BerlinQuarterHours) {
    Schedule s = parse_ok("*/15 * * * *", "Europe/Berlin");
    // Spring: 02:00-02:45 local fire together at the transition, which is also 03:00 CEST, so
    // real time sees no gap: 96 fires in 24h.
    EXPECT_EQ(fires(s, "2026-03-29T00:30Z", 4),
              (Times{"2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z",
                     "2026-03-29T01:30:00Z"}));
    EXPECT_EQ(count_fires(s, "2026-03-28T12:00Z", "2026-03-29T12:00Z"), 96u);
    // Autumn: the four quarters of the repeated hour fire only on its first pass.
    EXPECT_EQ(fires(s, "2026-10-25T00:30Z", 3),
              (Times{"2026-10-25T00:45:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:15:00Z"}));
    EXPECT_EQ(fires(s, "2026-10-25T01:20Z", 1), (Times{"2026-10-25T02:00:00Z"}));
    EXPECT_EQ(count_fires(s, "2026-10-24T12:00Z", "2026-10-25T12:00Z"), 92u);
    // A day without a transition.
    EXPECT_EQ(count_fires(s, "2026-06-01T12:00Z", "2026-06-02T12:00Z"), 96u);
}

TEST(ScheduleDst, NewYorkDaily) {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
    Schedule s = parse_ok("30 2 * * *", "America/New_York");
    EXPECT_EQ(fires(s, "2026-03-06T12:00Z", 3),
              (Times{"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}));
    // 2026-11-01: 02:00 EDT goes back to 01:00 EST (06:00Z); 02:30 exists once (EST).
    EXPECT_EQ(fires(s, "2026-10-30T12:00Z", 3),
              (Times{"2026-10-31T06:30:00Z", "2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"}));
    // 01:30 happens twice there: only the first (EDT, 05:30Z) fires.
    EXPECT_EQ(fires(parse_ok("30 1 * * *", "America/New_York"), "2026-10-31T12:00Z", 2),
              (Times{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}));
}

TEST(ScheduleDst, NewYorkQuarterHours) {
    Schedule s = parse_ok("*/15 * * * *", "America/New_York");
    EXPECT_EQ(fires(s, "2026-03-08T06:30Z", 3),
              (Times{"2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z"}));
    EXPECT_EQ(count_fires(s, "2026-03-07T18:00Z", "2026-03-08T18:00Z"), 96u);
    EXPECT_EQ(fires(s, "2026-11-01T05:30Z", 2),
              (Times{"2026-11-01T05:45:00Z", "2026-11-01T07:00:00Z"}));
    EXPECT_EQ(count_fires(s, "2026-10-31T18:00Z", "2026-11-01T18:00Z"), 92u);
}

TEST(Schedule, ZoneShiftsWallClock) {
    // Winter: Berlin is UTC+1, New York UTC-5.
    EXPECT_EQ(fires(parse_ok("0 9 * * *", "Europe/Berlin"), "2026-01-10T00:00Z", 1),
              (Times{"2026-01-10T08:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("0 9 * * *", "America/New_York"), "2026-01-10T00:00Z", 1),
              (Times{"2026-01-10T14:00:00Z"}));
    // Day boundaries are local: midnight in Berlin is 23:00Z the day before.
    EXPECT_EQ(fires(parse_ok("@monthly", "Europe/Berlin"), "2026-01-10T00:00Z", 1),
              (Times{"2026-01-31T23:00:00Z"}));
    EXPECT_EQ(fires(parse_ok("0 0 * * *", "Etc/UTC"), "2026-01-10T00:00Z", 1),
              (Times{"2026-01-11T00:00:00Z"}));
}

TEST(Schedule, Every) {
    Schedule s = parse_ok("@every 30s");
    EXPECT_EQ(fires(s, "2026-01-01T00:00:10Z", 3),
              (Times{"2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z", "2026-01-01T00:01:30Z"}));
    EXPECT_EQ(s.next_after(-1), 0);
    EXPECT_EQ(s.next_after(-30 * k_s), 0);
    EXPECT_EQ(s.next_after(-31 * k_s), -30 * k_s);
    // Multiples of 5400s since the epoch; 2026-01-01T00:00Z is one (20454 days * 16).
    Schedule h = parse_ok("@every 1h30m");
    EXPECT_EQ(h.next_after(0), 5400 * k_s);
    EXPECT_EQ(fires(h, "2026-01-01T00:00Z", 2),
              (Times{"2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z"}));
    // The zone plays no part.
    EXPECT_EQ(fires(parse_ok("@every 1h30m", "America/New_York"), "2026-01-01T00:00Z", 1),
              (Times{"2026-01-01T01:30:00Z"}));
    EXPECT_EQ(fires(parse_ok("@EVERY 1s"), "2026-01-01T00:00Z", 1),
              (Times{"2026-01-01T00:00:01Z"}));
}

TEST(Schedule, FarFutureSaturates) {
    constexpr int64_t k_max = std::numeric_limits<int64_t>::max();
    EXPECT_EQ(parse_ok("@every 1d").next_after(k_max - 1), k_max);
    EXPECT_EQ(parse_ok("@yearly").next_after(k_max - 1), k_max);
    EXPECT_EQ(parse_ok("@yearly", "Europe/Berlin").next_after(k_max - 1), k_max);
    EXPECT_EQ(show(parse_ok("@yearly").next_after(utc("2261-06-01T00:00Z"))),
              "2262-01-01T00:00:00Z");
    // Before the epoch works too.
    EXPECT_EQ(show(parse_ok("@daily").next_after(utc("1969-12-31T12:00Z"))),
              "1970-01-01T00:00:00Z");
}

TEST(Schedule, NextAfterIsConsistent) {
    // For each firing f found from t: nothing fires in (t, f), so next_after(f - 1) is f; and the
    // walk strictly increases.
    const std::vector<std::pair<const char*, const char*>> cases = {
        {"*/15 * * * *", "Europe/Berlin"},  {"30 2 * * *", "Europe/Berlin"},
        {"0 * * * *", "America/New_York"},  {"0 0 13 * fri", "UTC"},
        {"*/7 1-3 * * *", "Europe/Berlin"}, {"@every 7m", "UTC"},
    };
    for (const auto& [expression, zone] : cases) {
        Schedule s = parse_ok(expression, zone);
        int64_t t = utc("2026-03-01T00:00Z");
        const int64_t end = utc("2026-11-15T00:00Z");
        while (t < end) {
            const int64_t f = s.next_after(t);
            ASSERT_GT(f, t) << expression << " " << zone << " at " << show(t);
            ASSERT_EQ(s.next_after(f - 1), f) << expression << " " << zone << " at " << show(f);
            // Probe between firings too, where DST shifts happen.
            const int64_t mid = t + (f - t) / 2;
            ASSERT_EQ(s.next_after(mid), f) << expression << " " << zone << " at " << show(mid);
            t = f;
        }
    }
}

TEST(ScheduleErrors, FieldCount) {
    EXPECT_EQ(error_of("* * * *"),
              "schedule '* * * *': has 4 fields, expected 5: use 5 fields \"minute hour "
              "day-of-month month day-of-week\" (e.g. \"30 2 * * *\"), @hourly, @daily, @weekly, "
              "@monthly, @yearly or @every <duration>");
    EXPECT_EQ(error_of("0 0 * * * *").substr(0, 40), "schedule '0 0 * * * *': has 6 fields, ex");
    EXPECT_EQ(error_of("   ").substr(0, 27), "schedule '': is empty: use ");
    EXPECT_EQ(error_of("@daily 3"), "schedule '@daily 3': @daily takes nothing after it");
    EXPECT_EQ(error_of("@fortnightly").substr(0, 49),
              "schedule '@fortnightly': unknown '@fortnightly': ");
    EXPECT_NE(error_of("@reboot").find("unknown '@reboot'"), std::string::npos);
}

TEST(ScheduleErrors, OutOfRange) {
    EXPECT_EQ(error_of("61 * * * *"), "schedule '61 * * * *': minute 61 is outside 0-59");
    EXPECT_EQ(error_of("0 24 * * *"), "schedule '0 24 * * *': hour 24 is outside 0-23");
    EXPECT_EQ(error_of("0 0 0 * *"), "schedule '0 0 0 * *': day-of-month 0 is outside 1-31");
    EXPECT_EQ(error_of("0 0 32 * *"), "schedule '0 0 32 * *': day-of-month 32 is outside 1-31");
    EXPECT_EQ(error_of("0 0 * 13 *"), "schedule '0 0 * 13 *': month 13 is outside 1-12");
    EXPECT_EQ(error_of("0 0 * * 8"), "schedule '0 0 * * 8': day-of-week 8 is outside 0-7");
    EXPECT_EQ(error_of("0-60 * * * *"), "schedule '0-60 * * * *': minute 60 is outside 0-59");
    EXPECT_EQ(error_of("99999999999 * * * *"),
              "schedule '99999999999 * * * *': minute 99999999999 is outside 0-59");
    EXPECT_EQ(error_of("0 5-1 * * *"),
              "schedule '0 5-1 * * *': hour range '5-1' is backwards: the first value must not "
              "be larger than the second");
    EXPECT_EQ(error_of("-5 * * * *"), "schedule '-5 * * * *': minute '-5' is not a number 0-59");
}

TEST(ScheduleErrors, BadStep) {
    EXPECT_EQ(error_of("*/0 * * * *"), "schedule '*/0 * * * *': minute step 0 is outside 1-59");
    EXPECT_EQ(error_of("*/60 * * * *"), "schedule '*/60 * * * *': minute step 60 is outside 1-59");
    EXPECT_EQ(error_of("0 0 * * */8"), "schedule '0 0 * * */8': day-of-week step 8 is outside 1-7");
    EXPECT_EQ(error_of("*/x * * * *"),
              "schedule '*/x * * * *': minute step 'x' is not a number 1-59");
    EXPECT_EQ(error_of("*/ * * * *"), "schedule '*/ * * * *': minute step '' is not a number 1-59");
    EXPECT_EQ(error_of("5/15 * * * *"),
              "schedule '5/15 * * * *': minute '5/15': a step needs a range or * before it (e.g. "
              "5-59/15)");
    EXPECT_EQ(error_of("1,,2 * * * *"),
              "schedule '1,,2 * * * *': minute '1,,2' has an empty list element");
}

TEST(ScheduleErrors, BadName) {
    EXPECT_EQ(error_of("0 0 * foo *"),
              "schedule '0 0 * foo *': month 'foo' is not a number 1-12 or a name jan-dec");
    EXPECT_EQ(error_of("0 0 * * fry"),
              "schedule '0 0 * * fry': day-of-week 'fry' is not a number 0-7 or a name sun-sat");
    EXPECT_EQ(error_of("0 mon * * *"), "schedule '0 mon * * *': hour 'mon' is not a number 0-23");
    EXPECT_EQ(error_of("0 0 * * monday"),
              "schedule '0 0 * * monday': day-of-week 'monday' is not a number 0-7 or a name "
              "sun-sat");
    EXPECT_EQ(error_of("0 0 1- * *"),
              "schedule '0 0 1- * *': day-of-month '1-' is not a number 1-31");
}

TEST(ScheduleErrors, UnknownZone) {
    EXPECT_EQ(error_of("@daily", "Mars/Base"),
              "unknown time zone 'Mars/Base': use an IANA name such as Europe/Berlin or UTC");
    EXPECT_EQ(error_of("@every 1h", "Mars/Base"),
              "unknown time zone 'Mars/Base': use an IANA name such as Europe/Berlin or UTC");
    EXPECT_EQ(error_of("@daily", ""),
              "unknown time zone '': use an IANA name such as Europe/Berlin or UTC");
    EXPECT_EQ(error_of("@daily", "../../etc/passwd").substr(0, 36),
              "unknown time zone '../../etc/passwd'");
}

TEST(ScheduleErrors, Every) {
    EXPECT_EQ(error_of("@every 0s"), "schedule '@every 0s': the interval must be at least 1s");
    EXPECT_EQ(error_of("@every"),
              "schedule '@every': @every takes one duration (e.g. \"@every 1h30m\")");
    EXPECT_EQ(error_of("@every 1h 30m"),
              "schedule '@every 1h 30m': @every takes one duration (e.g. \"@every 1h30m\")");
    EXPECT_EQ(error_of("@every 5"),
              "schedule '@every 5': '5' is not a duration (use e.g. \"30s\", \"15m\", \"1h\", "
              "\"7d\", \"1h30m\")");
    EXPECT_EQ(error_of("@every 36501d"),
              "schedule '@every 36501d': the interval must be at most 36500d");
}

TEST(ScheduleErrors, NeverFires) {
    const std::string never =
        "never fires: no date matches its day-of-month, month and day-of-week";
    EXPECT_EQ(error_of("0 0 31 2 *"), "schedule '0 0 31 2 *': " + never);
    EXPECT_EQ(error_of("0 0 30 feb *"), "schedule '0 0 30 feb *': " + never);
    EXPECT_EQ(error_of("0 0 31 4,6,9,11 *"), "schedule '0 0 31 4,6,9,11 *': " + never);
    // February 29th is rare but real.
    EXPECT_TRUE(Schedule::parse("0 0 29 2 *").ok());
}

}  // namespace
}  // namespace coffer::schedule
