// The S3 client through FaultProxy: what it retries (5xx, SlowDown, resets, short bodies), what
// it does not (403, 404), and that a listing failing part-way is an error, never a short list.
#include <gtest/gtest.h>

#include "coffer/s3/client.h"
#include "s3/fault_proxy.h"
#include "s3/s3_test_env.h"

namespace coffer::s3 {
namespace {

using testing::FaultProxy;
using testing::ProxyRule;
using Action = ProxyRule::Action;

class S3Retry : public ::testing::Test {
protected:
    void SetUp() override {
        std::string upstream = testing::endpoint();
        if (upstream.empty()) return;
        m_proxy = std::make_unique<FaultProxy>(upstream);
        ASSERT_TRUE(m_proxy->ok());
        auto c = Client::create(testing::options(m_proxy->endpoint()));
        ASSERT_TRUE(c.ok()) << c.status().to_string();
        m_client = std::move(c).value();
        m_bucket = testing::fresh_bucket();
        ASSERT_TRUE(m_client->create_bucket(m_bucket).ok());
    }
    Client& client() { return *m_client; }
    FaultProxy& proxy() { return *m_proxy; }

    std::unique_ptr<FaultProxy> m_proxy;
    std::unique_ptr<Client> m_client;
    std::string m_bucket;
};

TEST_F(S3Retry, SlowDownAndServerErrorsAreRetried) {
    proxy().add_rule({.action = Action::status, .method = "PUT", .times = 2, .status = 503});
    proxy().add_rule({.action = Action::status,
                      .method = "GET",
                      .times = 1,
                      .status = 500,
                      .code = "InternalError"});
    ASSERT_TRUE(client().put(m_bucket, "k", as_bytes("value")).ok());
    auto got = client().get(m_bucket, "k");
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(as_chars(got->data), "value");
    EXPECT_EQ(proxy().faults_injected(), 3u);
}

TEST_F(S3Retry, PersistentFailureIsTransientAndSaysWhat) {
    proxy().add_rule({.action = Action::status, .method = "PUT", .times = -1, .status = 503});
    Status st = client().put(m_bucket, "k", as_bytes("value"));
    EXPECT_EQ(st.code(), Code::transient) << st.to_string();
    EXPECT_NE(st.message().find("s3 PUT " + m_bucket + "/k: 503 SlowDown"), std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find("gave up after 5 attempts"), std::string::npos) << st.message();
    EXPECT_EQ(proxy().faults_injected(), 5u);
}

TEST_F(S3Retry, PermanentErrorsAreNotRetried) {
    proxy().add_rule({.action = Action::status,
                      .method = "PUT",
                      .times = -1,
                      .status = 403,
                      .code = "AccessDenied"});
    Status st = client().put(m_bucket, "k", as_bytes("value"));
    EXPECT_EQ(st.code(), Code::permission) << st.to_string();
    EXPECT_EQ(st.message(),
              "s3 PUT " + m_bucket + "/k: 403 AccessDenied: injected by the test proxy");
    EXPECT_EQ(proxy().faults_injected(), 1u);
    EXPECT_EQ(client().get(m_bucket, "missing").status().code(), Code::not_found);
    EXPECT_EQ(proxy().faults_injected(), 1u);
}

TEST_F(S3Retry, ConnectionResetsAreRetried) {
    // Before the server sees the PUT, and after it acted on it (the answer is lost).
    proxy().add_rule({.action = Action::reset_before, .method = "PUT", .times = 1});
    proxy().add_rule({.action = Action::reset_after, .method = "PUT", .skip = 1, .times = 1});
    proxy().add_rule({.action = Action::reset_after, .method = "GET", .times = 1});
    ASSERT_TRUE(client().put(m_bucket, "a", as_bytes("first")).ok());
    ASSERT_TRUE(client().put(m_bucket, "b", as_bytes("second")).ok());
    auto got = client().get(m_bucket, "b");
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(as_chars(got->data), "second");
    EXPECT_EQ(proxy().faults_injected(), 3u);
}

TEST_F(S3Retry, TruncatedBodiesAreRetriedNeverReturned) {
    Bytes big(3 << 20);
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
    ASSERT_TRUE(client().put(m_bucket, "big", big).ok());
    proxy().add_rule({.action = Action::truncate, .method = "GET", .times = 2});
    auto got = client().get(m_bucket, "big");
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_TRUE(got->data == big);
    proxy().add_rule({.action = Action::truncate, .method = "GET", .times = -1});
    Status st = client().get(m_bucket, "big").status();
    EXPECT_EQ(st.code(), Code::transient) << st.to_string();
}

TEST_F(S3Retry, AListingThatFailsPartWayIsAnError) {
    for (int i = 0; i < 1002; ++i)
        ASSERT_TRUE(client().put(m_bucket, "k/" + std::to_string(1000 + i), as_bytes("x")).ok());
    proxy().add_rule({.action = Action::status,
                      .method = "GET",
                      .target_contains = "continuation-token=",
                      .times = -1,
                      .status = 500,
                      .code = "InternalError"});
    size_t seen = 0;
    Status st = client().list(m_bucket, "k/", [&](const ListEntry&) {
        ++seen;
        return ok_status();
    });
    EXPECT_EQ(st.code(), Code::transient) << st.to_string();
    EXPECT_NE(st.message().find("page 2"), std::string::npos) << st.message();
    EXPECT_EQ(seen, 1000u);
    EXPECT_FALSE(client().list(m_bucket, "k/").ok());
    proxy().clear_rules();
    auto all = client().list(m_bucket, "k/");
    ASSERT_TRUE(all.ok()) << all.status().to_string();
    EXPECT_EQ(all->size(), 1002u);
}

// A server that stops answering is not waited on forever: a request that moves nothing for
// stall_timeout is aborted and retried, and a merely slow answer within it is fine.
TEST_F(S3Retry, StalledResponsesAreAbortedAndRetried) {
    Options o = testing::options(m_proxy->endpoint());
    o.stall_timeout = std::chrono::seconds(1);
    auto c = Client::create(o);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    ASSERT_TRUE((*c)->put(m_bucket, "k", as_bytes("value")).ok());
    proxy().add_rule({.action = Action::delay, .method = "GET", .times = 1, .delay_ms = 3000});
    proxy().add_rule({.action = Action::delay, .method = "GET", .times = 1, .delay_ms = 300});
    auto start = std::chrono::steady_clock::now();
    auto got = (*c)->get(m_bucket, "k");
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(as_chars(got->data), "value");
    EXPECT_EQ(proxy().faults_injected(), 2u) << "the stalled try, then the slow one";
    EXPECT_LT(took, 2.9) << "the stalled request was waited out instead of aborted";
}

}  // namespace
}  // namespace coffer::s3
