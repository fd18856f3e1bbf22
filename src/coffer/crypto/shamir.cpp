#include "coffer/crypto/shamir.h"

#include <set>

#include "coffer/crypto/crypto.h"

namespace coffer::crypto {

namespace {

// Multiplication in GF(2^8) mod x^8 + x^4 + x^3 + x + 1, by shift and add with masks instead of
// branches or log tables, so that the time taken does not depend on the operands.
uint8_t gf_mul(uint8_t a, uint8_t b) {
    uint8_t product = 0;
    for (int i = 0; i < 8; ++i) {
        product ^= static_cast<uint8_t>(-(b & 1)) & a;
        uint8_t carry = static_cast<uint8_t>(-(a >> 7));
        a = static_cast<uint8_t>((a << 1) ^ (0x1b & carry));
        b >>= 1;
    }
    return product;
}

// a^254 = a^-1 for a != 0 (the multiplicative group has order 255), by a fixed chain.
uint8_t gf_inv(uint8_t a) {
    uint8_t result = 1, base = a;
    for (int e = 254; e > 0; e >>= 1) {
        if (e & 1) result = gf_mul(result, base);  // e is public: the chain is the same for all a
        base = gf_mul(base, base);
    }
    return result;
}

}  // namespace

Result<std::vector<Share>> shamir_split(ByteView secret, int k, int n) {
    if (k < 2 || n < k || n > 255)
        return invalid_argument("shares must be K-of-N with 2 <= K <= N <= 255, not " +
                                std::to_string(k) + "-of-" + std::to_string(n));
    if (secret.empty()) return invalid_argument("nothing to split");
    std::vector<Share> shares(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        shares[static_cast<size_t>(i)].index = static_cast<uint8_t>(i + 1);
        shares[static_cast<size_t>(i)].value = SecretBytes(secret.size());
    }
    // coefficients[0] is the secret byte; the k-1 others are random.
    SecretBytes coefficients(static_cast<size_t>(k));
    for (size_t b = 0; b < secret.size(); ++b) {
        coefficients.data()[0] = secret[b];
        random_bytes(coefficients.span().subspan(1));
        for (auto& share : shares) {
            // Horner's rule from the highest coefficient down.
            uint8_t y = 0;
            for (int c = k - 1; c >= 0; --c)
                y = static_cast<uint8_t>(gf_mul(y, share.index) ^
                                         coefficients.data()[static_cast<size_t>(c)]);
            share.value.data()[b] = y;
        }
    }
    return shares;
}

Result<SecretBytes> shamir_combine(const std::vector<Share>& shares) {
    if (shares.size() < 2) return invalid_argument("at least two shares are needed");
    std::set<uint8_t> seen;
    for (const auto& s : shares) {
        if (s.index == 0) return invalid_argument("a share has index 0, which no share has");
        if (!seen.insert(s.index).second)
            return invalid_argument("share " + std::to_string(s.index) + " is given twice");
        if (s.value.size() != shares.front().value.size() || s.value.empty())
            return invalid_argument("the shares differ in length: they are of different secrets");
    }
    // Lagrange interpolation at x = 0: secret = sum_i y_i * prod_{j != i} x_j / (x_j - x_i),
    // where subtraction is XOR. The weights depend on the (public) indices only.
    std::vector<uint8_t> weights(shares.size());
    for (size_t i = 0; i < shares.size(); ++i) {
        uint8_t num = 1, den = 1;
        for (size_t j = 0; j < shares.size(); ++j) {
            if (j == i) continue;
            num = gf_mul(num, shares[j].index);
            den = gf_mul(den, static_cast<uint8_t>(shares[j].index ^ shares[i].index));
        }
        weights[i] = gf_mul(num, gf_inv(den));
    }
    SecretBytes secret(shares.front().value.size());
    for (size_t b = 0; b < secret.size(); ++b) {
        uint8_t y = 0;
        for (size_t i = 0; i < shares.size(); ++i)
            y ^= gf_mul(shares[i].value.data()[b], weights[i]);
        secret.data()[b] = y;
    }
    return secret;
}

}  // namespace coffer::crypto
