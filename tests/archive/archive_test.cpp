// The backup file container: what the writer adds the reader returns, byte for byte and by
// prefix; a writer dropped before commit leaves nothing; commit never replaces a file; a
// truncated, extended or altered file, a duplicate name or a foreign file is refused at open.
#include "coffer/archive/archive.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "store/temp_dir.h"

namespace coffer::archive {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}
void spit(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << data;
}

class ArchiveTest : public ::testing::Test {
protected:
    std::string write_sample() {
        auto w = ArchiveWriter::create(file, repo_id, snap_id);
        EXPECT_TRUE(w.ok()) << w.status().to_string();
        EXPECT_TRUE((*w)->add("config", as_bytes("{}")).ok());
        EXPECT_TRUE((*w)->add("packs/ab/abcd", big).ok());
        EXPECT_TRUE((*w)->add("packs/cd/cdef", as_bytes("")).ok());
        EXPECT_TRUE((*w)->add("snapshots/01", as_bytes("manifest")).ok());
        Status st = (*w)->commit();
        EXPECT_TRUE(st.ok()) << st.to_string();
        return slurp(file);
    }
    size_t entries_in_dir() const {
        return std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{});
    }

    store::testing::TempDir dir;
    std::string file = dir.path() + "/snap.coffer";
    Id repo_id = crypto::sha256(as_bytes("repo"));
    Id snap_id = crypto::sha256(as_bytes("snap"));
    Bytes big = crypto::random_bytes(3 << 20);  // more than one hashing step
};

TEST_F(ArchiveTest, WhatIsWrittenIsReadBack) {
    write_sample();
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    auto a = ArchiveStore::open(file);
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    EXPECT_EQ((*a)->repository_id(), repo_id);
    EXPECT_EQ((*a)->snapshot_id(), snap_id);
    EXPECT_EQ(*(*a)->get("packs/ab/abcd"), big);
    EXPECT_TRUE((*a)->get("packs/cd/cdef")->empty());
    EXPECT_EQ(*(*a)->get_range("packs/ab/abcd", 100, 50),
              Bytes(big.begin() + 100, big.begin() + 150));
    EXPECT_EQ((*a)->get_range("snapshots/01", 5, 10).status().code(), Code::corruption);
    EXPECT_EQ((*a)->get("index/x").status().code(), Code::not_found);
    auto packs = (*a)->list("packs/");
    ASSERT_TRUE(packs.ok());
    ASSERT_EQ(packs->size(), 2u);
    EXPECT_EQ((*packs)[0].name, "packs/ab/abcd");
    EXPECT_EQ((*packs)[0].size, big.size());
    EXPECT_EQ((*a)->list("keys/")->size(), 0u);
    EXPECT_EQ((*a)->stat("config")->size, 2u);
    EXPECT_FALSE((*a)->put("config", as_bytes("x")).ok());
    EXPECT_FALSE((*a)->remove("config").ok());
}

TEST_F(ArchiveTest, NothingIsLeftWithoutCommitAndNoFileIsReplaced) {
    {
        auto w = ArchiveWriter::create(file, repo_id, snap_id);
        ASSERT_TRUE(w.ok());
        ASSERT_TRUE((*w)->add("config", big).ok());
        EXPECT_EQ(entries_in_dir(), 1u);  // the temporary
    }
    EXPECT_EQ(entries_in_dir(), 0u) << "a dropped writer left its temporary";
    spit(file, "precious");
    EXPECT_EQ(ArchiveWriter::create(file, repo_id, snap_id).status().code(), Code::already_exists);
    // Made between create and commit: still not replaced.
    fs::remove(file);
    auto w = ArchiveWriter::create(file, repo_id, snap_id);
    ASSERT_TRUE(w.ok());
    spit(file, "precious");
    EXPECT_EQ((*w)->commit().code(), Code::already_exists);
    w->reset();
    EXPECT_EQ(slurp(file), "precious");
    EXPECT_EQ(entries_in_dir(), 1u);
    EXPECT_FALSE((*ArchiveWriter::create(file + "2", repo_id, snap_id))->add("../x", {}).ok());
}

TEST_F(ArchiveTest, EveryDamageIsRefusedAtOpen) {
    const std::string good = write_sample();
    auto open_code = [&](const std::string& bytes) {
        spit(file, bytes);
        return ArchiveStore::open(file).status().code();
    };
    for (size_t at = 0; at < good.size(); at += good.size() / 97 + 1) {
        std::string bad = good;
        bad[at] ^= 0x20;
        Code c = open_code(bad);
        EXPECT_TRUE(c == Code::integrity || (at < 5 && c == Code::invalid_argument))
            << "flipped byte " << at << " opened";
    }
    for (size_t keep : {size_t(0), size_t(3), size_t(10), size_t(70), good.size() / 2,
                        good.size() - 33, good.size() - 1})
        EXPECT_NE(open_code(good.substr(0, keep)), Code::ok) << "truncated to " << keep;
    EXPECT_EQ(open_code(good + "x"), Code::integrity);
    EXPECT_EQ(open_code("just some text, long enough to be a header of a backup file......."),
              Code::invalid_argument);
    // The same name twice, with a checksum that matches.
    auto w = ArchiveWriter::create(dir.path() + "/dup", repo_id, snap_id);
    ASSERT_TRUE((*w)->add("config", as_bytes("a")).ok());
    ASSERT_TRUE((*w)->add("config", as_bytes("b")).ok());
    ASSERT_TRUE((*w)->commit().ok());
    auto dup = ArchiveStore::open(dir.path() + "/dup");
    EXPECT_EQ(dup.status().code(), Code::integrity);
    EXPECT_NE(dup.status().message().find("appears twice"), std::string::npos);
}

}  // namespace
}  // namespace coffer::archive
