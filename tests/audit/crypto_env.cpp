// Initialises the crypto layer once for every test of audit_test.
#include <gtest/gtest.h>

#include "coffer/crypto/crypto.h"

namespace {

class CryptoEnvironment : public ::testing::Environment {
public:
    void SetUp() override { ASSERT_TRUE(coffer::crypto::init().ok()); }
};
[[maybe_unused]] const auto* const g_env =
    ::testing::AddGlobalTestEnvironment(new CryptoEnvironment);

}  // namespace
