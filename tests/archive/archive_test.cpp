// The backup file container: what the writer adds the reader returns, byte for byte and by
// prefix; a writer dropped before commit leaves nothing; commit never replaces a file; a
// truncated, extended or altered file, a duplicate name or a foreign file is refused at open.
#include "coffer/archive/archive.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "coffer/repo/format.h"
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
        EXPECT_TRUE((*w)->add("config", as_bytes(config_json())).ok());
        EXPECT_TRUE((*w)->add("packs/ab/abcd", big).ok());
        EXPECT_TRUE((*w)->add("packs/cd/cdef", as_bytes("")).ok());
        EXPECT_TRUE((*w)->add(repo::snapshot_name(snap_id), as_bytes("manifest")).ok());
        Status st = (*w)->commit();
        EXPECT_TRUE(st.ok()) << st.to_string();
        return slurp(file);
    }
    std::string config_json() const {
        repo::RepoConfig c;
        c.id = repo_id;
        c.created = "2026-12-01T00:00:00Z";
        c.recovery_public_key = Bytes(32, 1);
        c.registry_public_key = Bytes(32, 2);
        return c.to_json();
    }
    // A file of these entries, with a correct checksum over whatever they say.
    std::string raw_file(const std::vector<std::pair<std::string, std::string>>& entries,
                         uint64_t count, uint64_t size_bias = 0, uint16_t name_len_bias = 0) {
        std::string out = "CFRX";
        out += char(1);
        out.append(reinterpret_cast<const char*>(repo_id.bytes.data()), 32);
        out.append(reinterpret_cast<const char*>(snap_id.bytes.data()), 32);
        auto le = [&](uint64_t v, int n) {
            for (int i = 0; i < n; ++i) out += char(v >> (8 * i));
        };
        for (const auto& [name, data] : entries) {
            out += char(1);
            le(name.size() + name_len_bias, 2);
            out += name;
            le(data.size() + size_bias, 8);
            out += data;
        }
        out += char(0);
        le(count, 8);
        Id digest = crypto::sha256(as_bytes(out));
        out.append(reinterpret_cast<const char*>(digest.bytes.data()), 32);
        return out;
    }
    size_t entries_in_dir() const {
        return std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{});
    }

    store::testing::TempDir dir;
    std::string file = dir.path() + "/snap.coffer";
    Id repo_id = crypto::sha256(as_bytes("repo"));
    Id snap_id = crypto::sha256(as_bytes("snap"));
    Bytes big = crypto::random_bytes(3 << 19);  // more than one hashing step
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
    EXPECT_EQ((*a)->get_range(repo::snapshot_name(snap_id), 5, 10).status().code(),
              Code::corruption);
    EXPECT_EQ((*a)->get("index/x").status().code(), Code::not_found);
    auto packs = (*a)->list("packs/");
    ASSERT_TRUE(packs.ok());
    ASSERT_EQ(packs->size(), 2u);
    EXPECT_EQ((*packs)[0].name, "packs/ab/abcd");
    EXPECT_EQ((*packs)[0].size, big.size());
    EXPECT_EQ((*a)->list("keys/")->size(), 0u);
    EXPECT_EQ((*a)->stat("config")->size, config_json().size());
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
    // Every byte of the header and the first entries, then a spread over the rest.
    for (size_t at = 0; at < good.size(); at += at < 500 ? 1 : good.size() / 97 + 1) {
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
    // Crafted lengths under a checksum that matches: the shape is checked, not just the hash.
    const std::string cfg = config_json();
    const std::string snap = repo::snapshot_name(snap_id);
    spit(file, raw_file({{"config", cfg}, {snap, "m"}}, 2));
    EXPECT_TRUE(ArchiveStore::open(file).ok()) << "the hand-made file is well formed";
    for (const auto& bad : {raw_file({{"config", cfg}, {snap, "m"}}, 3),        // count
                            raw_file({{"config", cfg}, {snap, "m"}}, 2, 1),     // sizes + 1
                            raw_file({{"config", cfg}, {snap, "m"}}, 2, 0, 1),  // names + 1
                            raw_file({{"config", cfg}, {snap, "m"}}, 2, uint64_t(1) << 63),
                            raw_file({{"config", cfg}}, 1),  // no snapshot
                            raw_file({{"config", cfg}, {snap, "m"}, {"snapshots/x", "n"}}, 3),
                            raw_file({{snap, "m"}}, 1),  // no config
                            raw_file({{"config", "{}"}, {snap, "m"}}, 2),
                            raw_file({{"config", cfg}, {"../etc/passwd", "m"}}, 2),
                            raw_file({{"config", cfg}, {std::string(1100, 'a'), "m"}}, 2)}) {
        spit(file, bad);
        auto opened = ArchiveStore::open(file);
        EXPECT_EQ(opened.status().code(), Code::integrity) << opened.status().to_string();
    }
    // The same name twice, with a checksum that matches.
    auto w = ArchiveWriter::create(dir.path() + "/dup", repo_id, snap_id);
    ASSERT_TRUE((*w)->add("config", as_bytes(cfg)).ok());
    ASSERT_TRUE((*w)->add("config", as_bytes(cfg)).ok());
    ASSERT_TRUE((*w)->commit().ok());
    auto dup = ArchiveStore::open(dir.path() + "/dup");
    EXPECT_EQ(dup.status().code(), Code::integrity);
    EXPECT_NE(dup.status().message().find("appears twice"), std::string::npos);
}

}  // namespace
}  // namespace coffer::archive
