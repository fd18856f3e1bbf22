// Shamir sharing: any K of N shares give the secret back, fewer do not and their values are
// uniform whatever the secret, and malformed sets of shares are refused.
#include "coffer/crypto/shamir.h"

#include <algorithm>
#include <array>
#include <numeric>

#include <gtest/gtest.h>

#include "coffer/crypto/crypto.h"

namespace coffer::crypto {
namespace {

class ShamirTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { ASSERT_TRUE(init().ok()); }
};

// Every subset of `shares` with `size` members, as index lists.
std::vector<std::vector<size_t>> subsets(size_t n, size_t size) {
    std::vector<std::vector<size_t>> out;
    std::vector<bool> pick(n, false);
    std::fill(pick.begin(), pick.begin() + static_cast<std::ptrdiff_t>(size), true);
    do {
        std::vector<size_t> s;
        for (size_t i = 0; i < n; ++i)
            if (pick[i]) s.push_back(i);
        out.push_back(s);
    } while (std::prev_permutation(pick.begin(), pick.end()));
    return out;
}

TEST_F(ShamirTest, AnyKOfNSharesRecoverTheSecretAndKMinusOneDoNot) {
    const Bytes secret = random_bytes(32);
    for (auto [k, n] : std::vector<std::pair<int, int>>{{2, 2}, {2, 3}, {3, 5}, {4, 7}, {5, 5}}) {
        SCOPED_TRACE(std::to_string(k) + "-of-" + std::to_string(n));
        auto shares = shamir_split(secret, k, n);
        ASSERT_TRUE(shares.ok()) << shares.status().to_string();
        ASSERT_EQ(shares->size(), static_cast<size_t>(n));
        for (size_t i = 0; i < shares->size(); ++i) {
            EXPECT_EQ((*shares)[i].index, i + 1);
            EXPECT_EQ((*shares)[i].value.size(), secret.size());
        }
        for (size_t size = 2; size <= static_cast<size_t>(n); ++size)
            for (const auto& pick : subsets(static_cast<size_t>(n), size)) {
                std::vector<Share> some;
                for (size_t i : pick) some.push_back((*shares)[i]);
                std::reverse(some.begin(), some.end());  // order does not matter
                auto back = shamir_combine(some);
                ASSERT_TRUE(back.ok()) << back.status().to_string();
                if (size >= static_cast<size_t>(k))
                    EXPECT_TRUE(ct_equal(back->view(), secret)) << size << " shares";
                else
                    EXPECT_FALSE(ct_equal(back->view(), secret)) << size << " shares suffice";
            }
    }
}

TEST_F(ShamirTest, CombineMatchesAPolynomialWorkedOutByHand) {
    // f(x) = 0x42 + 0x57 x over GF(2^8): f(1) = 0x42 ^ 0x57 = 0x15; f(2) = 0x42 ^ (0x57 * 2) =
    // 0x42 ^ 0xae = 0xec; f(3) = 0x42 ^ (0x57 * 3) = 0x42 ^ (0xae ^ 0x57) = 0xbb.
    auto share = [](uint8_t index, uint8_t y) {
        return Share{index, SecretBytes(ByteView(&y, 1))};
    };
    for (const auto& pair : std::vector<std::vector<Share>>{{share(1, 0x15), share(2, 0xec)},
                                                            {share(2, 0xec), share(3, 0xbb)},
                                                            {share(1, 0x15), share(3, 0xbb)}}) {
        auto s = shamir_combine(pair);
        ASSERT_TRUE(s.ok());
        EXPECT_EQ(s->view()[0], 0x42);
    }
    // f(x) = 0x01 + 0x57 x + 0x83 x^2 at x = 1..5, worked out apart from coffer (a Python
    // GF(2^8) multiply checked against FIPS-197's 0x57 * 0x83 = 0xc1): any three give 0x01.
    const uint8_t ys[] = {0xd5, 0x95, 0x41, 0xae, 0x7a};
    for (const auto& pick : subsets(5, 3)) {
        std::vector<Share> three;
        for (size_t i : pick) three.push_back(share(static_cast<uint8_t>(i + 1), ys[i]));
        auto s = shamir_combine(three);
        ASSERT_TRUE(s.ok());
        EXPECT_EQ(s->view()[0], 0x01);
    }
}

// Fewer than K shares reveal nothing: a single share of a 2-of-3 split is uniformly
// distributed, and equally so for two very different secrets (a chi-square test against the
// uniform distribution, 255 degrees of freedom: 330.5 is the 0.1% critical value).
TEST_F(ShamirTest, FewerThanKSharesAreUniformWhateverTheSecret) {
    constexpr int k_splits = 256 * 200;
    for (uint8_t secret_byte : {uint8_t(0x00), uint8_t(0xff)}) {
        SCOPED_TRACE(static_cast<int>(secret_byte));
        Bytes secret(64, secret_byte);
        std::array<int, 256> counts{};
        for (int i = 0; i < k_splits / 64; ++i) {
            auto shares = shamir_split(secret, 2, 3);
            ASSERT_TRUE(shares.ok());
            for (uint8_t v : (*shares)[1].value.view()) counts[v]++;
        }
        const double expected = k_splits / 256.0;
        double chi2 = 0;
        for (int c : counts) chi2 += (c - expected) * (c - expected) / expected;
        EXPECT_LT(chi2, 330.5) << "share 2's bytes are not uniform";
        // And the share never equals the secret more often than chance would.
        EXPECT_LT(counts[secret_byte], expected * 1.3);
    }
}

TEST_F(ShamirTest, BadParametersAndSharesAreRefused) {
    Bytes secret = random_bytes(16);
    for (auto [k, n] : std::vector<std::pair<int, int>>{{1, 3}, {0, 0}, {4, 3}, {2, 256}, {-1, 2}})
        EXPECT_EQ(shamir_split(secret, k, n).status().code(), Code::invalid_argument)
            << k << "-of-" << n;
    EXPECT_EQ(shamir_split(ByteView(), 2, 3).status().code(), Code::invalid_argument);
    EXPECT_TRUE(shamir_split(secret, 255, 255).ok());

    auto shares = shamir_split(secret, 2, 3);
    ASSERT_TRUE(shares.ok());
    auto& s = *shares;
    EXPECT_EQ(shamir_combine({s[0]}).status().code(), Code::invalid_argument);
    EXPECT_EQ(shamir_combine({s[0], s[0]}).status().code(), Code::invalid_argument);
    Share zero = s[1];
    zero.index = 0;
    EXPECT_EQ(shamir_combine({s[0], zero}).status().code(), Code::invalid_argument);
    Share shorter{s[1].index, SecretBytes(ByteView(s[1].value.data(), 8))};
    EXPECT_EQ(shamir_combine({s[0], shorter}).status().code(), Code::invalid_argument);
    // One changed byte in one share changes that byte of the result (callers check the key).
    Share typo = s[1];
    typo.value.data()[3] ^= 0x10;
    auto wrong = shamir_combine({s[0], typo});
    ASSERT_TRUE(wrong.ok());
    EXPECT_FALSE(ct_equal(wrong->view(), secret));
}

}  // namespace
}  // namespace coffer::crypto
