// Little-endian fixed integers, LEB128 varints and length-prefixed byte strings: the building
// blocks of every binary coffer format. Reader never reads past its input: each get_* returns
// false on truncation or overflow, and the caller turns that into a corruption Status naming the
// object. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "coffer/util/bytes.h"

namespace coffer {

class Writer {
public:
    void u8(uint8_t v) { m_out.push_back(v); }
    void u32(uint32_t v);
    void u64(uint64_t v);
    void varint(uint64_t v);
    void svarint(int64_t v);  // zig-zag
    void raw(ByteView b) { append(m_out, b); }
    void id(const Id& id) { raw(id.view()); }
    void bytes(ByteView b) {
        varint(b.size());
        raw(b);
    }
    void str(std::string_view s) { bytes(as_bytes(s)); }

    Bytes& out() { return m_out; }
    Bytes take() { return std::move(m_out); }

private:
    Bytes m_out;
};

class Reader {
public:
    explicit Reader(ByteView in) : m_in(in) {}

    [[nodiscard]] bool u8(uint8_t& v);
    [[nodiscard]] bool u32(uint32_t& v);
    [[nodiscard]] bool u64(uint64_t& v);
    [[nodiscard]] bool varint(uint64_t& v);
    [[nodiscard]] bool svarint(int64_t& v);
    [[nodiscard]] bool raw(size_t n, ByteView& v);
    [[nodiscard]] bool id(Id& v);
    [[nodiscard]] bool bytes(ByteView& v);
    [[nodiscard]] bool str(std::string& v);

    size_t remaining() const { return m_in.size() - m_pos; }
    bool done() const { return m_pos == m_in.size(); }
    size_t pos() const { return m_pos; }

private:
    ByteView m_in;
    size_t m_pos = 0;
};

inline void store_le64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint64_t load_le64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}
inline void store_le32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t load_le32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

}  // namespace coffer
