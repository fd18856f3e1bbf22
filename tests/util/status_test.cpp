#include "coffer/util/status.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace coffer {
namespace {

Result<int> half(int v) {
    if (v % 2) return invalid_argument(std::to_string(v) + " is odd");
    return v / 2;
}

Result<int> quarter(int v) {
    TRY_ASSIGN(int h, half(v));
    TRY_ASSIGN(int q, half(h));
    return q;
}

TEST(Status, OkByDefault) {
    Status s;
    EXPECT_TRUE(s.ok());
    EXPECT_EQ(s.code(), Code::ok);
}

TEST(Status, ContextKeepsCode) {
    Status s = corruption("pack 3fa2 failed authentication").with_context("restore");
    EXPECT_EQ(s.code(), Code::corruption);
    EXPECT_EQ(s.message(), "restore: pack 3fa2 failed authentication");
}

TEST(Status, ErrnoMapsToCodes) {
    EXPECT_EQ(errno_status("open x", ENOENT).code(), Code::not_found);
    EXPECT_EQ(errno_status("open x", EACCES).code(), Code::permission);
    EXPECT_EQ(errno_status("open x", EIO).code(), Code::io);
    EXPECT_NE(errno_status("open x", ENOSPC).message().find("open x: "), std::string::npos);
}

TEST(Result, TryAssignPropagates) {
    EXPECT_EQ(*quarter(8), 2);
    auto r = quarter(6);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "3 is odd");
}

}  // namespace
}  // namespace coffer
