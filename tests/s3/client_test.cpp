// The S3 client against the test server (scripts/s3rver.sh, which verifies SigV4 signatures
// and body checksums): objects with metadata, ranges, listings over many pages, keys that need
// encoding, and the errors a caller must be able to tell apart.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "coffer/crypto/crypto.h"
#include "coffer/s3/client.h"
#include "s3/s3_test_env.h"

namespace coffer::s3 {
namespace {

class S3Client : public ::testing::Test {
protected:
    void SetUp() override {
        m_endpoint = testing::endpoint();
        if (m_endpoint.empty()) return;
        auto c = Client::create(testing::options(m_endpoint));
        ASSERT_TRUE(c.ok()) << c.status().to_string();
        m_client = std::move(c).value();
        m_bucket = testing::fresh_bucket();
        Status st = m_client->create_bucket(m_bucket);
        ASSERT_TRUE(st.ok()) << st.to_string();
    }
    Client& client() { return *m_client; }

    std::string m_endpoint;
    std::unique_ptr<Client> m_client;
    std::string m_bucket;
};

TEST_F(S3Client, PutGetHeadWithMetadata) {
    PutOptions o;
    o.content_type = "text/plain; charset=utf-8";
    o.metadata = {{"origin", "unit test"}, {"mtime", "1700000000"}};
    const std::string body = "hello, s3";
    ASSERT_TRUE(client().put(m_bucket, "dir/file.txt", as_bytes(body), o).ok());
    auto obj = client().get(m_bucket, "dir/file.txt");
    ASSERT_TRUE(obj.ok()) << obj.status().to_string();
    EXPECT_EQ(as_chars(obj->data), body);
    EXPECT_EQ(obj->meta.size, body.size());
    EXPECT_EQ(obj->meta.content_type, "text/plain; charset=utf-8");
    EXPECT_EQ(obj->meta.metadata["origin"], "unit test");
    EXPECT_EQ(obj->meta.metadata["mtime"], "1700000000");
    EXPECT_EQ(obj->meta.etag, to_hex(crypto::md5(as_bytes(body))));
    auto head = client().head(m_bucket, "dir/file.txt");
    ASSERT_TRUE(head.ok()) << head.status().to_string();
    EXPECT_EQ(head->size, body.size());
    EXPECT_EQ(head->etag, obj->meta.etag);
    EXPECT_EQ(head->metadata, obj->meta.metadata);

    PutOptions bad;
    bad.metadata = {{"Not Valid", "x"}};
    EXPECT_EQ(client().put(m_bucket, "k", as_bytes("x"), bad).code(), Code::invalid_argument);
}

TEST_F(S3Client, KeysThatNeedEncoding) {
    // Each of these changes the canonical URI; a wrong encoding fails the signature check.
    const std::vector<std::string> keys = {
        "a b/c d", "plus+equals=amp&",   "ünïcødé/✓",
        "100%",    "tilde~star*(paren)", "semi;colon,comma:colon@at"};
    for (const auto& key : keys) {
        Status st = client().put(m_bucket, key, as_bytes(key));
        ASSERT_TRUE(st.ok()) << key << ": " << st.to_string();
        auto got = client().get(m_bucket, key);
        ASSERT_TRUE(got.ok()) << key << ": " << got.status().to_string();
        EXPECT_EQ(as_chars(got->data), key);
    }
    auto listed = client().list(m_bucket, "");
    ASSERT_TRUE(listed.ok()) << listed.status().to_string();
    std::set<std::string> names;
    for (const auto& e : *listed) names.insert(e.key);
    EXPECT_EQ(names, std::set<std::string>(keys.begin(), keys.end()));
    // A prefix that needs encoding in the (signed) query string.
    listed = client().list(m_bucket, "a b/");
    ASSERT_TRUE(listed.ok()) << listed.status().to_string();
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].key, "a b/c d");
}

TEST_F(S3Client, Ranges) {
    ASSERT_TRUE(client().put(m_bucket, "r", as_bytes("0123456789")).ok());
    auto r = client().get_range(m_bucket, "r", 2, 3);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(as_chars(*r), "234");
    r = client().get_range(m_bucket, "r", 8, 5);  // clipped at the end
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(as_chars(*r), "89");
    r = client().get_range(m_bucket, "r", 10, 1);  // starts at the end
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(r->empty());
    r = client().get_range(m_bucket, "r", 3, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->empty());
    EXPECT_EQ(client().get_range(m_bucket, "missing", 0, 1).status().code(), Code::not_found);
    EXPECT_EQ(client().get_range(m_bucket, "missing", 0, 0).status().code(), Code::not_found);
}

TEST_F(S3Client, ListingPagesThroughContinuationTokens) {
    // s3rver pages at 1000 keys, so this takes two pages (and one continuation token).
    constexpr int kCount = 1003;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = t; i < kCount; i += 8) {
                std::string key = "many/" + std::to_string(100000 + i);
                if (!client().put(m_bucket, key, as_bytes(std::to_string(i))).ok()) ++failures;
            }
        });
    for (auto& th : threads) th.join();
    ASSERT_EQ(failures.load(), 0);
    ASSERT_TRUE(client().put(m_bucket, "other", as_bytes("x")).ok());
    std::vector<std::string> seen;
    Status st = client().list(m_bucket, "many/", [&](const ListEntry& e) {
        seen.push_back(e.key);
        EXPECT_EQ(e.size, std::to_string(std::stoi(e.key.substr(5)) - 100000).size());
        return ok_status();
    });
    ASSERT_TRUE(st.ok()) << st.to_string();
    ASSERT_EQ(seen.size(), static_cast<size_t>(kCount));
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());
    // A callback's error stops the listing and is returned as is.
    int calls = 0;
    st = client().list(m_bucket, "many/", [&](const ListEntry&) {
        return ++calls == 5 ? cancelled("enough") : ok_status();
    });
    EXPECT_EQ(st.code(), Code::cancelled);
    EXPECT_EQ(calls, 5);
}

TEST_F(S3Client, RemoveAndMissingObjects) {
    ASSERT_TRUE(client().put(m_bucket, "gone", as_bytes("x")).ok());
    ASSERT_TRUE(client().remove(m_bucket, "gone").ok());
    Status st = client().get(m_bucket, "gone").status();
    EXPECT_EQ(st.code(), Code::not_found);
    EXPECT_NE(st.message().find("s3 GET " + m_bucket + "/gone: 404 NoSuchKey"), std::string::npos)
        << st.message();
    st = client().head(m_bucket, "gone").status();
    EXPECT_EQ(st.code(), Code::not_found);
    EXPECT_NE(st.message().find("s3 HEAD " + m_bucket + "/gone: 404"), std::string::npos)
        << st.message();
    EXPECT_TRUE(client().remove(m_bucket, "gone").ok());  // S3 semantics: deleting nothing is ok
    EXPECT_EQ(client().get("no-such-bucket-here", "k").status().code(), Code::not_found);
    EXPECT_EQ(client().list("no-such-bucket-here", "").status().code(), Code::not_found);
}

TEST_F(S3Client, Buckets) {
    auto exists = client().bucket_exists(m_bucket);
    ASSERT_TRUE(exists.ok()) << exists.status().to_string();
    EXPECT_TRUE(*exists);
    EXPECT_TRUE(client().create_bucket(m_bucket).ok()) << "creating an owned bucket again is ok";
    exists = client().bucket_exists(testing::fresh_bucket());
    ASSERT_TRUE(exists.ok());
    EXPECT_FALSE(*exists);
}

TEST_F(S3Client, WrongSecretIsAPermissionErrorThatDoesNotLeakTheSecret) {
    Options o = testing::options(m_endpoint);
    o.secret_access_key = "wrong-secret-value-1234";
    auto c = Client::create(o);
    ASSERT_TRUE(c.ok());
    Status st = (*c)->put(m_bucket, "k", as_bytes("x"));
    EXPECT_EQ(st.code(), Code::permission) << st.to_string();
    EXPECT_NE(st.message().find("s3 PUT " + m_bucket + "/k: 403 SignatureDoesNotMatch"),
              std::string::npos)
        << st.message();
    EXPECT_EQ(st.message().find("wrong-secret-value-1234"), std::string::npos);
    o.access_key_id = "NOBODY";
    c = Client::create(o);
    ASSERT_TRUE(c.ok());
    st = (*c)->get(m_bucket, "k").status();
    EXPECT_EQ(st.code(), Code::permission) << st.to_string();
}

TEST(S3ClientOptions, CredentialsAreRequiredAndEndpointsChecked) {
    Options o;
    o.endpoint = "http://127.0.0.1:1";
    o.access_key_id = "id";
    if (!std::getenv("AWS_SECRET_ACCESS_KEY")) {
        auto c = Client::create(o);
        EXPECT_EQ(c.status().code(), Code::permission);
        EXPECT_NE(c.status().message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
    }
    o.secret_access_key = "secret";
    o.endpoint = "ftp://host";
    EXPECT_EQ(Client::create(o).status().code(), Code::invalid_argument);
    o.endpoint = "http://127.0.0.1:1/";
    o.region = "eu:bad";
    EXPECT_EQ(Client::create(o).status().code(), Code::invalid_argument);
}

TEST(S3ClientOptions, UnreachableServerIsTransientAfterRetries) {
    Options o;
    o.endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
    o.access_key_id = "id";
    o.secret_access_key = "secret";
    o.max_attempts = 3;
    o.initial_backoff = std::chrono::milliseconds(1);
    auto c = Client::create(o);
    ASSERT_TRUE(c.ok());
    Status st = (*c)->get("bucket", "key").status();
    EXPECT_EQ(st.code(), Code::transient) << st.to_string();
    EXPECT_NE(st.message().find("gave up after 3 attempts"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("s3 GET bucket/key"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace coffer::s3
