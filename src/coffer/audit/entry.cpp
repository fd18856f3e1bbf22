#include "coffer/audit/entry.h"

#include <array>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "coffer/audit/jcs.h"

namespace coffer::audit {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 11> k_fields = {
    "schema", "origin", "index",   "time",  "actor",   "host",
    "action", "target", "outcome", "error", "details",
};
constexpr std::array<std::string_view, 4> k_outcomes = {"ok", "failed", "refused", "started"};

bool digits(std::string_view s, size_t pos, size_t n, unsigned& out) {
    out = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + static_cast<unsigned>(s[i] - '0');
    }
    return true;
}

// The member `name` of an object, or null when it is absent.
const json* member(const json& obj, std::string_view name) {
    auto it = obj.find(std::string(name));
    return it == obj.end() ? nullptr : &*it;
}

// A required string member; `non_empty` also refuses "".
Status string_field(const json& obj, std::string_view name, bool non_empty, std::string* out) {
    const json* v = member(obj, name);
    if (!v) return invalid_argument("missing field '" + std::string(name) + "'");
    if (!v->is_string())
        return invalid_argument("field '" + std::string(name) + "' is not a string");
    const auto& s = v->get_ref<const std::string&>();
    if (non_empty && s.empty())
        return invalid_argument("field '" + std::string(name) + "' is empty");
    if (out) *out = s;
    return ok_status();
}

bool is_lower_hex8(std::string_view s) {
    if (s.size() != 8) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

Status check_key_details(const json& details, EntryFields& f) {
    if (f.outcome != "ok")
        return invalid_argument(f.action + " must have outcome \"ok\", not \"" + f.outcome + "\"");
    if (f.action == k_action_key_activate) {
        std::string key;
        TRY(string_field(details, "key", true, &key).with_context("details"));
        auto v = Verifier::parse(key);
        if (!v.ok()) return v.status().with_context("details.key");
        f.activated_key = std::move(v).value();
    } else {
        std::string id;
        TRY(string_field(details, "key_id", true, &id).with_context("details"));
        if (!is_lower_hex8(id))
            return invalid_argument("details.key_id must be 8 lowercase hex digits");
        f.retired_key_id = static_cast<uint32_t>(std::stoul(id, nullptr, 16));
    }
    return ok_status();
}

}  // namespace

Result<EntryTime> parse_entry_time(std::string_view s) {
    // YYYY-MM-DDTHH:MM:SS[.F{1,9}]Z
    const Status bad = invalid_argument("time '" + std::string(s.substr(0, 40)) +
                                        "' is not RFC 3339 UTC (2024-05-01T12:00:00Z)");
    if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s.back() != 'Z')
        return bad;
    unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (!digits(s, 0, 4, y) || !digits(s, 5, 2, mo) || !digits(s, 8, 2, d) ||
        !digits(s, 11, 2, h) || !digits(s, 14, 2, mi) || !digits(s, 17, 2, sec))
        return bad;
    uint32_t nanos = 0;
    if (s.size() > 20) {
        const size_t n = s.size() - 21;  // fraction digits between '.' and 'Z'
        unsigned frac = 0;
        if (s[19] != '.' || n < 1 || n > 9 || !digits(s, 20, n, frac)) return bad;
        nanos = frac;
        for (size_t i = n; i < 9; ++i) nanos *= 10;
    }
    using namespace std::chrono;
    const year_month_day ymd{year{static_cast<int>(y)}, month{mo}, day{d}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return bad;
    EntryTime t;
    t.seconds = static_cast<int64_t>(sys_days(ymd).time_since_epoch().count()) * 86400 +
                int64_t{h} * 3600 + int64_t{mi} * 60 + int64_t{sec};
    t.nanos = nanos;
    return t;
}

std::string format_entry_time(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(t);
    const auto day_point = floor<days>(ms);
    const year_month_day ymd{day_point};
    const hh_mm_ss hms{ms - day_point};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                  unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                  int(hms.minutes().count()), int(hms.seconds().count()),
                  int(hms.subseconds().count()));
    return buf;
}

Result<EntryFields> check_entry(const nlohmann::json& e) {
    if (!e.is_object()) return invalid_argument("entry is not a JSON object");
    for (const auto& [name, value] : e.items()) {
        bool known = false;
        for (std::string_view f : k_fields) known = known || name == f;
        if (!known) return invalid_argument("unknown field '" + name + "'");
    }
    EntryFields f;
    std::string schema;
    TRY(string_field(e, "schema", true, &schema));
    if (schema != k_entry_schema)
        return invalid_argument("schema is '" + schema + "', expected '" +
                                std::string(k_entry_schema) + "'");
    TRY(string_field(e, "origin", true, &f.origin));

    const json* index = member(e, "index");
    if (!index) return invalid_argument("missing field 'index'");
    if (index->is_number_unsigned()) {
        f.index = index->get_ref<const json::number_unsigned_t&>();
    } else if (index->is_number_integer() && index->get_ref<const json::number_integer_t&>() >= 0) {
        f.index = static_cast<uint64_t>(index->get_ref<const json::number_integer_t&>());
    } else {
        return invalid_argument("field 'index' is not a non-negative integer");
    }

    std::string time;
    TRY(string_field(e, "time", true, &time));
    TRY_ASSIGN(f.time, parse_entry_time(time));
    TRY(string_field(e, "actor", true, nullptr));
    TRY(string_field(e, "host", false, nullptr));
    TRY(string_field(e, "action", true, &f.action));
    TRY(string_field(e, "target", false, nullptr));
    TRY(string_field(e, "outcome", true, &f.outcome));
    bool outcome_ok = false;
    for (std::string_view o : k_outcomes) outcome_ok = outcome_ok || f.outcome == o;
    if (!outcome_ok)
        return invalid_argument("outcome '" + f.outcome +
                                "' is not one of ok, failed, refused, started");
    if (member(e, "error")) TRY(string_field(e, "error", false, nullptr));

    const json* details = member(e, "details");
    if (!details) return invalid_argument("missing field 'details'");
    if (!details->is_object()) return invalid_argument("field 'details' is not an object");
    if (f.action == k_action_key_activate || f.action == k_action_key_retire)
        TRY(check_key_details(*details, f));
    return f;
}

Result<std::string> encode_entry(const nlohmann::json& fields) {
    try {
        auto checked = check_entry(fields);
        if (!checked.ok()) return checked.status().with_context("audit entry");
        auto bytes = canonical_json(fields);
        if (!bytes.ok()) return bytes.status().with_context("audit entry");
        return std::move(bytes).value();
    } catch (const std::exception& ex) {
        return internal_error(std::string("audit entry: ") + ex.what());
    }
}

}  // namespace coffer::audit
