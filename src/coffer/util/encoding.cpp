#include "coffer/util/encoding.h"

namespace coffer {

void Writer::u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) m_out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void Writer::u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) m_out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void Writer::varint(uint64_t v) {
    while (v >= 0x80) {
        m_out.push_back(static_cast<uint8_t>(v | 0x80));
        v >>= 7;
    }
    m_out.push_back(static_cast<uint8_t>(v));
}

void Writer::svarint(int64_t v) {
    varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

bool Reader::u8(uint8_t& v) {
    if (remaining() < 1) return false;
    v = m_in[m_pos++];
    return true;
}

bool Reader::u32(uint32_t& v) {
    if (remaining() < 4) return false;
    v = load_le32(m_in.data() + m_pos);
    m_pos += 4;
    return true;
}

bool Reader::u64(uint64_t& v) {
    if (remaining() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(m_in[m_pos + i]) << (8 * i);
    m_pos += 8;
    return true;
}

bool Reader::varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b;
        if (!u8(b)) return false;
        if (shift == 63 && b > 1) return false;  // overflow
        v |= uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

bool Reader::svarint(int64_t& v) {
    uint64_t u;
    if (!varint(u)) return false;
    v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
}

bool Reader::raw(size_t n, ByteView& v) {
    if (remaining() < n) return false;
    v = m_in.subspan(m_pos, n);
    m_pos += n;
    return true;
}

bool Reader::id(Id& v) {
    ByteView b;
    if (!raw(32, b)) return false;
    v = Id::from(b);
    return true;
}

bool Reader::bytes(ByteView& v) {
    uint64_t n;
    if (!varint(n) || n > remaining()) return false;
    return raw(static_cast<size_t>(n), v);
}

bool Reader::str(std::string& v) {
    ByteView b;
    if (!bytes(b)) return false;
    v.assign(as_chars(b));
    return true;
}

}  // namespace coffer
