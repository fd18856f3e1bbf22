#include "coffer/audit/jcs.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "coffer/audit/utf8.h"

namespace coffer::audit {
namespace {

using json = nlohmann::json;

constexpr int64_t k_max_exact = int64_t{1} << 53;

// s as UTF-16 code units, the order RFC 8785 sorts member names in; false if s is not UTF-8.
bool utf8_to_utf16(std::string_view s, std::u16string& out) {
    uint32_t cp = 0;
    for (size_t i = 0; i < s.size();) {
        if (!detail::next_code_point(s, i, cp)) return false;
        if (cp < 0x10000) {
            out.push_back(static_cast<char16_t>(cp));
        } else {
            cp -= 0x10000;
            out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
            out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ffu)));
        }
    }
    return true;
}

Status append_string(std::string_view s, const std::string& path, std::string& out) {
    if (!detail::is_valid_utf8(s)) return invalid_argument(path + ": string is not valid UTF-8");
    static constexpr char k_hex[] = "0123456789abcdef";
    out.push_back('"');
    for (char c : s) {
        const auto u = static_cast<uint8_t>(c);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (u < 0x20) {
                    out += "\\u00";
                    out.push_back(k_hex[u >> 4]);
                    out.push_back(k_hex[u & 0xfu]);
                } else {
                    out.push_back(c);  // '/' and U+007F too: JSON.stringify leaves them alone
                }
        }
    }
    out.push_back('"');
    return ok_status();
}

Status append_value(const json& v, const std::string& path, int depth, std::string& out) {
    switch (v.type()) {
        case json::value_t::null:
            out += "null";
            return ok_status();
        case json::value_t::boolean:
            out += v.get_ref<const json::boolean_t&>() ? "true" : "false";
            return ok_status();
        case json::value_t::number_integer: {
            const int64_t n = v.get_ref<const json::number_integer_t&>();
            if (n < -k_max_exact || n > k_max_exact)
                return invalid_argument(path + ": integer " + std::to_string(n) +
                                        " is outside [-2^53, 2^53]");
            out += std::to_string(n);
            return ok_status();
        }
        case json::value_t::number_unsigned: {
            const uint64_t n = v.get_ref<const json::number_unsigned_t&>();
            if (n > static_cast<uint64_t>(k_max_exact))
                return invalid_argument(path + ": integer " + std::to_string(n) +
                                        " is outside [-2^53, 2^53]");
            out += std::to_string(n);
            return ok_status();
        }
        case json::value_t::number_float:
            return invalid_argument(path + ": non-integer numbers are not allowed");
        case json::value_t::string:
            return append_string(v.get_ref<const json::string_t&>(), path, out);
        case json::value_t::array: {
            if (depth >= k_max_depth) return invalid_argument(path + ": nested too deeply");
            out.push_back('[');
            size_t i = 0;
            for (const json& item : v.get_ref<const json::array_t&>()) {
                if (i != 0) out.push_back(',');
                TRY(append_value(item, path + "[" + std::to_string(i) + "]", depth + 1, out));
                ++i;
            }
            out.push_back(']');
            return ok_status();
        }
        case json::value_t::object: {
            if (depth >= k_max_depth) return invalid_argument(path + ": nested too deeply");
            // nlohmann keeps members ordered by UTF-8 bytes, i.e. by code point. RFC 8785 orders
            // by UTF-16 code units, which differs once a name holds a character above U+FFFF
            // (its surrogates sort before U+E000..U+FFFF), so sort again.
            using Member = std::pair<std::u16string, const json::object_t::value_type*>;
            std::vector<Member> members;
            members.reserve(v.size());
            for (const auto& member : v.get_ref<const json::object_t&>()) {
                std::u16string key16;
                if (!utf8_to_utf16(member.first, key16))
                    return invalid_argument(path + ": member name is not valid UTF-8");
                members.emplace_back(std::move(key16), &member);
            }
            std::sort(members.begin(), members.end(),
                      [](const Member& a, const Member& b) { return a.first < b.first; });
            out.push_back('{');
            bool first = true;
            for (const auto& [key16, member] : members) {
                if (!first) out.push_back(',');
                first = false;
                TRY(append_string(member->first, path, out));
                out.push_back(':');
                TRY(append_value(member->second, path + "." + member->first, depth + 1, out));
            }
            out.push_back('}');
            return ok_status();
        }
        case json::value_t::binary:
            return invalid_argument(path + ": binary values are not JSON");
        case json::value_t::discarded:
            break;
    }
    return invalid_argument(path + ": not a JSON value");
}

}  // namespace

Result<std::string> canonical_json(const nlohmann::json& value) {
    std::string out;
    try {
        TRY(append_value(value, "$", 0, out));
    } catch (const std::exception& e) {
        return internal_error(std::string("canonical json: ") + e.what());
    }
    return out;
}

}  // namespace coffer::audit
