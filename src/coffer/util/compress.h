// zstd compression of single buffers. Thread-safe (a context per call or per thread).
#pragma once

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer {

// Compresses data at the given zstd level. Returns an empty Bytes on failure, which callers
// treat as "store uncompressed".
Bytes zstd_compress(ByteView data, int level);
// Decompresses a frame whose content size must equal expected_size (at most 64 MiB);
// Code::corruption otherwise.
Result<Bytes> zstd_decompress(ByteView frame, size_t expected_size);

}  // namespace coffer
