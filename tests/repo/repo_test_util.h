// Helpers shared by the repo-layer tests: deterministic data, key material and assertions.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/keyring.h"
#include "coffer/repo/keys.h"

namespace coffer::repo::testing {

// crypto::init() once per test binary (registered by one .cpp of the binary).
class CryptoEnvironment : public ::testing::Environment {
public:
    void SetUp() override { ASSERT_TRUE(crypto::init().ok()); }
};

// Incompressible but reproducible bytes.
inline Bytes pseudo_random(size_t n, uint64_t seed) {
    std::mt19937_64 gen(seed);
    Bytes out(n);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = gen();
        for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<uint8_t>(v >> (8 * j));
    }
    return out;
}

inline std::string text_of(const Status& st) {
    return st.to_string();
}

inline bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

// A repository's worth of keys without a store: config, host key and recovery key.
struct KeySet {
    RepoConfig config;
    RecoveryKey recovery;
    HostKey host;

    static KeySet make(std::string host_name = "testhost") {
        KeySet k;
        k.recovery = RecoveryKey::generate();
        k.config.id = Id::from(crypto::random_bytes(32));
        k.config.created = now_rfc3339();
        k.config.recovery_public_key = k.recovery.public_key;
        k.config.registry_public_key = k.recovery.registry_public_key(k.config.id);
        auto h = HostKey::generate(k.config, std::move(host_name));
        EXPECT_TRUE(h.ok()) << h.status().to_string();
        if (h.ok()) k.host = std::move(h).value();
        return k;
    }

    std::shared_ptr<const KeyRing> ring(bool with_recovery) const {
        auto r = KeyRing::from_host_key(host, with_recovery ? &recovery : nullptr);
        EXPECT_TRUE(r.ok()) << r.status().to_string();
        return r.ok() ? std::move(r).value() : nullptr;
    }
};

}  // namespace coffer::repo::testing
