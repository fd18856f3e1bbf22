// S3 URL parsing and the SigV4 encodings (pure functions, no server).
#include <gtest/gtest.h>

#include "coffer/s3/url.h"

namespace coffer::s3 {
namespace {

TEST(ParseUrl, EndpointBucketAndPrefix) {
    auto loc = parse_url("s3:https://s3.example.com:9000/backups/hosts/a/");
    ASSERT_TRUE(loc.ok()) << loc.status().to_string();
    EXPECT_EQ(loc->endpoint, "https://s3.example.com:9000");
    EXPECT_EQ(loc->bucket, "backups");
    EXPECT_EQ(loc->prefix, "hosts/a");
    EXPECT_EQ(loc->to_string(), "s3:https://s3.example.com:9000/backups/hosts/a");

    loc = parse_url("s3:http://127.0.0.1:9000/bucket");
    ASSERT_TRUE(loc.ok());
    EXPECT_EQ(loc->endpoint, "http://127.0.0.1:9000");
    EXPECT_EQ(loc->bucket, "bucket");
    EXPECT_EQ(loc->prefix, "");
    EXPECT_EQ(loc->to_string(), "s3:http://127.0.0.1:9000/bucket");
    EXPECT_TRUE(parse_url("s3:http://[::1]:9000/bucket/").ok());
}

TEST(ParseUrl, RejectsMalformedUrls) {
    for (const char* url :
         {"http://host/bucket", "s3:ftp://host/bucket", "s3:http://", "s3:http:///bucket",
          "s3:http://host", "s3:http://host/", "s3:http://host//prefix", "s3:http://host/Bucket",
          "s3:http://host/ab", "s3:http://host/bucket_x", "s3:http://host/-bucket",
          "s3:http://host/bucket/a//b", "s3:http://host/bucket/../x", "s3:http://host/bucket/./x",
          "s3:http://host/bucket/a?b", "s3:http://ho st/bucket"}) {
        auto loc = parse_url(url);
        EXPECT_EQ(loc.status().code(), Code::invalid_argument) << url;
    }
}

TEST(ParseUrl, RefusesCredentialsWithoutEchoingThem) {
    auto loc = parse_url("s3:http://AKIA:topsecret@host/bucket");
    ASSERT_EQ(loc.status().code(), Code::invalid_argument);
    EXPECT_EQ(loc.status().message().find("topsecret"), std::string::npos)
        << loc.status().message();
}

TEST(UriEncode, Rfc3986UpperCase) {
    EXPECT_EQ(uri_encode("aZ09-._~", false), "aZ09-._~");
    EXPECT_EQ(uri_encode("a b/c+d=e&f", false), "a%20b%2Fc%2Bd%3De%26f");
    EXPECT_EQ(uri_encode("a b/c", true), "a%20b/c");
    EXPECT_EQ(uri_encode("\xc3\xbc*", false), "%C3%BC%2A");
    EXPECT_EQ(uri_decode("a%20b%2fc+%zz%4"), "a b/c+%zz%4");
    EXPECT_EQ(uri_decode(uri_encode("any \x01 bytes/\xff", false)), "any \x01 bytes/\xff");
}

TEST(CanonicalQuery, SortedByEncodedNameThenValue) {
    EXPECT_EQ(canonical_query({{"prefix", "a b/c"},
                               {"list-type", "2"},
                               {"continuation-token", "x+y=="},
                               {"encoding-type", "url"}}),
              "continuation-token=x%2By%3D%3D&encoding-type=url&list-type=2&prefix=a%20b%2Fc");
    // Name before value: "a-b" sorts after "a" even though '-' < '='.
    EXPECT_EQ(canonical_query({{"a-b", "1"}, {"a", "2"}}), "a=2&a-b=1");
    EXPECT_EQ(canonical_query({{"uploads", ""}}), "uploads=");
    EXPECT_EQ(canonical_query({}), "");
}

}  // namespace
}  // namespace coffer::s3
