// Retention policy (see policy.h): UTC calendar buckets, the per-group walk, and durations.
#include "coffer/retention/policy.h"

#include <time.h>
#include "coffer/util/text.h"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

namespace coffer::retention {

namespace {

constexpr int64_t k_ns_per_second = 1'000'000'000;
constexpr std::string_view k_duration_hint = R"((use e.g. "30s", "15m", "1h", "7d", "1h30m"))";

// Text fit to quote in a message: control characters replaced, long text shortened.
std::string quoted(std::string_view text) {
    return printable_excerpt(text, 64);
}

int64_t unit_seconds(char c) {
    switch (c) {
        case 's':
            return 1;
        case 'm':
            return 60;
        case 'h':
            return 3600;
        case 'd':
            return 86400;
        case 'w':
            return 7 * 86400;
        default:
            return 0;
    }
}

// The labels of the buckets a time falls in; a label is also the bucket's identity.
struct Buckets {
    std::string hour;   // 2026-11-30T14
    std::string day;    // 2026-11-30
    std::string week;   // 2026-W48 (ISO-8601 week-numbering year and week)
    std::string month;  // 2026-11
    std::string year;   // 2026
};

Buckets buckets_of(int64_t time_ns) {
    // Round towards minus infinity so that a time just before 1970 falls on 1969-12-31.
    int64_t seconds = time_ns / k_ns_per_second;
    if (time_ns % k_ns_per_second < 0) --seconds;
    const time_t t = static_cast<time_t>(seconds);
    struct tm tm = {};
    // Cannot fail: |seconds| < 2^34, so the year fits in an int.
    gmtime_r(&t, &tm);
    char text[64];
    Buckets b;
    b.hour.assign(text, strftime(text, sizeof text, "%Y-%m-%dT%H", &tm));
    b.day.assign(text, strftime(text, sizeof text, "%Y-%m-%d", &tm));
    // %G and %V are the ISO-8601 year and week: 2019-12-30 is in 2020-W01, 2021-01-03 in 2020-W53.
    b.week.assign(text, strftime(text, sizeof text, "%G-W%V", &tm));
    b.month.assign(text, strftime(text, sizeof text, "%Y-%m", &tm));
    b.year.assign(text, strftime(text, sizeof text, "%Y", &tm));
    return b;
}

// True when older is less than within_s seconds before newest (newest >= older).
bool within(int64_t newest_ns, int64_t older_ns, int64_t within_s) {
    // Unsigned: the true difference of two int64_t always fits, even across the epoch.
    const uint64_t gap_ns = static_cast<uint64_t>(newest_ns) - static_cast<uint64_t>(older_ns);
    const auto limit_s = static_cast<uint64_t>(within_s);
    if (limit_s > std::numeric_limits<uint64_t>::max() / k_ns_per_second) return true;
    return gap_ns < limit_s * k_ns_per_second;
}

// One calendar rule's state during the walk of a group.
struct CalendarRule {
    std::string_view name;
    std::string Buckets::*label;
    const std::optional<uint32_t>* count;
    uint32_t left = 0;
    std::string previous;  // the bucket last kept by this rule; "" (no label) before the first
};

// Decides one group, given newest first.
void plan_group(std::vector<Decision>::iterator first, std::vector<Decision>::iterator last,
                const Policy& policy) {
    std::array<CalendarRule, 5> rules = {{
        {"hourly", &Buckets::hour, &policy.keep_hourly},
        {"daily", &Buckets::day, &policy.keep_daily},
        {"weekly", &Buckets::week, &policy.keep_weekly},
        {"monthly", &Buckets::month, &policy.keep_monthly},
        {"yearly", &Buckets::year, &policy.keep_yearly},
    }};
    for (auto& r : rules) r.left = r.count->value_or(0);

    const int64_t newest_ns = first->time_ns;
    uint32_t kept_by_last = 0;
    const std::string within_reason =
        policy.keep_within_s ? "within " + format_duration(*policy.keep_within_s) : "";
    for (auto d = first; d != last; ++d) {
        const Buckets b = buckets_of(d->time_ns);
        if (d == first) d->reasons.push_back("newest");
        if (policy.keep_last && kept_by_last < *policy.keep_last)
            d->reasons.push_back("last " + std::to_string(++kept_by_last));
        if (policy.keep_within_s && within(newest_ns, d->time_ns, *policy.keep_within_s))
            d->reasons.push_back(within_reason);
        for (auto& r : rules) {
            if (r.left == 0) continue;
            const std::string& label = b.*r.label;
            // Newest first, so a bucket's snapshots are adjacent and its first is its newest.
            if (label == r.previous) continue;
            r.previous = label;
            --r.left;
            d->reasons.push_back(std::string(r.name) + " " + label);
        }
        d->keep = !d->reasons.empty();
    }
}

}  // namespace

bool Policy::empty() const {
    return !keep_last && !keep_hourly && !keep_daily && !keep_weekly && !keep_monthly &&
           !keep_yearly && !keep_within_s;
}

std::string Policy::describe() const {
    std::string out;
    const auto add = [&](std::string_view flag, const std::string& value) {
        out += (out.empty() ? "" : ", ") + std::string(flag) + " " + value;
    };
    if (keep_last) add("keep-last", std::to_string(*keep_last));
    if (keep_within_s) add("keep-within", format_duration(*keep_within_s));
    if (keep_hourly) add("keep-hourly", std::to_string(*keep_hourly));
    if (keep_daily) add("keep-daily", std::to_string(*keep_daily));
    if (keep_weekly) add("keep-weekly", std::to_string(*keep_weekly));
    if (keep_monthly) add("keep-monthly", std::to_string(*keep_monthly));
    if (keep_yearly) add("keep-yearly", std::to_string(*keep_yearly));
    return out;
}

Result<std::vector<Decision>> plan(const std::vector<Candidate>& snapshots, const Policy& policy) {
    if (policy.empty())
        return invalid_argument(
            "retention policy has no keep-* rule: refusing to plan the removal of every snapshot "
            "but the newest");
    if (policy.keep_within_s && *policy.keep_within_s < 0)
        return invalid_argument("keep-within must not be negative, not " +
                                std::to_string(*policy.keep_within_s) + " seconds");
    std::vector<Decision> out;
    out.reserve(snapshots.size());
    for (const auto& c : snapshots) out.push_back({c.id, c.group, c.time_ns, false, {}});
    std::sort(out.begin(), out.end(), [](const Decision& a, const Decision& b) {
        if (a.group != b.group) return a.group < b.group;
        if (a.time_ns != b.time_ns) return a.time_ns > b.time_ns;
        return a.id < b.id;
    });
    for (auto first = out.begin(); first != out.end();) {
        auto last = std::find_if(first, out.end(),
                                 [&](const Decision& d) { return d.group != first->group; });
        plan_group(first, last, policy);
        first = last;
    }
    return out;
}

Result<int64_t> parse_duration(std::string_view text) {
    const auto bad = [&] {
        return invalid_argument("'" + quoted(text) + "' is not a duration " +
                                std::string(k_duration_hint));
    };
    if (text.empty()) return bad();
    constexpr int64_t k_max = std::numeric_limits<int64_t>::max();
    int64_t total = 0;
    int64_t previous_unit = k_max;  // units must come largest first, each at most once
    bool overflow = false;
    size_t i = 0;
    while (i < text.size()) {
        if (text[i] < '0' || text[i] > '9') return bad();
        int64_t n = 0;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
            int digit = text[i] - '0';
            if (n > (k_max - digit) / 10)
                overflow = true;
            else
                n = n * 10 + digit;
        }
        if (i == text.size()) return bad();  // a number without a unit
        int64_t unit = unit_seconds(text[i++]);
        if (unit == 0 || unit >= previous_unit) return bad();
        previous_unit = unit;
        if (overflow || n > k_max / unit || total > k_max - n * unit) {
            overflow = true;
            continue;  // keep scanning so a malformed tail is still reported as malformed
        }
        total += n * unit;
    }
    if (overflow) return invalid_argument("'" + quoted(text) + "' is too long a duration");
    return total;
}

std::string format_duration(int64_t seconds) {
    if (seconds == 0) return "0s";
    std::string out;
    // Unsigned so that the magnitude of INT64_MIN is representable.
    uint64_t rest = static_cast<uint64_t>(seconds);
    if (seconds < 0) {
        out = "-";
        rest = 0 - rest;
    }
    const uint64_t days = rest / 86400;
    rest %= 86400;
    if (days != 0 && days % 7 == 0)
        out += std::to_string(days / 7) + "w";
    else if (days != 0)
        out += std::to_string(days) + "d";
    for (auto [unit, letter] : {std::pair<uint64_t, char>{3600, 'h'}, {60, 'm'}, {1, 's'}}) {
        if (rest >= unit) out += std::to_string(rest / unit) + letter;
        rest %= unit;
    }
    return out;
}

}  // namespace coffer::retention
