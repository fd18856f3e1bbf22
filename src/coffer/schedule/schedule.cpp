// Schedule: parsing of cron and @every expressions, and next_after over the wall clock of a time
// zone. Time zones come from Howard Hinnant's date/tz on the OS tzdata, because GCC 12's
// <chrono> has no tzdb.
//
// next_after works in two steps: find the next local minute that matches the fields (skipping
// whole months, days and hours that cannot match), then map it to an instant with the DST rules
// of schedule.h. That mapping never decreases as local time increases, so the first match whose
// instant is after t is the answer.
#include "coffer/schedule/schedule.h"

#include <date/date.h>
#include <date/tz.h>

#include <array>
#include <chrono>
#include <exception>
#include <limits>
#include <optional>
#include <vector>

#include "coffer/retention/policy.h"
#include "coffer/util/text.h"

namespace coffer::schedule {

namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using local_minutes = date::local_time<minutes>;

constexpr int64_t k_ns_per_s = 1'000'000'000;
// Far beyond any sensible backup interval, and small enough that the interval in nanoseconds
// fits in an int64_t.
constexpr int64_t k_max_every_s = int64_t{36500} * 86400;
// 400 Gregorian years are exactly 146097 days = 20871 weeks: dates and weekdays then repeat, so
// an expression that matches no day in one such span matches none ever.
constexpr int k_cycle_days = 146097;

constexpr std::string_view k_forms =
    "use 5 fields \"minute hour day-of-month month day-of-week\" (e.g. \"30 2 * * *\"), "
    "@hourly, @daily, @weekly, @monthly, @yearly or @every <duration>";

const std::vector<std::string_view> k_month_names = {"jan", "feb", "mar", "apr", "may", "jun",
                                                     "jul", "aug", "sep", "oct", "nov", "dec"};
const std::vector<std::string_view> k_day_names = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct Field {
    std::string_view name;
    int low;
    int high;
    const std::vector<std::string_view>* names;  // names[i] is the value low + i; may be null
};

const std::array<Field, 5> k_fields = {{
    {"minute", 0, 59, nullptr},
    {"hour", 0, 23, nullptr},
    {"day-of-month", 1, 31, nullptr},
    {"month", 1, 12, &k_month_names},
    {"day-of-week", 0, 7, &k_day_names},
}};

struct Shortcut {
    std::string_view name;
    std::string_view fields;
};

const std::array<Shortcut, 7> k_shortcuts = {{
    {"@hourly", "0 * * * *"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},
    {"@monthly", "0 0 1 * *"},
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
}};

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equal_folded(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split_spaces(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i])) ++i;
        size_t start = i;
        while (i < s.size() && !is_space(s[i])) ++i;
        if (i > start) out.push_back(s.substr(start, i - start));
    }
    return out;
}

// Text fit to quote in a one-line message: control characters replaced, long text shortened.
std::string quoted(std::string_view text) {
    return printable_excerpt(text, 80);
}

// A decimal number of at most 9 digits (longer is out of range anyway); nullopt otherwise.
std::optional<int> number(std::string_view s) {
    if (s.empty() || s.size() > 9) return std::nullopt;
    int n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
    }
    return n;
}

std::string allowed_values(const Field& f) {
    std::string out = std::to_string(f.low) + "-" + std::to_string(f.high);
    if (f.names)
        out += " or a name " + std::string(f.names->front()) + "-" + std::string(f.names->back());
    return out;
}

// One value of a field: a number in range or, where the field has them, a name. item is the
// list element it came from, quoted when the value itself is empty ("1-").
Result<int> field_value(const Field& f, std::string_view text, std::string_view item) {
    if (auto n = number(text)) {
        if (*n < f.low || *n > f.high)
            return invalid_argument(std::string(f.name) + " " + std::to_string(*n) +
                                    " is outside " + std::to_string(f.low) + "-" +
                                    std::to_string(f.high));
        return *n;
    }
    if (f.names)
        for (size_t i = 0; i < f.names->size(); ++i)
            if (equal_folded(text, (*f.names)[i])) return f.low + static_cast<int>(i);
    if (text.size() > 9 && text.find_first_not_of("0123456789") == std::string_view::npos)
        return invalid_argument(std::string(f.name) + " " + quoted(text) + " is outside " +
                                std::to_string(f.low) + "-" + std::to_string(f.high));
    return invalid_argument(std::string(f.name) + " '" + quoted(text.empty() ? item : text) +
                            "' is not a number " + allowed_values(f));
}

// One list element: "*", "*/n", "a", "a-b" or "a-b/n". Sets its values in bits.
Status parse_item(const Field& f, std::string_view item, std::bitset<64>& bits) {
    size_t slash = item.find('/');
    std::string_view range = item.substr(0, slash);
    int first = f.low;
    int last = f.high;
    bool single = false;
    if (range != "*") {
        size_t dash = range.find('-');
        TRY_ASSIGN(first, field_value(f, range.substr(0, dash), item));
        last = first;
        single = dash == std::string_view::npos;
        if (!single) {
            TRY_ASSIGN(last, field_value(f, range.substr(dash + 1), item));
            if (first > last)
                return invalid_argument(std::string(f.name) + " range '" + quoted(range) +
                                        "' is backwards: the first value must not be larger "
                                        "than the second");
        }
    }
    int step = 1;
    if (slash != std::string_view::npos) {
        // Vixie cron takes a step only after a range or '*'; "5/15" is not "5-59/15" there.
        if (single)
            return invalid_argument(std::string(f.name) + " '" + quoted(item) +
                                    "': a step needs a range or * before it (e.g. " +
                                    std::string(range) + "-" + std::to_string(f.high) +
                                    std::string(item.substr(slash)) + ")");
        std::string_view text = item.substr(slash + 1);
        auto n = number(text);
        // A step as large as the field's span selects only the first value: a plain number says
        // that, so a larger step is taken for a mistake ("*/60" meaning hourly).
        const int max_step = f.high - f.low;
        if (!n)
            return invalid_argument(std::string(f.name) + " step '" + quoted(text) +
                                    "' is not a number 1-" + std::to_string(max_step));
        if (*n < 1 || *n > max_step)
            return invalid_argument(std::string(f.name) + " step " + std::to_string(*n) +
                                    " is outside 1-" + std::to_string(max_step));
        step = *n;
    }
    for (int v = first; v <= last; v += step) bits.set(static_cast<size_t>(v));
    return ok_status();
}

// A whole field: a comma-separated list of items.
Status parse_field(const Field& f, std::string_view text, std::bitset<64>& bits) {
    size_t start = 0;
    for (;;) {
        size_t comma = text.find(',', start);
        std::string_view item = text.substr(start, comma - start);
        if (item.empty())
            return invalid_argument(std::string(f.name) + " '" + quoted(text) +
                                    "' has an empty list element");
        TRY(parse_item(f, item, bits));
        if (comma == std::string_view::npos) return ok_status();
        start = comma + 1;
    }
}

template <size_t N>
std::bitset<N> narrow(const std::bitset<64>& bits) {
    std::bitset<N> out;
    for (size_t i = 0; i < N; ++i) out[i] = bits[i];
    return out;
}

bool day_matches(const detail::CronFields& c, const date::year_month_day& ymd,
                 date::weekday weekday) {
    bool dom = c.days[static_cast<unsigned>(ymd.day())];
    bool dow = c.weekdays[weekday.c_encoding()];
    return c.days_or ? dom || dow : dom && dow;
}

// The first local minute at or after from whose fields match, looking at days before limit.
std::optional<local_minutes> next_match(const detail::CronFields& c, local_minutes from,
                                        date::local_days limit) {
    date::local_days day = date::floor<date::days>(from);
    auto minute_of_day = static_cast<int>((from - day).count());
    int hour = minute_of_day / 60;
    int minute = minute_of_day % 60;
    while (day < limit) {
        date::year_month_day ymd{day};
        if (!c.months[static_cast<unsigned>(ymd.month())]) {
            auto next_month = date::year_month_day{ymd.year() / ymd.month() / 1} + date::months{1};
            day = date::local_days{next_month};
            hour = minute = 0;
            continue;
        }
        if (day_matches(c, ymd, date::weekday{day})) {
            for (; hour < 24; ++hour, minute = 0) {
                if (!c.hours[static_cast<size_t>(hour)]) continue;
                for (; minute < 60; ++minute)
                    if (c.minutes[static_cast<size_t>(minute)])
                        return day + std::chrono::hours{hour} + minutes{minute};
            }
        }
        day += date::days{1};
        hour = minute = 0;
    }
    return std::nullopt;
}

int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if (a % b != 0 && a < 0) --q;
    return q;
}

Result<const date::time_zone*> find_zone(std::string_view name) {
    // UTC needs no tz database: a host without tzdata can still run UTC schedules.
    if (name == "UTC") return static_cast<const date::time_zone*>(nullptr);
    try {
        (void)date::get_tzdb();
    } catch (const std::exception& e) {
        return io_error("cannot read the time zone database under /usr/share/zoneinfo (" +
                        std::string(e.what()) + "); install tzdata, or use the time zone UTC");
    }
    const date::time_zone* zone = nullptr;
    try {
        zone = date::locate_zone(name);
    } catch (const std::exception&) {
        return invalid_argument("unknown time zone '" + quoted(name) +
                                "': use an IANA name such as Europe/Berlin or UTC");
    }
    try {
        // The zone's file is read on first use: do it now, so that next_after does no I/O and
        // an unreadable file is reported here.
        (void)zone->get_info(date::sys_seconds{});
    } catch (const std::exception& e) {
        return io_error("cannot read time zone '" + quoted(name) +
                        "' from /usr/share/zoneinfo: " + std::string(e.what()));
    }
    return zone;
}

}  // namespace

Result<Schedule> Schedule::parse(std::string_view expression, std::string_view timezone) {
    Schedule s;
    std::string_view text = trim(expression);
    s.m_expression = std::string(text);
    s.m_timezone = std::string(timezone);
    const std::string prefix = "schedule '" + quoted(text) + "': ";
    const auto bad = [&](std::string_view what) {
        return invalid_argument(prefix + std::string(what));
    };

    std::vector<std::string_view> words = split_spaces(text);
    if (words.empty()) return bad("is empty: " + std::string(k_forms));
    std::string_view fields_text = text;
    if (words[0].starts_with('@')) {
        if (equal_folded(words[0], "@every")) {
            if (words.size() != 2) return bad("@every takes one duration (e.g. \"@every 1h30m\")");
            auto d = retention::parse_duration(words[1]);
            if (!d.ok()) return bad(d.status().message());
            if (*d < 1) return bad("the interval must be at least 1s");
            if (*d > k_max_every_s)
                return bad("the interval must be at most " +
                           retention::format_duration(k_max_every_s));
            s.m_every_s = *d;
            TRY_ASSIGN(s.m_zone, find_zone(timezone));
            return s;
        }
        const Shortcut* found = nullptr;
        for (const auto& shortcut : k_shortcuts)
            if (equal_folded(words[0], shortcut.name)) found = &shortcut;
        if (!found) return bad("unknown '" + quoted(words[0]) + "': " + std::string(k_forms));
        if (words.size() != 1) return bad(std::string(found->name) + " takes nothing after it");
        fields_text = found->fields;
        words = split_spaces(fields_text);
    }
    if (words.size() != 5)
        return bad("has " + std::to_string(words.size()) + " field" +
                   (words.size() == 1 ? "" : "s") + ", expected 5: " + std::string(k_forms));

    std::array<std::bitset<64>, 5> bits;
    for (size_t i = 0; i < 5; ++i) {
        Status st = parse_field(k_fields[i], words[i], bits[i]);
        if (!st.ok()) return bad(st.message());
    }
    detail::CronFields& c = s.m_cron;
    c.minutes = narrow<60>(bits[0]);
    c.hours = narrow<24>(bits[1]);
    c.days = narrow<32>(bits[2]);
    c.months = narrow<13>(bits[3]);
    if (bits[4][7]) bits[4].set(0);  // 7 is Sunday too
    c.weekdays = narrow<7>(bits[4]);
    // Vixie cron: a day field starting with '*' (also "*/2") is unrestricted, and then both must
    // match; when neither is, either may.
    c.days_or = !words[2].starts_with('*') && !words[4].starts_with('*');

    // Any 400-year span holds every date and weekday combination there is.
    const date::local_days start{date::year{2000} / 1 / 1};
    if (!next_match(c, local_minutes{start}, start + date::days{k_cycle_days}))
        return bad("never fires: no date matches its day-of-month, month and day-of-week");
    TRY_ASSIGN(s.m_zone, find_zone(timezone));
    return s;
}

Status Schedule::check_timezone(std::string_view timezone) {
    auto zone = find_zone(timezone);
    return zone.ok() ? ok_status() : zone.status();
}

int64_t Schedule::next_after(int64_t t_ns) const {
    constexpr int64_t k_max = std::numeric_limits<int64_t>::max();
    if (m_every_s > 0) {
        const int64_t interval = m_every_s * k_ns_per_s;
        const int64_t q = floor_div(t_ns, interval);
        if (q + 1 > k_max / interval) return k_max;
        return (q + 1) * interval;
    }
    return next_cron_after(t_ns);
}

int64_t Schedule::next_cron_after(int64_t t_ns) const {
    constexpr int64_t k_max = std::numeric_limits<int64_t>::max();
    // Whole seconds: every offset is, and seconds keep the arithmetic far from overflow.
    const date::sys_seconds t{seconds{floor_div(t_ns, k_ns_per_s)}};
    const date::local_seconds t_local =
        m_zone ? m_zone->to_local(t) : date::local_seconds{t.time_since_epoch()};
    // The minute holding t fires at or before t (see the header), so start after it.
    local_minutes candidate = date::floor<minutes>(t_local) + minutes{1};
    for (;;) {
        const date::local_days limit =
            date::floor<date::days>(candidate) + date::days{k_cycle_days + 1};
        std::optional<local_minutes> match = next_match(m_cron, candidate, limit);
        if (!match) return k_max;  // parse() made sure this cannot happen
        candidate = *match + minutes{1};
        date::sys_seconds fire{match->time_since_epoch()};
        if (m_zone) {
            const date::local_info info = m_zone->get_info(*match);
            switch (info.result) {
                case date::local_info::unique:
                    fire = date::sys_seconds{match->time_since_epoch() - info.first.offset};
                    break;
                case date::local_info::nonexistent:
                    fire = info.second.begin;  // the gap ends at the transition
                    break;
                case date::local_info::ambiguous:
                    fire = date::sys_seconds{match->time_since_epoch() - info.first.offset};
                    // t lies in the repeated hour's second pass: everything matching in it fired
                    // on the first pass, so jump past it.
                    if (fire <= t) {
                        const local_minutes end = date::ceil<minutes>(date::local_seconds{
                            info.second.begin.time_since_epoch() + info.first.offset});
                        if (end > candidate) candidate = end;
                    }
                    break;
            }
        }
        const int64_t fire_s = fire.time_since_epoch().count();
        if (fire_s > k_max / k_ns_per_s) return k_max;
        // fire_s * k_ns_per_s would underflow only far before t's earliest possible value.
        if (fire_s < -(k_max / k_ns_per_s)) continue;
        const int64_t fire_ns = fire_s * k_ns_per_s;
        if (fire_ns > t_ns) return fire_ns;
    }
}

}  // namespace coffer::schedule
