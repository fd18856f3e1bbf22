// The content-defined chunker (chunker/chunker.h).
//
// Byte 0 picks the average chunk size (64 B .. 8 KiB, min = avg/4, max = avg*4, as
// Params::for_average would make them, scaled down so small inputs span many chunks), byte 1
// the read sizes of a streaming pass, bytes 2-5 a value for Params::for_average; the rest is the
// data. The gear table is derived from the fixed chunk-ID key as Repository does.
//
// Checks (abort on violation): cuts cover the input exactly, each in [1, remaining], at most
// max_size, at least min_size+1 unless it is the rest of the stream; a cut depends only on the
// max_size bytes after the boundary; a streaming pass with a bounded buffer fed in uneven reads
// (as backup reads files) finds the same boundaries as a pass over the whole buffer; for_average
// accepts exactly the powers of two in [64 KiB, 16 MiB].
#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "coffer/chunker/chunker.h"
#include "coffer/repo/format.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::chunker;
using coffer::fuzz::Cursor;

namespace {

const GearTable& gear() {
    static const GearTable g = [] {
        const auto& keys = *fuzz::fixed_keys();
        SecretBytes material = crypto::hkdf_sha256(keys.chunk_id_key.view(), keys.repo_id.view(),
                                                   as_bytes(repo::info::chunker_gear), 2048);
        return gear_from_material(material.view());
    }();
    return g;
}

std::vector<size_t> whole(const Chunker& c, ByteView data) {
    std::vector<size_t> cuts;
    const Params& p = c.params();
    for (size_t pos = 0; pos < data.size();) {
        ByteView rest = data.subspan(pos);
        size_t len = c.cut(rest);
        FUZZ_CHECK_MSG(len >= 1 && len <= rest.size(), "cut outside [1, remaining]");
        FUZZ_CHECK_MSG(len <= p.max_size, "chunk longer than max_size");
        FUZZ_CHECK_MSG(len > p.min_size || len == rest.size(), "chunk shorter than min_size");
        if (rest.size() > p.max_size)
            FUZZ_CHECK_MSG(c.cut(rest.subspan(0, p.max_size)) == len,
                           "cut looked past max_size bytes");
        cuts.push_back(len);
        pos += len;
    }
    FUZZ_CHECK(c.cut(ByteView()) == 0);
    return cuts;
}

// Archiver::chunk_stream's loop: a buffer of 2*max bytes, refilled with reads of uneven sizes.
std::vector<size_t> streamed(const Chunker& c, ByteView data, uint8_t read_seed) {
    std::vector<size_t> cuts;
    const size_t max = c.params().max_size;
    std::vector<uint8_t> buffer(2 * max);
    size_t start = 0, fill = 0, offset = 0, reads = 0;
    bool eof = false;
    for (;;) {
        while (!eof && fill - start < max) {
            if (fill == buffer.size()) {
                std::memmove(buffer.data(), buffer.data() + start, fill - start);
                fill -= start;
                start = 0;
            }
            size_t want = 1 + (read_seed * 31 + reads++ * 17) % (max + 3);
            size_t n = std::min({want, buffer.size() - fill, data.size() - offset});
            if (n == 0) {
                eof = true;
                break;
            }
            std::memcpy(buffer.data() + fill, data.data() + offset, n);
            fill += n;
            offset += n;
        }
        if (fill == start) break;
        size_t len = c.cut(ByteView(buffer.data() + start, fill - start));
        cuts.push_back(len);
        start += len;
    }
    return cuts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    uint32_t avg = 64u << (in.u8() % 8);
    uint8_t read_seed = in.u8();
    uint32_t asked = static_cast<uint32_t>(in.u8()) | static_cast<uint32_t>(in.u8()) << 8 |
                     static_cast<uint32_t>(in.u8()) << 16 | static_cast<uint32_t>(in.u8()) << 24;
    ByteView bytes = in.rest();

    auto p = Params::for_average(asked);
    bool valid = asked >= (64u << 10) && asked <= (16u << 20) && std::has_single_bit(asked);
    FUZZ_CHECK(p.ok() == valid);
    if (p.ok())
        FUZZ_CHECK(p->avg_size == asked && p->min_size == asked / 4 && p->max_size == asked * 4);

    Chunker c(gear(), Params{avg / 4, avg, avg * 4});
    std::vector<size_t> a = whole(c, bytes);
    size_t total = 0;
    for (size_t len : a) total += len;
    FUZZ_CHECK_MSG(total == bytes.size(), "chunks do not cover the input exactly");
    std::vector<size_t> b = streamed(c, bytes, read_seed);
    FUZZ_CHECK_MSG(a == b, "streaming found other boundaries than the whole-buffer pass");

    // Shifting the start to a boundary does not move later boundaries (content-defined).
    if (a.size() > 1) {
        std::vector<size_t> tail = whole(c, bytes.subspan(a[0]));
        FUZZ_CHECK(std::equal(tail.begin(), tail.end(), a.begin() + 1, a.end()));
    }
    return 0;
}
