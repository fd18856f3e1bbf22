#include "coffer/util/bytes.h"

#include <sodium.h>

namespace coffer {

std::string to_hex(ByteView b) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out(b.size() * 2, '0');
    for (size_t i = 0; i < b.size(); ++i) {
        out[2 * i] = k_digits[b[i] >> 4];
        out[2 * i + 1] = k_digits[b[i] & 15];
    }
    return out;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<Bytes> from_hex(std::string_view s) {
    if (s.size() % 2 != 0) return std::nullopt;
    Bytes out(s.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return out;
}

std::optional<Id> Id::parse_hex(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    auto b = from_hex(hex);
    if (!b) return std::nullopt;
    return Id::from(*b);
}

bool Id::is_zero() const {
    for (uint8_t b : bytes)
        if (b) return false;
    return true;
}

void secure_wipe(void* p, size_t n) {
    if (n) sodium_memzero(p, n);
}

SecretBytes& SecretBytes::operator=(const SecretBytes& o) {
    if (this != &o) {
        wipe();
        m_data = o.m_data;
    }
    return *this;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
    if (this != &o) {
        wipe();
        m_data = std::move(o.m_data);
        o.m_data.clear();
    }
    return *this;
}

void SecretBytes::wipe() {
    secure_wipe(m_data.data(), m_data.size());
    m_data.clear();
}

bool ct_equal(ByteView a, ByteView b) {
    if (a.size() != b.size()) return false;
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace coffer
