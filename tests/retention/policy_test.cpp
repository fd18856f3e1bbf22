// Golden tests for the retention policy. Every expectation below was worked out by hand from the
// calendar (and cross-checked against an independent script), never computed by the code under
// test. Times are written as UTC text and converted with <chrono>'s civil calendar, which shares
// nothing with the gmtime_r/strftime path that policy.cpp uses.
#include "coffer/retention/policy.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace coffer::retention {
namespace {

// "2020-02-29T01:45:00" (UTC) -> nanoseconds since the epoch.
int64_t utc(const char* text) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    EXPECT_EQ(std::sscanf(text, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s), 6) << text;
    using namespace std::chrono;
    const sys_days day = year{y} / month{static_cast<unsigned>(mo)} / static_cast<unsigned>(d);
    EXPECT_TRUE((year{y} / month{static_cast<unsigned>(mo)} / static_cast<unsigned>(d)).ok())
        << text;
    return duration_cast<nanoseconds>(day.time_since_epoch() + hours{h} + minutes{mi} + seconds{s})
        .count();
}

// About 30 snapshots over two years, oldest first. Chosen for their edges:
//   s03 2019-12-29 is a Sunday in 2019-W52; s04 2019-12-30 (Monday) opens 2020-W01 while still
//   in month 2019-12 and year 2019; s06 is exactly midnight of 2020-01-01;
//   s08/s09 share an hour on the leap day 2020-02-29; s07..s10 share week 2020-W09;
//   s11/s12 straddle a month boundary by one second;
//   s13..s16 are all in 2020-W53, which runs from 2020-12-28 to 2021-01-03 across the year
//   boundary; s17 2021-01-04 opens 2021-W01;
//   s20/s21 straddle a month boundary inside one week (2021-W17);
//   s24..s30 are dense: two a day, four in one day, three in one hour.
struct Snapshot {
    const char* id;
    const char* time;
};
constexpr Snapshot k_snapshots[] = {
    {"s01", "2019-06-15T10:00:00"}, {"s02", "2019-11-20T08:00:00"}, {"s03", "2019-12-29T23:30:00"},
    {"s04", "2019-12-30T00:10:00"}, {"s05", "2019-12-31T12:00:00"}, {"s06", "2020-01-01T00:00:00"},
    {"s07", "2020-02-28T22:00:00"}, {"s08", "2020-02-29T01:00:00"}, {"s09", "2020-02-29T01:45:00"},
    {"s10", "2020-03-01T00:00:00"}, {"s11", "2020-06-30T23:59:59"}, {"s12", "2020-07-01T00:00:00"},
    {"s13", "2020-12-28T09:00:00"}, {"s14", "2020-12-31T18:00:00"}, {"s15", "2021-01-01T06:00:00"},
    {"s16", "2021-01-03T23:00:00"}, {"s17", "2021-01-04T00:30:00"}, {"s18", "2021-02-10T12:00:00"},
    {"s19", "2021-03-15T08:00:00"}, {"s20", "2021-04-30T20:00:00"}, {"s21", "2021-05-01T01:00:00"},
    {"s22", "2021-05-30T10:00:00"}, {"s23", "2021-05-31T09:00:00"}, {"s24", "2021-06-01T08:00:00"},
    {"s25", "2021-06-01T20:00:00"}, {"s26", "2021-06-02T13:05:00"}, {"s27", "2021-06-02T14:10:00"},
    {"s28", "2021-06-02T14:20:00"}, {"s29", "2021-06-02T14:50:00"}, {"s30", "2021-06-02T15:00:00"},
};
constexpr size_t k_count = std::size(k_snapshots);

// The snapshots in a scrambled order (plan must sort them itself), all in one group.
std::vector<Candidate> golden_candidates() {
    std::vector<Candidate> out;
    for (size_t i = 0; i < k_count; ++i) {
        const Snapshot& s = k_snapshots[(i * 7) % k_count];  // 7 is coprime with 30
        out.push_back({s.id, utc(s.time), "platform"});
    }
    return out;
}

struct Kept {
    std::string id;
    std::vector<std::string> reasons;
    bool operator==(const Kept&) const = default;
};

std::string show(const std::vector<Kept>& kept) {
    std::string out;
    for (const auto& k : kept) {
        out += "\n  " + k.id + ":";
        for (const auto& r : k.reasons) out += " [" + r + "]";
    }
    return out;
}

// The kept decisions, in plan order, after checking what every plan must satisfy.
std::vector<Kept> kept_of(const std::vector<Decision>& plan) {
    std::vector<Kept> out;
    for (const auto& d : plan) {
        EXPECT_EQ(d.keep, !d.reasons.empty()) << d.id;
        if (d.keep) out.push_back({d.id, d.reasons});
    }
    return out;
}

struct GoldenCase {
    const char* name;
    Policy policy;
    std::vector<Kept> kept;  // newest first; every other snapshot is removed
};

const std::vector<GoldenCase>& golden_cases() {
    static const std::vector<GoldenCase> cases = {
        {"last 3",
         {.keep_last = 3},
         {{"s30", {"newest", "last 1"}}, {"s29", {"last 2"}}, {"s28", {"last 3"}}}},
        {"hourly 4: s27/s28 share s29's hour",
         {.keep_hourly = 4},
         {{"s30", {"newest", "hourly 2021-06-02T15"}},
          {"s29", {"hourly 2021-06-02T14"}},
          {"s26", {"hourly 2021-06-02T13"}},
          {"s25", {"hourly 2021-06-01T20"}}}},
        {"daily 5: empty days do not count",
         {.keep_daily = 5},
         {{"s30", {"newest", "daily 2021-06-02"}},
          {"s25", {"daily 2021-06-01"}},
          {"s23", {"daily 2021-05-31"}},
          {"s22", {"daily 2021-05-30"}},
          {"s21", {"daily 2021-05-01"}}}},
        {"weekly 6: s20 shares ISO week 17 with s21 across a month boundary",
         {.keep_weekly = 6},
         {{"s30", {"newest", "weekly 2021-W22"}},
          {"s22", {"weekly 2021-W21"}},
          {"s21", {"weekly 2021-W17"}},
          {"s19", {"weekly 2021-W11"}},
          {"s18", {"weekly 2021-W06"}},
          {"s17", {"weekly 2021-W01"}}}},
        {"weekly 100: week 53 spans the new year, 2019-12-30 is in 2020-W01",
         {.keep_weekly = 100},
         {{"s30", {"newest", "weekly 2021-W22"}},
          {"s22", {"weekly 2021-W21"}},
          {"s21", {"weekly 2021-W17"}},
          {"s19", {"weekly 2021-W11"}},
          {"s18", {"weekly 2021-W06"}},
          {"s17", {"weekly 2021-W01"}},
          {"s16", {"weekly 2020-W53"}},
          {"s12", {"weekly 2020-W27"}},
          {"s10", {"weekly 2020-W09"}},
          {"s06", {"weekly 2020-W01"}},
          {"s03", {"weekly 2019-W52"}},
          {"s02", {"weekly 2019-W47"}},
          {"s01", {"weekly 2019-W24"}}}},
        {"monthly 100: the leap day's later snapshot stands for February",
         {.keep_monthly = 100},
         {{"s30", {"newest", "monthly 2021-06"}},
          {"s23", {"monthly 2021-05"}},
          {"s20", {"monthly 2021-04"}},
          {"s19", {"monthly 2021-03"}},
          {"s18", {"monthly 2021-02"}},
          {"s17", {"monthly 2021-01"}},
          {"s14", {"monthly 2020-12"}},
          {"s12", {"monthly 2020-07"}},
          {"s11", {"monthly 2020-06"}},
          {"s10", {"monthly 2020-03"}},
          {"s09", {"monthly 2020-02"}},
          {"s06", {"monthly 2020-01"}},
          {"s05", {"monthly 2019-12"}},
          {"s02", {"monthly 2019-11"}},
          {"s01", {"monthly 2019-06"}}}},
        {"yearly 2",
         {.keep_yearly = 2},
         {{"s30", {"newest", "yearly 2021"}}, {"s14", {"yearly 2020"}}}},
        {"yearly 100: calendar years, not ISO years",
         {.keep_yearly = 100},
         {{"s30", {"newest", "yearly 2021"}}, {"s14", {"yearly 2020"}}, {"s05", {"yearly 2019"}}}},
        {"within 2d: s23 is 2d6h older than the newest",
         {.keep_within_s = 2 * 86400},
         {{"s30", {"newest", "within 2d"}},
          {"s29", {"within 2d"}},
          {"s28", {"within 2d"}},
          {"s27", {"within 2d"}},
          {"s26", {"within 2d"}},
          {"s25", {"within 2d"}},
          {"s24", {"within 2d"}}}},
        {"within 1d1h",
         {.keep_within_s = 86400 + 3600},
         {{"s30", {"newest", "within 1d1h"}},
          {"s29", {"within 1d1h"}},
          {"s28", {"within 1d1h"}},
          {"s27", {"within 1d1h"}},
          {"s26", {"within 1d1h"}},
          {"s25", {"within 1d1h"}}}},
        {"last 2, within 1h, daily 3, monthly 2: every matching rule is listed",
         {.keep_last = 2, .keep_daily = 3, .keep_monthly = 2, .keep_within_s = 3600},
         {{"s30", {"newest", "last 1", "within 1h", "daily 2021-06-02", "monthly 2021-06"}},
          {"s29", {"last 2", "within 1h"}},
          {"s28", {"within 1h"}},
          {"s27", {"within 1h"}},
          {"s25", {"daily 2021-06-01"}},
          {"s23", {"daily 2021-05-31", "monthly 2021-05"}}}},
        {"weekly 3, yearly 10",
         {.keep_weekly = 3, .keep_yearly = 10},
         {{"s30", {"newest", "weekly 2021-W22", "yearly 2021"}},
          {"s22", {"weekly 2021-W21"}},
          {"s21", {"weekly 2021-W17"}},
          {"s14", {"yearly 2020"}},
          {"s05", {"yearly 2019"}}}},
        {"hourly 30, daily 3: more hours asked for than exist",
         {.keep_hourly = 30, .keep_daily = 3},
         {{"s30", {"newest", "hourly 2021-06-02T15", "daily 2021-06-02"}},
          {"s29", {"hourly 2021-06-02T14"}},
          {"s26", {"hourly 2021-06-02T13"}},
          {"s25", {"hourly 2021-06-01T20", "daily 2021-06-01"}},
          {"s24", {"hourly 2021-06-01T08"}},
          {"s23", {"hourly 2021-05-31T09", "daily 2021-05-31"}},
          {"s22", {"hourly 2021-05-30T10"}},
          {"s21", {"hourly 2021-05-01T01"}},
          {"s20", {"hourly 2021-04-30T20"}},
          {"s19", {"hourly 2021-03-15T08"}},
          {"s18", {"hourly 2021-02-10T12"}},
          {"s17", {"hourly 2021-01-04T00"}},
          {"s16", {"hourly 2021-01-03T23"}},
          {"s15", {"hourly 2021-01-01T06"}},
          {"s14", {"hourly 2020-12-31T18"}},
          {"s13", {"hourly 2020-12-28T09"}},
          {"s12", {"hourly 2020-07-01T00"}},
          {"s11", {"hourly 2020-06-30T23"}},
          {"s10", {"hourly 2020-03-01T00"}},
          {"s09", {"hourly 2020-02-29T01"}},
          {"s07", {"hourly 2020-02-28T22"}},
          {"s06", {"hourly 2020-01-01T00"}},
          {"s05", {"hourly 2019-12-31T12"}},
          {"s04", {"hourly 2019-12-30T00"}},
          {"s03", {"hourly 2019-12-29T23"}},
          {"s02", {"hourly 2019-11-20T08"}},
          {"s01", {"hourly 2019-06-15T10"}}}},
        {"hourly 0 keeps nothing but the newest", {.keep_hourly = 0}, {{"s30", {"newest"}}}},
        {"daily 0, last 1", {.keep_last = 1, .keep_daily = 0}, {{"s30", {"newest", "last 1"}}}},
        {"within 0s keeps nothing but the newest", {.keep_within_s = 0}, {{"s30", {"newest"}}}},
    };
    return cases;
}

TEST(Plan, GoldenCases) {
    const auto candidates = golden_candidates();
    for (const auto& c : golden_cases()) {
        SCOPED_TRACE(c.name);
        auto r = plan(candidates, c.policy);
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        ASSERT_EQ(r->size(), k_count);
        // One decision per candidate, newest first: s30 .. s01.
        for (size_t i = 0; i < k_count; ++i) {
            const Snapshot& want = k_snapshots[k_count - 1 - i];
            EXPECT_EQ((*r)[i].id, want.id);
            EXPECT_EQ((*r)[i].time_ns, utc(want.time));
            EXPECT_EQ((*r)[i].group, "platform");
        }
        std::vector<Kept> kept = kept_of(*r);
        EXPECT_EQ(kept, c.kept) << "got:" << show(kept) << "\nwant:" << show(c.kept);
    }
}

// Each time alone in its own group: the newest of a group of one is kept by every calendar rule,
// so its reasons are exactly its bucket labels.
TEST(Plan, BucketLabelsAtCalendarEdges) {
    struct Case {
        const char* time;
        std::vector<std::string> reasons;
    };
    const Case cases[] = {
        {"2019-12-29T23:30:00",
         {"hourly 2019-12-29T23", "daily 2019-12-29", "weekly 2019-W52", "monthly 2019-12",
          "yearly 2019"}},
        {"2019-12-30T00:10:00",
         {"hourly 2019-12-30T00", "daily 2019-12-30", "weekly 2020-W01", "monthly 2019-12",
          "yearly 2019"}},
        {"2020-02-29T01:45:00",
         {"hourly 2020-02-29T01", "daily 2020-02-29", "weekly 2020-W09", "monthly 2020-02",
          "yearly 2020"}},
        {"2021-01-03T23:59:59",
         {"hourly 2021-01-03T23", "daily 2021-01-03", "weekly 2020-W53", "monthly 2021-01",
          "yearly 2021"}},
        {"2021-01-04T00:00:00",
         {"hourly 2021-01-04T00", "daily 2021-01-04", "weekly 2021-W01", "monthly 2021-01",
          "yearly 2021"}},
        {"2024-12-30T12:00:00",
         {"hourly 2024-12-30T12", "daily 2024-12-30", "weekly 2025-W01", "monthly 2024-12",
          "yearly 2024"}},
        {"2026-11-30T14:15:00",
         {"hourly 2026-11-30T14", "daily 2026-11-30", "weekly 2026-W49", "monthly 2026-11",
          "yearly 2026"}},
        {"2027-01-01T08:00:00",
         {"hourly 2027-01-01T08", "daily 2027-01-01", "weekly 2026-W53", "monthly 2027-01",
          "yearly 2027"}},
        {"1970-01-01T00:00:00",
         {"hourly 1970-01-01T00", "daily 1970-01-01", "weekly 1970-W01", "monthly 1970-01",
          "yearly 1970"}},
    };
    const Policy policy{
        .keep_hourly = 1, .keep_daily = 1, .keep_weekly = 1, .keep_monthly = 1, .keep_yearly = 1};
    std::vector<Candidate> candidates;
    for (const auto& c : cases) candidates.push_back({"id", utc(c.time), c.time});
    auto r = plan(candidates, policy);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->size(), std::size(cases));
    for (const auto& c : cases) {
        auto d = std::find_if(r->begin(), r->end(),
                              [&](const Decision& x) { return x.group == c.time; });
        ASSERT_NE(d, r->end()) << c.time;
        std::vector<std::string> want = {"newest"};
        want.insert(want.end(), c.reasons.begin(), c.reasons.end());
        EXPECT_EQ(d->reasons, want) << c.time;
        EXPECT_TRUE(d->keep);
    }
}

// A nanosecond before the epoch is still 1969: times are floored, not truncated towards zero.
TEST(Plan, TimeBeforeEpochFloorsToThePreviousSecond) {
    auto r = plan({{"a", -1, "g"}, {"b", 0, "g"}}, Policy{.keep_daily = 2});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].id, "b");
    EXPECT_EQ((*r)[1].id, "a");
    EXPECT_EQ((*r)[1].reasons, std::vector<std::string>{"daily 1969-12-31"});
}

TEST(Plan, GroupsAreIndependent) {
    const int64_t h = 3600LL * 1'000'000'000;
    const int64_t t0 = utc("2026-11-30T00:00:00");
    // Interleaved in time and given out of order: "web" is newer throughout.
    std::vector<Candidate> in = {
        {"db-1", t0 + 1 * h, "db"},   {"web-3", t0 + 5 * h, "web"}, {"db-3", t0 + 3 * h, "db"},
        {"web-1", t0 + 2 * h, "web"}, {"db-2", t0 + 2 * h, "db"},   {"web-2", t0 + 4 * h, "web"},
    };
    auto r = plan(in, Policy{.keep_last = 2});
    ASSERT_TRUE(r.ok());
    std::vector<std::string> order;
    for (const auto& d : *r) order.push_back(d.group + "/" + d.id + (d.keep ? "+" : "-"));
    // Each group keeps its own two newest, whatever the other group holds.
    EXPECT_EQ(order, (std::vector<std::string>{"db/db-3+", "db/db-2+", "db/db-1-", "web/web-3+",
                                               "web/web-2+", "web/web-1-"}));
    EXPECT_EQ((*r)[0].reasons, (std::vector<std::string>{"newest", "last 1"}));
    EXPECT_EQ((*r)[3].reasons, (std::vector<std::string>{"newest", "last 1"}));
    EXPECT_EQ((*r)[4].reasons, (std::vector<std::string>{"last 2"}));

    // keep-within is measured from each group's own newest: db's newest is 2h older than web's.
    auto w = plan(in, Policy{.keep_within_s = 3600 + 1});
    ASSERT_TRUE(w.ok());
    order.clear();
    for (const auto& d : *w) order.push_back(d.id + (d.keep ? "+" : "-"));
    EXPECT_EQ(order,
              (std::vector<std::string>{"db-3+", "db-2+", "db-1-", "web-3+", "web-2+", "web-1-"}));
}

TEST(Plan, EqualTimesOrderedById) {
    const int64_t t = utc("2026-11-30T14:00:00");
    std::vector<Candidate> in = {{"c", t, "g"}, {"a", t, "g"}, {"old", t - 1, "g"}, {"b", t, "g"}};
    auto r = plan(in, Policy{.keep_last = 2});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 4u);
    EXPECT_EQ((*r)[0].id, "a");
    EXPECT_EQ((*r)[0].reasons, (std::vector<std::string>{"newest", "last 1"}));
    EXPECT_EQ((*r)[1].id, "b");
    EXPECT_EQ((*r)[1].reasons, (std::vector<std::string>{"last 2"}));
    EXPECT_EQ((*r)[2].id, "c");
    EXPECT_FALSE((*r)[2].keep);
    EXPECT_EQ((*r)[3].id, "old");
    EXPECT_FALSE((*r)[3].keep);

    // The bucket's representative is the first of the tie, "a"; "old" is an hour earlier.
    auto d = plan(in, Policy{.keep_hourly = 2});
    ASSERT_TRUE(d.ok());
    EXPECT_EQ((*d)[0].reasons, (std::vector<std::string>{"newest", "hourly 2026-11-30T14"}));
    EXPECT_FALSE((*d)[1].keep);
    EXPECT_FALSE((*d)[2].keep);
    EXPECT_EQ((*d)[3].reasons, (std::vector<std::string>{"hourly 2026-11-30T13"}));
}

TEST(Plan, KeepLastLargerThanTheCount) {
    const int64_t t = utc("2026-01-01T00:00:00");
    auto r = plan({{"x", t, "g"}, {"y", t + 1, "g"}, {"z", t + 2, "g"}}, Policy{.keep_last = 10});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[0].reasons, (std::vector<std::string>{"newest", "last 1"}));
    EXPECT_EQ((*r)[1].reasons, (std::vector<std::string>{"last 2"}));
    EXPECT_EQ((*r)[2].reasons, (std::vector<std::string>{"last 3"}));
}

// Backups that stopped years ago: keep-within still keeps the last week of them, because it is
// measured from the newest snapshot, not from today.
TEST(Plan, KeepWithinIsRelativeToTheNewest) {
    const int64_t s = 1'000'000'000;
    const int64_t newest = utc("2001-03-10T12:00:00");
    const int64_t week = 7 * 86400;
    std::vector<Candidate> in = {
        {"n", newest, "g"},
        {"inside", newest - (week - 1) * s, "g"},
        {"one-ns-inside", newest - week * s + 1, "g"},
        {"boundary", newest - week * s, "g"},  // exactly a week older: not "within", as in restic
        {"outside", newest - (week + 1) * s, "g"},
    };
    auto r = plan(in, Policy{.keep_within_s = week});
    ASSERT_TRUE(r.ok());
    std::vector<std::string> got;
    for (const auto& d : *r) got.push_back(d.id + (d.keep ? "+" : "-"));
    EXPECT_EQ(got, (std::vector<std::string>{"n+", "inside+", "one-ns-inside+", "boundary-",
                                             "outside-"}));
    EXPECT_EQ((*r)[1].reasons, std::vector<std::string>{"within 1w"});

    // A window wider than every representable gap keeps everything, without overflowing.
    auto all = plan({{"new", INT64_MAX, "g"}, {"old", INT64_MIN, "g"}},
                    Policy{.keep_within_s = INT64_MAX});
    ASSERT_TRUE(all.ok());
    EXPECT_TRUE((*all)[1].keep);
    auto none = plan({{"new", INT64_MAX, "g"}, {"old", INT64_MIN, "g"}},
                     Policy{.keep_within_s = 18'000'000'000LL});  // ~570 years < the 584-year gap
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE((*none)[1].keep);
}

TEST(Plan, NewestAlwaysKept) {
    const int64_t t = utc("2026-06-01T00:00:00");
    for (const Policy& p : {Policy{.keep_last = 0}, Policy{.keep_daily = 0},
                            Policy{.keep_yearly = 0, .keep_within_s = 0}}) {
        auto r = plan({{"old", t - 1, "g"}, {"new", t, "g"}, {"other", t - 5, "h"}}, p);
        ASSERT_TRUE(r.ok()) << p.describe();
        ASSERT_EQ(r->size(), 3u);
        EXPECT_EQ((*r)[0].id, "new");
        EXPECT_EQ((*r)[0].reasons, std::vector<std::string>{"newest"}) << p.describe();
        EXPECT_FALSE((*r)[1].keep) << p.describe();
        EXPECT_TRUE((*r)[1].reasons.empty());
        EXPECT_EQ((*r)[2].id, "other");
        EXPECT_EQ((*r)[2].reasons, std::vector<std::string>{"newest"}) << p.describe();
    }
}

TEST(Plan, Refusals) {
    const std::vector<Candidate> one = {{"a", 1, "g"}};
    auto empty = plan(one, Policy{});
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.status().code(), Code::invalid_argument);
    EXPECT_NE(empty.status().message().find("no keep-* rule"), std::string::npos)
        << empty.status().message();
    EXPECT_FALSE(plan({}, Policy{}).ok());  // refused even when there is nothing to decide

    auto negative = plan(one, Policy{.keep_within_s = -1});
    ASSERT_FALSE(negative.ok());
    EXPECT_EQ(negative.status().code(), Code::invalid_argument);

    auto nothing = plan({}, Policy{.keep_last = 1});
    ASSERT_TRUE(nothing.ok());
    EXPECT_TRUE(nothing->empty());
}

TEST(Policy, EmptyAndDescribe) {
    EXPECT_TRUE(Policy{}.empty());
    EXPECT_EQ(Policy{}.describe(), "");
    EXPECT_FALSE(Policy{.keep_daily = 0}.empty());  // set, even though it keeps nothing
    EXPECT_FALSE(Policy{.keep_within_s = 0}.empty());
    EXPECT_EQ(Policy{.keep_daily = 0}.describe(), "keep-daily 0");
    EXPECT_EQ((Policy{.keep_last = 3, .keep_daily = 7, .keep_within_s = 30 * 86400}).describe(),
              "keep-last 3, keep-within 30d, keep-daily 7");
    const Policy all{.keep_last = 7,
                     .keep_hourly = 24,
                     .keep_daily = 7,
                     .keep_weekly = 4,
                     .keep_monthly = 12,
                     .keep_yearly = 3,
                     .keep_within_s = 5400};
    EXPECT_FALSE(all.empty());
    EXPECT_EQ(all.describe(),
              "keep-last 7, keep-within 1h30m, keep-hourly 24, keep-daily 7, keep-weekly 4, "
              "keep-monthly 12, keep-yearly 3");
    EXPECT_EQ(Policy{.keep_yearly = 1000000}.describe(), "keep-yearly 1000000");
}

TEST(Duration, Format) {
    struct Case {
        int64_t seconds;
        const char* text;
    };
    const Case cases[] = {
        {0, "0s"},
        {45, "45s"},
        {60, "1m"},
        {90, "1m30s"},
        {3600, "1h"},
        {3601, "1h1s"},
        {5400, "1h30m"},
        {86399, "23h59m59s"},
        {86400, "1d"},
        {90000, "1d1h"},
        {6 * 86400, "6d"},
        {7 * 86400, "1w"},
        {8 * 86400, "8d"},
        {7 * 86400 + 3600, "1w1h"},
        {14 * 86400, "2w"},
        {30 * 86400, "30d"},
        {364 * 86400 + 5, "52w5s"},
        {365 * 86400, "365d"},
        {INT64_MAX, "106751991167300d15h30m7s"},
        {-5, "-5s"},
        {-5400, "-1h30m"},
        {INT64_MIN, "-106751991167300d15h30m8s"},
    };
    for (const auto& c : cases) EXPECT_EQ(format_duration(c.seconds), c.text) << c.seconds;
}

TEST(Duration, FormatThenParseRoundTrips) {
    std::vector<int64_t> values = {INT64_MAX, INT64_MAX - 1, 7LL * 86400 * 1000000};
    for (int64_t v = 0; v < 3 * 86400; v += 37) values.push_back(v);
    for (int64_t d = 0; d < 60; ++d) values.push_back(d * 86400 + 61);
    for (int64_t v : values) {
        std::string text = format_duration(v);
        auto back = parse_duration(text);
        ASSERT_TRUE(back.ok()) << v << " -> " << text << ": " << back.status().to_string();
        EXPECT_EQ(*back, v) << text;
    }
    // And the other way, for text already in the canonical form.
    for (const char* text : {"30d", "2w", "1h30m", "45s", "8d", "1w1h", "27d23h59m59s"}) {
        auto v = parse_duration(text);
        ASSERT_TRUE(v.ok()) << text;
        EXPECT_EQ(format_duration(*v), text);
    }
}

TEST(Duration, Parse) {
    EXPECT_EQ(*parse_duration("1w2d3h4m5s"), 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
    EXPECT_EQ(*parse_duration("90m"), 5400);
    for (const char* bad : {"", "1", "1y", "1h1h", "30m1h", "-1h", "1 h", "10000000000000000000s"})
        EXPECT_FALSE(parse_duration(bad).ok()) << bad;
    auto r = parse_duration("1 hour");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::invalid_argument);
    EXPECT_EQ(r.status().message(),
              "'1 hour' is not a duration (use e.g. \"30s\", \"15m\", \"1h\", \"7d\", \"1h30m\")");
    auto control = parse_duration("1\x01h");
    ASSERT_FALSE(control.ok());
    EXPECT_NE(control.status().message().find("'1?h'"), std::string::npos);
}

}  // namespace
}  // namespace coffer::retention
