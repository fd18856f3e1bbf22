// Audit log entries (audit/entry.h) and canonical JSON (audit/jcs.h). The input is one log line.
//
// Checks:
// - canonical_json: the output holds no newline, parses back to an equal value, and is a fixed
//   point (canonical_json(parse(c)) == c); it fails only with invalid_argument.
// - check_entry/encode_entry agree: an entry that passes the schema encodes to exactly its
//   canonical form (or fails in canonical_json, never with an internal error), and the canonical
//   bytes pass the schema again with the same fields.
// - parse_entry_time: an accepted time has nanos < 1e9 and, printed back in the strict format,
//   parses to the same instant; format_entry_time's output parses (millisecond precision).
#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "coffer/audit/entry.h"
#include "coffer/audit/jcs.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::audit;
using json = nlohmann::json;

namespace {

bool same(const EntryFields& a, const EntryFields& b) {
    return a.origin == b.origin && a.index == b.index && a.time == b.time && a.action == b.action &&
           a.outcome == b.outcome && a.activated_key.name == b.activated_key.name &&
           a.activated_key.key_id == b.activated_key.key_id &&
           a.activated_key.public_key == b.activated_key.public_key &&
           a.retired_key_id == b.retired_key_id;
}

// Days since 1970-01-01 -> civil date (Howard Hinnant's algorithm), for printing times back.
void civil(int64_t days, int64_t& y, unsigned& m, unsigned& d) {
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
}

void check_time(std::string_view text) {
    auto t = parse_entry_time(text);
    if (!t.ok()) {
        FUZZ_CHECK(t.status().code() == Code::invalid_argument);
        return;
    }
    FUZZ_CHECK(t->nanos < 1000000000u);
    int64_t days = t->seconds >= 0 ? t->seconds / 86400 : (t->seconds - 86399) / 86400;
    int64_t sod = t->seconds - days * 86400;
    int64_t y;
    unsigned m, d;
    civil(days, y, m, d);
    FUZZ_CHECK(y >= 0 && y <= 9999);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%09uZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(sod / 3600),
                  static_cast<long long>(sod / 60 % 60), static_cast<long long>(sod % 60),
                  t->nanos);
    auto back = parse_entry_time(buf);
    FUZZ_CHECK_MSG(back.ok() && *back == *t, std::string(text) + " -> " + buf);

    // format_entry_time, within the range of system_clock's nanoseconds (1678..2261).
    if (t->seconds > -9000000000LL && t->seconds < 9000000000LL) {
        using namespace std::chrono;
        const auto ms = t->nanos / 1000000u;
        system_clock::time_point tp{
            duration_cast<system_clock::duration>(seconds(t->seconds) + milliseconds(ms))};
        std::string printed = format_entry_time(tp);
        auto again = parse_entry_time(printed);
        FUZZ_CHECK_MSG(again.ok(), printed + ": " + again.status().to_string());
        FUZZ_CHECK_MSG(again->seconds == t->seconds && again->nanos == ms * 1000000u, printed);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    std::string text(reinterpret_cast<const char*>(data), size);
    if (size <= 64) check_time(text);

    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return 0;

    auto canonical = canonical_json(j);
    if (canonical.ok()) {
        FUZZ_CHECK(canonical->find('\n') == std::string::npos);
        json back = json::parse(*canonical, nullptr, false);
        FUZZ_CHECK_MSG(!back.is_discarded(), "canonical form is not JSON: " + *canonical);
        FUZZ_CHECK_MSG(back == j, "canonical form parses to another value: " + *canonical);
        auto again = canonical_json(back);
        FUZZ_CHECK(again.ok() && *again == *canonical);
    } else {
        FUZZ_CHECK_MSG(canonical.status().code() == Code::invalid_argument,
                       canonical.status().to_string());
    }

    Result<EntryFields> fields = invalid_argument("");
    try {
        fields = check_entry(j);
    } catch (const std::exception& e) {
        fuzz::fail(__FILE__, __LINE__, "check_entry threw", e.what());
    }
    auto encoded = encode_entry(j);
    FUZZ_CHECK_MSG(encoded.status().code() != Code::internal, encoded.status().to_string());
    if (!fields.ok()) {
        FUZZ_CHECK(fields.status().code() == Code::invalid_argument);
        FUZZ_CHECK(!encoded.ok());
        return 0;
    }
    FUZZ_CHECK(encoded.ok() == canonical.ok());
    if (!encoded.ok()) return 0;
    FUZZ_CHECK(*encoded == *canonical);
    FUZZ_CHECK(!fields->origin.empty() && !fields->action.empty());
    auto refields = check_entry(json::parse(*encoded));
    FUZZ_CHECK_MSG(refields.ok(), refields.status().to_string());
    FUZZ_CHECK(same(*fields, *refields));
    if (fields->action == k_action_key_activate) {
        auto v = Verifier::parse(fields->activated_key.encode());
        FUZZ_CHECK(v.ok() && v->key_id == fields->activated_key.key_id);
    }
    return 0;
}
