// Shamir's secret sharing over GF(2^8), for splitting the recovery key among several people.
//
// split() turns a secret into n shares of the same length, any k of which give it back through
// combine(); k-1 or fewer say nothing about it: for every possible secret there is exactly one
// polynomial of degree k-1 through those shares, so each secret is equally likely. Each byte of
// the secret is the constant term of its own random polynomial, with coefficients from the
// system CSPRNG (libsodium), evaluated at x = 1..n (a share's index; never 0, which is the
// secret). Arithmetic is in the AES field (x^8 + x^4 + x^3 + x + 1) without tables or branches
// on secret values, so its timing does not depend on them. combine() of fewer than k shares, or
// of shares of different splits, returns a wrong value without knowing it: callers check the
// result (the recovery key against the repository) and checksum each share (repo/recovery_share.h).
// Thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::crypto {

struct Share {
    uint8_t index = 0;  // x coordinate, 1..255
    SecretBytes value;  // the polynomials' values at index, one byte per secret byte
};

// Code::invalid_argument unless 2 <= k <= n <= 255 and the secret is not empty.
Result<std::vector<Share>> shamir_split(ByteView secret, int k, int n);

// The secret of k or more shares of one split. Code::invalid_argument when there are fewer than
// two shares, an index is 0 or repeated, or the values differ in length.
Result<SecretBytes> shamir_combine(const std::vector<Share>& shares);

}  // namespace coffer::crypto
