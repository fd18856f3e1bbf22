// UTF-8 decoding shared by the audit layer (internal; not part of its API). Strict RFC 3629:
// stray continuation bytes, truncated sequences, overlong forms, surrogates and code points above
// U+10FFFF are all errors, because canonical JSON and signed notes must have one byte spelling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace coffer::audit::detail {

// Decodes the code point at s[i] into cp and advances i past it; false if it is ill-formed.
inline bool next_code_point(std::string_view s, size_t& i, uint32_t& cp) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    size_t len = 0;
    uint32_t min = 0;
    if (b0 < 0x80) {
        cp = b0;
        ++i;
        return true;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
        cp = b0 & 0x1fu;
        len = 2;
        min = 0x80;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        cp = b0 & 0x0fu;
        len = 3;
        min = 0x800;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        cp = b0 & 0x07u;
        len = 4;
        min = 0x10000;
    } else {
        return false;  // a continuation byte, 0xc0/0xc1 (always overlong) or 0xf5..0xff
    }
    if (s.size() - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
        const auto b = static_cast<uint8_t>(s[i + k]);
        if ((b & 0xc0u) != 0x80u) return false;
        cp = (cp << 6) | (b & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
    return true;
}

inline bool is_valid_utf8(std::string_view s) {
    uint32_t cp = 0;
    for (size_t i = 0; i < s.size();)
        if (!next_code_point(s, i, cp)) return false;
    return true;
}

}  // namespace coffer::audit::detail
