#include "coffer/util/encoding.h"

#include <limits>

#include <gtest/gtest.h>

namespace coffer {
namespace {

TEST(Encoding, RoundTripsEveryType) {
    Writer w;
    w.u8(7);
    w.u32(0xdeadbeef);
    w.u64(0x0123456789abcdefULL);
    w.varint(0);
    w.varint(300);
    w.varint(std::numeric_limits<uint64_t>::max());
    w.svarint(-1);
    w.svarint(std::numeric_limits<int64_t>::min());
    w.str("naïve\nname");
    Bytes b = w.take();

    Reader r(b);
    uint8_t a;
    uint32_t c;
    uint64_t d, v0, v1, v2;
    int64_t s0, s1;
    std::string s;
    ASSERT_TRUE(r.u8(a) && r.u32(c) && r.u64(d) && r.varint(v0) && r.varint(v1) && r.varint(v2));
    ASSERT_TRUE(r.svarint(s0) && r.svarint(s1) && r.str(s));
    EXPECT_TRUE(r.done());
    EXPECT_EQ(a, 7);
    EXPECT_EQ(c, 0xdeadbeefu);
    EXPECT_EQ(d, 0x0123456789abcdefULL);
    EXPECT_EQ(v0, 0u);
    EXPECT_EQ(v1, 300u);
    EXPECT_EQ(v2, std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(s0, -1);
    EXPECT_EQ(s1, std::numeric_limits<int64_t>::min());
    EXPECT_EQ(s, "naïve\nname");
}

TEST(Encoding, TruncationIsDetectedNotOverread) {
    Writer w;
    w.str("hello world");
    Bytes b = w.take();
    for (size_t cut = 0; cut < b.size(); ++cut) {
        Reader r(ByteView(b.data(), cut));
        std::string s;
        EXPECT_FALSE(r.str(s)) << "cut at " << cut;
    }
}

TEST(Encoding, OverlongVarintRejected) {
    Bytes b(11, 0xff);
    Reader r(b);
    uint64_t v;
    EXPECT_FALSE(r.varint(v));
}

TEST(Hex, RoundTripAndRejects) {
    Bytes b = {0x00, 0xab, 0xff};
    EXPECT_EQ(to_hex(b), "00abff");
    EXPECT_EQ(*from_hex("00ABff"), b);
    EXPECT_FALSE(from_hex("abc").has_value());
    EXPECT_FALSE(from_hex("zz").has_value());
    EXPECT_FALSE(Id::parse_hex("00").has_value());
}

TEST(SecretBytes, WipedOnMove) {
    SecretBytes a(Bytes{1, 2, 3});
    SecretBytes b(std::move(a));
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the point of the test
    EXPECT_EQ(b.size(), 3u);
    EXPECT_TRUE(ct_equal(b.view(), Bytes{1, 2, 3}));
    EXPECT_FALSE(ct_equal(b.view(), Bytes{1, 2, 4}));
}

}  // namespace
}  // namespace coffer
