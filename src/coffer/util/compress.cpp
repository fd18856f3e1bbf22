#include "coffer/util/compress.h"

#include <zstd.h>

namespace coffer {

namespace {
// One context per thread: creating a ZSTD_CCtx costs more than compressing a small chunk.
struct Contexts {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    ~Contexts() {
        ZSTD_freeCCtx(cctx);
        ZSTD_freeDCtx(dctx);
    }
};
Contexts& contexts() {
    thread_local Contexts c;
    return c;
}
constexpr size_t k_max_decompressed = 64u << 20;
}  // namespace

Bytes zstd_compress(ByteView data, int level) {
    Bytes out(ZSTD_compressBound(data.size()));
    size_t n =
        ZSTD_compressCCtx(contexts().cctx, out.data(), out.size(), data.data(), data.size(), level);
    if (ZSTD_isError(n)) return {};
    out.resize(n);
    return out;
}

size_t zstd_compress_into(ByteView data, int level, std::span<uint8_t> out) {
    size_t n =
        ZSTD_compressCCtx(contexts().cctx, out.data(), out.size(), data.data(), data.size(), level);
    return ZSTD_isError(n) ? 0 : n;
}

size_t zstd_compress_bound(size_t size) {
    return ZSTD_compressBound(size);
}

Result<Bytes> zstd_decompress(ByteView frame, size_t expected_size) {
    if (expected_size > k_max_decompressed)
        return corruption("compressed block claims " + std::to_string(expected_size) + " bytes");
    unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
    if (declared != expected_size) return corruption("compressed block has the wrong size");
    Bytes out(expected_size);
    size_t n =
        ZSTD_decompressDCtx(contexts().dctx, out.data(), out.size(), frame.data(), frame.size());
    if (ZSTD_isError(n) || n != expected_size)
        return corruption(std::string("compressed block is damaged: ") +
                          (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short"));
    return out;
}

}  // namespace coffer
