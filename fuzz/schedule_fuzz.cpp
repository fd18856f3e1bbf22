// Schedules and durations (schedule/schedule.h, retention/policy.h): the values coffer.toml
// spells as text.
//
// The input is "expression\ntimezone" (the time zone optional); its first 8 bytes are also read
// as a number of seconds. Checks: parse_duration accepts only non-negative values and
// format_duration is its inverse (both ways); an accepted schedule keeps its trimmed expression
// and zone, the zone passes check_timezone, and next_after moves strictly forward (or answers
// INT64_MAX), from several starting points, twice in a row.
#include <cstring>
#include <string>

#include "coffer/retention/policy.h"
#include "coffer/schedule/schedule.h"
#include "fuzz_common.h"

using namespace coffer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    std::string_view text(reinterpret_cast<const char*>(data), size);

    auto d = retention::parse_duration(text);
    if (d.ok()) {
        FUZZ_CHECK(*d >= 0);
        std::string printed = retention::format_duration(*d);
        auto back = retention::parse_duration(printed);
        FUZZ_CHECK_MSG(back.ok() && *back == *d, std::string(text) + " -> " + printed);
    } else {
        FUZZ_CHECK(d.status().code() == Code::invalid_argument);
    }
    int64_t secs = 0;
    if (size > 0) std::memcpy(&secs, data, std::min(size, sizeof secs));
    if (secs < 0) secs = -(secs + 1);
    std::string printed = retention::format_duration(secs);
    auto back = retention::parse_duration(printed);
    FUZZ_CHECK_MSG(back.ok() && *back == secs, std::to_string(secs) + " -> " + printed);

    size_t nl = text.find('\n');
    std::string_view expression = text.substr(0, nl);
    std::string_view zone = nl == std::string_view::npos ? "UTC" : text.substr(nl + 1);
    auto s = schedule::Schedule::parse(expression, zone);
    if (!s.ok()) {
        FUZZ_CHECK_MSG(s.status().code() == Code::invalid_argument || s.status().code() == Code::io,
                       s.status().to_string());
        return 0;
    }
    FUZZ_CHECK(schedule::Schedule::check_timezone(zone).ok());
    FUZZ_CHECK(s->timezone() == zone);
    FUZZ_CHECK(!s->expression().empty() && s->expression().size() <= expression.size());
    for (int64_t t : {int64_t{0}, int64_t{1767225600} * 1000000000, int64_t{-1},
                      int64_t{4102444800} * 1000000000, INT64_MAX - 1}) {
        int64_t n1 = s->next_after(t);
        FUZZ_CHECK_MSG(n1 > t, "next_after(" + std::to_string(t) + ") = " + std::to_string(n1));
        if (n1 == INT64_MAX) continue;
        int64_t n2 = s->next_after(n1);
        FUZZ_CHECK_MSG(n2 > n1, "next_after(" + std::to_string(n1) + ") = " + std::to_string(n2));
    }
    return 0;
}
