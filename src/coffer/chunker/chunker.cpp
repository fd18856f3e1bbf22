#include "coffer/chunker/chunker.h"

#include <bit>

namespace coffer::chunker {

Result<Params> Params::for_average(uint32_t avg_size) {
    if (avg_size < (64u << 10) || avg_size > (16u << 20) || !std::has_single_bit(avg_size))
        return invalid_argument("chunk size " + std::to_string(avg_size) +
                                " must be a power of two between 64 KiB and 16 MiB");
    return Params{avg_size / 4, avg_size, avg_size * 4};
}

GearTable gear_from_material(ByteView material) {
    GearTable gear{};
    for (size_t i = 0; i < gear.size() && (i + 1) * 8 <= material.size(); ++i) {
        uint64_t v = 0;
        for (int b = 0; b < 8; ++b) v |= uint64_t(material[i * 8 + b]) << (8 * b);
        gear[i] = v;
    }
    return gear;
}

// The rolling hash shifts left, so its top bits depend on the last 64 bytes: test those.
static uint64_t top_bits_mask(int bits) {
    return bits <= 0 ? 0 : ~uint64_t{0} << (64 - bits);
}

Chunker::Chunker(const GearTable& gear, Params params) : m_gear(gear), m_params(params) {
    int bits = std::bit_width(params.avg_size) - 1;
    m_mask_small = top_bits_mask(bits + 2);
    m_mask_large = top_bits_mask(bits - 2);
}

size_t Chunker::cut(ByteView data) const {
    size_t n = data.size();
    if (n <= m_params.min_size) return n;
    if (n > m_params.max_size) n = m_params.max_size;
    size_t normal = m_params.avg_size < n ? m_params.avg_size : n;

    uint64_t hash = 0;
    size_t i = m_params.min_size;
    const uint8_t* p = data.data();
    for (; i < normal; ++i) {
        hash = (hash << 1) + m_gear[p[i]];
        if (!(hash & m_mask_small)) return i + 1;
    }
    for (; i < n; ++i) {
        hash = (hash << 1) + m_gear[p[i]];
        if (!(hash & m_mask_large)) return i + 1;
    }
    return n;
}

}  // namespace coffer::chunker
