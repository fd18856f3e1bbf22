// The zstd wrapper (util/compress.h).
//
// Byte 0 picks a mode (mod 2):
//   0 decompress: varint expected size | frame. zstd_decompress must succeed exactly when the
//     frame declares that content size (at most 64 MiB) and libzstd decodes it to exactly that
//     many bytes, return those bytes, and fail with Code::corruption otherwise.
//   1 round trip: level byte | data. zstd_compress (when it does not give up) must decompress to
//     the data, with the frame declaring its size.
#include <zstd.h>

#include "coffer/util/compress.h"
#include "fuzz_common.h"

using namespace coffer;
using coffer::fuzz::Cursor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    if (in.u8() % 2 == 0) {
        // Mostly small sizes, sometimes anything (a varint can claim up to 2^64 - 1).
        uint64_t expected = in.varint();
        ByteView frame = in.rest();
        auto out = zstd_decompress(frame, static_cast<size_t>(expected));
        bool expect_ok = false;
        Bytes reference;
        if (expected <= (64u << 20) &&
            ZSTD_getFrameContentSize(frame.data(), frame.size()) == expected) {
            reference.resize(expected);
            size_t n =
                ZSTD_decompress(reference.data(), reference.size(), frame.data(), frame.size());
            expect_ok = !ZSTD_isError(n) && n == expected;
        }
        FUZZ_CHECK_MSG(out.ok() == expect_ok, out.status().to_string());
        if (out.ok()) {
            FUZZ_CHECK(out->size() == expected);
            FUZZ_CHECK(*out == reference);
        } else {
            FUZZ_CHECK(out.status().code() == Code::corruption);
        }
        return 0;
    }
    int level = in.u8() % 23 - 4;  // -4 .. 18: negative (fast) levels too
    ByteView plain = in.rest();
    Bytes packed = zstd_compress(plain, level);
    if (packed.empty()) return 0;  // "store uncompressed"
    FUZZ_CHECK(ZSTD_getFrameContentSize(packed.data(), packed.size()) == plain.size());
    auto back = zstd_decompress(packed, plain.size());
    FUZZ_CHECK_MSG(back.ok(), back.status().to_string());
    FUZZ_CHECK(std::equal(back->begin(), back->end(), plain.begin(), plain.end()));
    if (!plain.empty()) FUZZ_CHECK(!zstd_decompress(packed, plain.size() - 1).ok());
    FUZZ_CHECK(!zstd_decompress(packed, plain.size() + 1).ok());
    return 0;
}
