// S3 Object Lock: with a retention configured, S3Store asks for it on every object it writes
// except locks/, through headers the request signature covers. s3rver does not enforce Object
// Lock, so this checks what coffer sends (the server's enforcement is the server's job); the
// requests still pass the test server's SigV4 verification.
#include <gtest/gtest.h>

#include <ctime>

#include "coffer/store/s3/s3_store.h"
#include "s3/fault_proxy.h"
#include "s3/s3_test_env.h"

namespace coffer::store {
namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The value of header name in a request head, or "" (names compared case-insensitively).
std::string header(const std::string& head, const std::string& name) {
    std::string h = lower(head);
    size_t at = h.find("\r\n" + lower(name) + ":");
    if (at == std::string::npos) return "";
    size_t start = at + 2 + name.size() + 1;
    size_t end = head.find("\r\n", start);
    std::string v = head.substr(start, end - start);
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    return v;
}

TEST(S3ObjectLock, RetentionIsRequestedForEveryObjectButLocks) {
    std::string endpoint = s3::testing::endpoint();
    if (endpoint.empty()) return;
    s3::testing::FaultProxy proxy(endpoint);
    ASSERT_TRUE(proxy.ok());
    std::string bucket = s3::testing::fresh_bucket();
    s3::Options o = s3::testing::options(proxy.endpoint());
    o.object_lock_mode = "COMPLIANCE";
    o.object_lock_days = 30;
    auto created = S3Store::create("s3:" + proxy.endpoint() + "/" + bucket + "/repo", o);
    ASSERT_TRUE(created.ok()) << created.status().to_string();
    auto& store = **created;
    ASSERT_TRUE(store.put("packs/ab/" + std::string(64, 'a'), to_bytes("pack")).ok());
    ASSERT_TRUE(
        store.put("snapshots/" + std::string(64, 'b'), to_bytes("snap"), PutMode::create_only)
            .ok());
    ASSERT_TRUE(store.put("locks/" + std::string(16, 'c'), to_bytes("lock")).ok());
    auto got = store.get("snapshots/" + std::string(64, 'b'));
    ASSERT_TRUE(got.ok()) << got.status().to_string();  // signed requests were accepted

    int64_t now = std::time(nullptr);
    int locked = 0;
    for (const auto& head : proxy.request_heads()) {
        if (head.rfind("PUT ", 0) != 0 || head.find("/repo/") == std::string::npos) continue;
        std::string mode = header(head, "x-amz-object-lock-mode");
        std::string until = header(head, "x-amz-object-lock-retain-until-date");
        if (head.find("/repo/locks/") != std::string::npos) {
            EXPECT_EQ(mode, "") << head;
            continue;
        }
        EXPECT_EQ(mode, "COMPLIANCE") << head;
        struct tm tm {};
        ASSERT_NE(strptime(until.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm), nullptr) << until;
        int64_t t = timegm(&tm);
        EXPECT_NEAR(double(t - now), 30.0 * 86400, 120.0) << until;
        // The headers are signed, so a proxy cannot strip them without breaking the request.
        EXPECT_NE(lower(header(head, "authorization")).find("x-amz-object-lock-mode"),
                  std::string::npos)
            << head;
        locked++;
    }
    EXPECT_EQ(locked, 2);
}

}  // namespace
}  // namespace coffer::store
