#include "coffer/util/compress.h"

#include <gtest/gtest.h>

namespace coffer {
namespace {

TEST(Zstd, RoundTrip) {
    Bytes data(100000);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i % 17);
    Bytes c = zstd_compress(data, 3);
    ASSERT_FALSE(c.empty());
    EXPECT_LT(c.size(), data.size() / 10);
    auto d = zstd_decompress(c, data.size());
    ASSERT_TRUE(d.ok()) << d.status().message();
    EXPECT_EQ(*d, data);
}

TEST(Zstd, WrongSizeOrDamageIsCorruption) {
    Bytes data(5000, 'a');
    Bytes c = zstd_compress(data, 3);
    EXPECT_EQ(zstd_decompress(c, 4999).status().code(), Code::corruption);
    c[c.size() / 2] ^= 0xff;
    EXPECT_FALSE(zstd_decompress(c, data.size()).ok());
    EXPECT_EQ(zstd_decompress(Bytes{1, 2, 3}, 3).status().code(), Code::corruption);
}

}  // namespace
}  // namespace coffer
