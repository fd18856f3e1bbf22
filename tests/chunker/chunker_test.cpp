#include "coffer/chunker/chunker.h"

#include <random>
#include <set>

#include <gtest/gtest.h>

namespace coffer::chunker {
namespace {

Bytes random_data(size_t n, uint32_t seed) {
    std::mt19937_64 rng(seed);
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    return b;
}

GearTable gear_for(uint32_t seed) {
    return gear_from_material(random_data(2048, seed));
}

std::vector<size_t> boundaries(const Chunker& c, ByteView data) {
    std::vector<size_t> out;
    size_t pos = 0;
    while (pos < data.size()) {
        size_t len = c.cut(data.subspan(pos));
        EXPECT_GT(len, 0u);
        pos += len;
        out.push_back(pos);
    }
    return out;
}

Params small_params() {
    return *Params::for_average(64 * 1024);
}

TEST(Chunker, RespectsMinMaxAndCoversInput) {
    Chunker c(gear_for(1), small_params());
    Bytes data = random_data(8 << 20, 2);
    auto b = boundaries(c, data);
    ASSERT_EQ(b.back(), data.size());
    size_t prev = 0;
    for (size_t i = 0; i < b.size(); ++i) {
        size_t len = b[i] - prev;
        EXPECT_LE(len, c.params().max_size);
        if (i + 1 < b.size()) {
            EXPECT_GE(len, c.params().min_size);
        }
        prev = b[i];
    }
    double avg = double(data.size()) / b.size();
    EXPECT_GT(avg, 0.5 * c.params().avg_size);
    EXPECT_LT(avg, 2.0 * c.params().avg_size);
}

TEST(Chunker, BoundariesResynchroniseAfterAnInsertion) {
    Chunker c(gear_for(1), small_params());
    Bytes data = random_data(4 << 20, 3);
    Bytes edited = data;
    edited.insert(edited.begin() + 100000, {1, 2, 3, 4, 5, 6, 7});
    auto a = boundaries(c, data);
    auto b = boundaries(c, edited);
    std::set<size_t> tail_a, tail_b;
    for (size_t x : a)
        if (x > 400000) tail_a.insert(x + 7);
    for (size_t x : b)
        if (x > 400007) tail_b.insert(x);
    size_t shared = 0;
    for (size_t x : tail_a) shared += tail_b.count(x);
    EXPECT_GE(shared + 2, tail_a.size()) << "boundaries after the edit should realign";
}

TEST(Chunker, KeyChangesBoundaries) {
    Bytes data = random_data(2 << 20, 4);
    auto a = boundaries(Chunker(gear_for(1), small_params()), data);
    auto b = boundaries(Chunker(gear_for(2), small_params()), data);
    EXPECT_NE(a, b);
}

TEST(Chunker, ZeroRunsCutAtMax) {
    Chunker c(gear_for(1), small_params());
    Bytes zeros(1 << 20, 0);
    // A constant run either matches at once or never: either way cuts stay within [min, max].
    size_t len = c.cut(zeros);
    EXPECT_GE(len, c.params().min_size);
    EXPECT_LE(len, c.params().max_size);
}

TEST(Chunker, ShortInputIsOneChunk) {
    Chunker c(gear_for(1), small_params());
    Bytes data = random_data(1000, 5);
    EXPECT_EQ(c.cut(data), data.size());
    EXPECT_EQ(c.cut(ByteView{}), 0u);
}

TEST(Params, Validation) {
    EXPECT_FALSE(Params::for_average(1000).ok());
    EXPECT_FALSE(Params::for_average(32 * 1024).ok());
    EXPECT_FALSE(Params::for_average(3 << 20).ok());
    auto p = Params::for_average(1 << 20);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->min_size, 256u << 10);
    EXPECT_EQ(p->max_size, 4u << 20);
}

}  // namespace
}  // namespace coffer::chunker
