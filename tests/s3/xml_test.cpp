// Parsing S3's ListObjectsV2 pages and error bodies (no server).
#include <gtest/gtest.h>

#include "coffer/s3/xml.h"

namespace coffer::s3::xml {
namespace {

TEST(ListPage, EntriesTokenAndUrlDecoding) {
    auto page = parse_list_page(
        R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
  <Contents><Key>p/a%20b</Key><Size>12</Size><ETag>&quot;abc&quot;</ETag></Contents>
  <Contents><Key>p/%C3%BC</Key><Size>0</Size></Contents>
  <NextContinuationToken>tok/en+=</NextContinuationToken>
</ListBucketResult>)");
    ASSERT_TRUE(page.ok()) << page.status().to_string();
    ASSERT_EQ(page->entries.size(), 2u);
    EXPECT_EQ(page->entries[0].key, "p/a b");
    EXPECT_EQ(page->entries[0].size, 12u);
    EXPECT_EQ(page->entries[0].etag, "abc");  // quotes removed, as head() does
    EXPECT_EQ(page->entries[1].key, "p/\xc3\xbc");
    EXPECT_TRUE(page->truncated);
    EXPECT_EQ(page->next_token, "tok/en+=");
}

TEST(ListPage, KeysAreLiteralWithoutEncodingType) {
    auto page = parse_list_page(
        "<ListBucketResult><IsTruncated>false</IsTruncated>"
        "<Contents><Key>100%25 &amp; more</Key><Size>1</Size></Contents></ListBucketResult>");
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->entries.size(), 1u);
    EXPECT_EQ(page->entries[0].key, "100%25 & more");
    EXPECT_FALSE(page->truncated);
}

// Found by s3_xml_fuzz: a LastModified after 2262 overflowed the nanosecond count. Such a
// listing is now refused, naming the timestamp.
TEST(ListPage, TimestampsBeyondNanosecondRangeAreRefused) {
    auto page = parse_list_page(
        "<ListBucketResult><Contents><Key>k</Key><LastModified>2263-01-01T00:00:00Z"
        "</LastModified></Contents></ListBucketResult>");
    ASSERT_FALSE(page.ok());
    EXPECT_NE(page.status().message().find("outside 1970..2261"), std::string::npos)
        << page.status().to_string();
}

TEST(ListPage, RejectsWhatIsNotAListing) {
    EXPECT_EQ(parse_list_page("").status().code(), Code::corruption);
    EXPECT_EQ(parse_list_page("<ListBucketResult><Contents>").status().code(), Code::corruption);
    EXPECT_EQ(parse_list_page("<Error><Code>x</Code></Error>").status().code(), Code::corruption);
    EXPECT_EQ(parse_list_page("<ListBucketResult><Contents><Size>1</Size></Contents>"
                              "</ListBucketResult>")
                  .status()
                  .code(),
              Code::corruption);
    EXPECT_EQ(parse_list_page("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
                              "</Contents></ListBucketResult>")
                  .status()
                  .code(),
              Code::corruption);
    // Entity declarations are refused rather than expanded.
    EXPECT_EQ(parse_list_page(R"(<!DOCTYPE x [<!ENTITY a "aaaa">]><ListBucketResult>)"
                              "<Contents><Key>&a;</Key></Contents></ListBucketResult>")
                  .status()
                  .code(),
              Code::corruption);
}

TEST(ListPage, LastModifiedBecomesNanoseconds) {
    auto page = parse_list_page(
        "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>1</Size>"
        "<LastModified>2026-11-23T16:46:00.250Z</LastModified></Contents></ListBucketResult>");
    ASSERT_TRUE(page.ok()) << page.status().to_string();
    // 2026-11-23T16:46:00Z is 1795452360 s after the epoch.
    EXPECT_EQ(page->entries.at(0).last_modified_ns, 1795452360LL * 1000000000 + 250000000);
    auto bad = parse_list_page(
        "<ListBucketResult><Contents><Key>k</Key><LastModified>yesterday</LastModified>"
        "</Contents></ListBucketResult>");
    EXPECT_EQ(bad.status().code(), Code::corruption);
}

TEST(Timestamp, WholeSecondsFractionsAndGarbage) {
    EXPECT_EQ(*parse_timestamp("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(*parse_timestamp("2026-11-23T16:46:00Z"), 1795452360LL * 1000000000);
    EXPECT_EQ(*parse_timestamp("2026-11-23T16:46:00.123456789Z"),
              1795452360LL * 1000000000 + 123456789);
    for (auto t : {"", "2026-11-23", "2026-11-23T16:46:00", "2026-11-23T16:46:00+01:00",
                   "2026-13-01T00:00:00Z", "2026-11-23T16:46:00Zjunk"})
        EXPECT_FALSE(parse_timestamp(t).ok()) << t;
}

TEST(ErrorBody, CodeAndMessage) {
    Error e = parse_error(
        "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does "
        "not exist.</Message><Key>k</Key></Error>");
    EXPECT_EQ(e.code, "NoSuchKey");
    EXPECT_EQ(e.message, "The specified key does not exist.");
    EXPECT_EQ(parse_error("").code, "");
    EXPECT_EQ(parse_error("<html>502 Bad Gateway</html>").code, "");
    EXPECT_EQ(parse_error("not xml at all").code, "");
}

}  // namespace
}  // namespace coffer::s3::xml
