// The S3 server the tests run against: $COFFER_TEST_S3_ENDPOINT ("http://127.0.0.1:PORT", set
// by scripts/s3rver.sh start) with credentials from AWS_* (s3rver's S3RVER/S3RVER by default).
// Without the endpoint a test skips, unless $CI is "true": a silently skipped S3 suite in CI
// would claim coverage that did not happen, so there it fails instead.
#pragma once

#include <cstdlib>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "coffer/s3/client.h"

namespace coffer::s3::testing {

// Records the skip (or, in CI, the failure) on the current test. Call from a void function.
inline void skip_without_endpoint() {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true")
        // Fatal, so that a fixture's SetUp stops the test body from running without a server.
        GTEST_FAIL() << "COFFER_TEST_S3_ENDPOINT is not set but CI=true: start a test server "
                        "with `eval \"$(scripts/s3rver.sh start)\"` (scripts/test.sh does)";
    else
        GTEST_SKIP() << "COFFER_TEST_S3_ENDPOINT is not set; run `eval \"$(scripts/s3rver.sh "
                        "start)\"` first (scripts/test.sh does) to run the S3 tests";
}

// The endpoint, or "" after skip_without_endpoint().
inline std::string endpoint() {
    const char* e = std::getenv("COFFER_TEST_S3_ENDPOINT");
    if (e && *e) return e;
    skip_without_endpoint();
    return "";
}

// Options for the test server: s3rver's well-known account unless AWS_* say otherwise, and
// short backoffs so retry tests stay fast.
inline Options options(const std::string& endpoint) {
    Options o;
    o.endpoint = endpoint;
    const char* id = std::getenv("AWS_ACCESS_KEY_ID");
    const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
    o.access_key_id = id && *id ? id : "S3RVER";
    o.secret_access_key = secret && *secret ? secret : "S3RVER";
    o.initial_backoff = std::chrono::milliseconds(10);
    o.max_backoff = std::chrono::milliseconds(200);
    return o;
}

// "coffer-test-<16 hex>": a bucket name no other test uses.
inline std::string fresh_bucket() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string name = "coffer-test-";
    uint64_t v = rng();
    for (int i = 0; i < 16; ++i, v >>= 4) name += k_hex[v & 15];
    return name;
}

}  // namespace coffer::s3::testing
