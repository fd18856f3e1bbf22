// Byte buffers, hex, and a fixed 32-byte ID type shared by every layer.
// Plain value types; thread-compatible.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace coffer {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView as_bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes to_bytes(std::string_view s) {
    return Bytes(s.begin(), s.end());
}
inline void append(Bytes& out, ByteView b) {
    out.insert(out.end(), b.begin(), b.end());
}

std::string to_hex(ByteView b);
// Returns nullopt unless s is an even-length string of [0-9a-fA-F].
std::optional<Bytes> from_hex(std::string_view s);

// A 32-byte identifier (object name, chunk ID, key). Ordered and hashable.
struct Id {
    std::array<uint8_t, 32> bytes{};

    static Id from(ByteView b) {
        Id id;
        if (b.size() == 32) std::memcpy(id.bytes.data(), b.data(), 32);
        return id;
    }
    static std::optional<Id> parse_hex(std::string_view hex);
    std::string hex() const { return to_hex(bytes); }
    std::string short_hex() const { return hex().substr(0, 8); }
    ByteView view() const { return bytes; }
    bool is_zero() const;
    auto operator<=>(const Id&) const = default;
};

struct IdHash {
    size_t operator()(const Id& id) const noexcept {
        size_t h;
        std::memcpy(&h, id.bytes.data(), sizeof h);  // IDs are uniformly random
        return h;
    }
};

// Overwrites memory in a way the optimizer may not drop (libsodium's sodium_memzero).
void secure_wipe(void* p, size_t n);

// A byte buffer for key material: wiped on destruction and on move-from.
class SecretBytes {
public:
    SecretBytes() = default;
    explicit SecretBytes(size_t n) : m_data(n) {}
    explicit SecretBytes(ByteView b) : m_data(b.begin(), b.end()) {}
    SecretBytes(const SecretBytes& o) : m_data(o.m_data) {}
    SecretBytes& operator=(const SecretBytes& o);
    SecretBytes(SecretBytes&& o) noexcept : m_data(std::move(o.m_data)) { o.m_data.clear(); }
    SecretBytes& operator=(SecretBytes&& o) noexcept;
    ~SecretBytes() { wipe(); }

    uint8_t* data() { return m_data.data(); }
    const uint8_t* data() const { return m_data.data(); }
    size_t size() const { return m_data.size(); }
    bool empty() const { return m_data.empty(); }
    ByteView view() const { return m_data; }
    std::span<uint8_t> span() { return m_data; }
    void wipe();

private:
    std::vector<uint8_t> m_data;
};

// Constant-time equality for MACs, tokens and keys.
bool ct_equal(ByteView a, ByteView b);

}  // namespace coffer

template <>
struct std::hash<coffer::Id> {
    size_t operator()(const coffer::Id& id) const noexcept { return coffer::IdHash{}(id); }
};
