// zstd compression of single buffers. Thread-safe (a context per call or per thread).
#pragma once

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer {

// Compresses data at the given zstd level. Returns an empty Bytes on failure, which callers
// treat as "store uncompressed".
Bytes zstd_compress(ByteView data, int level);
// The same into a caller's buffer, which should hold zstd_compress_bound(data.size()) bytes to
// be sure of room. Returns the frame's size, or 0 on failure (no room, or an error).
size_t zstd_compress_into(ByteView data, int level, std::span<uint8_t> out);
size_t zstd_compress_bound(size_t size);
// Decompresses a frame whose content size must equal expected_size (at most 64 MiB);
// Code::corruption otherwise.
Result<Bytes> zstd_decompress(ByteView frame, size_t expected_size);

}  // namespace coffer
