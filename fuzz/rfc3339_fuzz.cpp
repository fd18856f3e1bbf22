// RFC 3339 times as coffer reads them from the CLI and drill records (repo/keys.h:
// parse_rfc3339, format_rfc3339).
//
// Checks: parse_rfc3339 accepts only what its contract says, "RFC 3339 with a 'Z' or ±hh:mm
// offset, or a plain date" (checked against a strict grammar: YYYY-MM-DD, then optionally
// T|t|space, hh:mm:ss, an optional fraction, and Z|z or ±hh:mm with hh <= 23, mm <= 59), fails
// only with Code::invalid_argument, and what it accepts prints back (format_rfc3339) as text
// that parses to the same instant.
#include <string>

#include "coffer/repo/keys.h"
#include "coffer/util/text.h"
#include "fuzz_common.h"

using namespace coffer;

namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

bool strict(std::string_view s) {
    int y, mo, d, h, mi, sec;
    if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) ||
        s[7] != '-' || !digits(s, 8, 2, d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
    if (s.size() == 10) return true;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return false;
    if (!digits(s, 11, 2, h) || s.size() < 19 || s[13] != ':' || !digits(s, 14, 2, mi) ||
        s[16] != ':' || !digits(s, 17, 2, sec))
        return false;
    if (h > 23 || mi > 59 || sec > 60) return false;
    size_t pos = 19;
    if (pos < s.size() && s[pos] == '.') {
        size_t start = ++pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
        if (pos == start) return false;
    }
    if (pos >= s.size()) return false;
    if (s[pos] == 'Z' || s[pos] == 'z') return pos + 1 == s.size();
    if (s[pos] != '+' && s[pos] != '-') return false;
    int oh, om;
    return pos + 6 == s.size() && digits(s, pos + 1, 2, oh) && s[pos + 3] == ':' &&
           digits(s, pos + 4, 2, om) && oh <= 23 && om <= 59;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    std::string text(reinterpret_cast<const char*>(data), size);
    auto t = repo::parse_rfc3339(text);
    if (!t.ok()) {
        FUZZ_CHECK(t.status().code() == Code::invalid_argument);
        return 0;
    }
    FUZZ_CHECK_MSG(strict(text), "parse_rfc3339 accepted text that is not RFC 3339: '" +
                                     printable_excerpt(text, 80) + "'");
    std::string printed = repo::format_rfc3339(*t);
    auto back = repo::parse_rfc3339(printed);
    FUZZ_CHECK_MSG(back.ok() && *back == *t, text + " -> " + printed);
    return 0;
}
