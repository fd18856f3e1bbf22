// Content-defined chunking (FastCDC with normalized chunking, level 2) over a keyed gear table.
//
// The gear table is derived from a secret (the host's chunk-ID key) by the caller, so chunk
// boundaries, like chunk IDs, do not fingerprint content across repositories. Pure: no I/O, no
// allocation after construction. Thread-safe for concurrent cut() calls (const).
#pragma once

#include <array>
#include <cstdint>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::chunker {

struct Params {
    uint32_t min_size = 256 * 1024;
    uint32_t avg_size = 1024 * 1024;
    uint32_t max_size = 4 * 1024 * 1024;

    // Sizes for a given average: min = avg/4, max = avg*4. avg must be a power of two in
    // [64 KiB, 16 MiB]; anything else is Code::invalid_argument.
    static Result<Params> for_average(uint32_t avg_size);
};

using GearTable = std::array<uint64_t, 256>;

// Turns 2048 bytes of key-derived material into a gear table.
GearTable gear_from_material(ByteView material);

class Chunker {
public:
    Chunker(const GearTable& gear, Params params);

    // Length of the first chunk of data. data starts at a chunk boundary and holds either at
    // least max_size bytes or the rest of the stream. Returns a value in [1, data.size()] (0 only
    // for empty data).
    size_t cut(ByteView data) const;

    const Params& params() const { return m_params; }

private:
    GearTable m_gear;
    Params m_params;
    uint64_t m_mask_small;  // stricter mask before the average size
    uint64_t m_mask_large;  // looser mask after it
};

}  // namespace coffer::chunker
