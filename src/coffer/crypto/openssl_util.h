// Helpers shared by the crypto layer's translation units; not part of its interface.
#pragma once

#include <cstdio>
#include <cstdlib>

#include <openssl/err.h>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::crypto::detail {

// A failure of the library itself in a function that has no way to report it (allocation, an
// algorithm missing from OpenSSL): there is nothing sensible to continue with.
[[noreturn]] inline void fatal(const char* what) {
    ERR_clear_error();
    std::fprintf(stderr, "coffer: fatal crypto library failure: %s\n", what);
    std::abort();
}

inline Status library_failure(const char* what) {
    ERR_clear_error();
    return internal_error(what);
}

// unique_ptr deleter calling an OpenSSL free function: Deleter<EVP_PKEY_free>.
template <auto Free>
struct Deleter {
    template <typename T>
    void operator()(T* p) const {
        Free(p);
    }
};

// OpenSSL rejects some null pointers even with a zero length; empty spans may have data() == null.
inline const uint8_t* nonnull(ByteView v) {
    static const uint8_t k_empty = 0;
    return v.empty() ? &k_empty : v.data();
}

}  // namespace coffer::crypto::detail
