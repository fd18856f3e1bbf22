// Restoring real backups: contents, attributes, target rules, includes, damaged data and keys.
#include "coffer/restore/restore.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backup/backup_test_util.h"
#include "coffer/backup/backup.h"

namespace coffer::restore {
namespace {

using coffer::testing::make_source_tree;
using coffer::testing::read_file;
using coffer::testing::set_mtime;
using coffer::testing::SourceTree;
using coffer::testing::TestRepo;
namespace fs = std::filesystem;

::testing::Environment* const g_env =
    ::testing::AddGlobalTestEnvironment(new coffer::testing::CryptoEnvironment);

const bool k_root = geteuid() == 0;

struct Stat {
    struct stat st {};
    bool ok = false;
};
Stat lstat_of(const std::string& path) {
    Stat s;
    s.ok = ::lstat(path.c_str(), &s.st) == 0;
    return s;
}
int64_t mtime_ns(const struct stat& st) {
    return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// Names (recursively, relative) under dir, without following symlinks.
std::set<std::string> listing(const std::string& dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec))
        out.insert(it->path().lexically_relative(dir).string());
    return out;
}

class RestoreTest : public ::testing::Test {
protected:
    TestRepo repo;
    std::string src = repo.tmp.path() + "/src";
    std::string target = repo.tmp.path() + "/target";
    SourceTree tree = make_source_tree(src);
    repo::Snapshot snapshot;

    void SetUp() override {
        // Attributes worth restoring: modes, setuid (as root), nanosecond mtimes everywhere.
        ASSERT_EQ(::chmod((src + "/nested").c_str(), 0750), 0);
        ASSERT_EQ(::chmod((src + "/a.txt").c_str(), 0600), 0);
        ASSERT_EQ(::chmod((src + "/empty_dir").c_str(), 0701), 0);
        ASSERT_EQ(::chmod((src + "/big.bin").c_str(), 0444), 0);
        if (k_root) {
            coffer::testing::write_file(src + "/suid", "#!/bin/sh\n");
            ASSERT_EQ(::chmod((src + "/suid").c_str(), 04755), 0);
            ASSERT_EQ(::chown((src + "/a.txt").c_str(), 1234, 5678), 0);
            ASSERT_EQ(::lchown((src + "/link").c_str(), 4321, 8765), 0);
            tree.files.push_back("suid");
        }
        int64_t t = 1600000000123456789;
        std::vector<std::string> entries;
        for (const auto& e : fs::recursive_directory_iterator(src)) entries.push_back(e.path());
        // Deepest first, so that setting a child's time does not disturb its parent's.
        std::sort(entries.rbegin(), entries.rend());
        for (const auto& e : entries) set_mtime(e, t += 1000000007);
        set_mtime(src, t + 1);

        backup::Options o;
        o.paths = {src};
        o.threads = 2;
        auto out = backup::run(*repo.repository, o);
        ASSERT_TRUE(out.ok()) << out.status().to_string();
        ASSERT_TRUE(out->errors.empty());
        snapshot = out->snapshot;
    }

    Result<Outcome> restore_to(const std::string& dir, std::vector<std::string> includes = {},
                               bool overwrite = false, repo::Repository* r = nullptr) {
        Options o;
        o.target = dir;
        o.includes = std::move(includes);
        o.overwrite = overwrite;
        o.threads = 2;
        return restore(r ? *r : *repo.repository, snapshot, o);
    }

    // The restored copy of a source path.
    std::string restored(const std::string& source_path) { return target + source_path; }
};

void expect_same_entry(const std::string& a, const std::string& b) {
    Stat sa = lstat_of(a), sb = lstat_of(b);
    ASSERT_TRUE(sa.ok) << a;
    ASSERT_TRUE(sb.ok) << b << " was not restored";
    EXPECT_EQ(sa.st.st_mode, sb.st.st_mode) << b;  // type and all mode bits
    EXPECT_EQ(mtime_ns(sa.st), mtime_ns(sb.st)) << b;
    if (k_root) {
        EXPECT_EQ(sa.st.st_uid, sb.st.st_uid) << b;
        EXPECT_EQ(sa.st.st_gid, sb.st.st_gid) << b;
    }
    if (S_ISREG(sa.st.st_mode)) {
        EXPECT_EQ(sa.st.st_size, sb.st.st_size) << b;
        EXPECT_TRUE(read_file(a) == read_file(b)) << b << " differs";
    } else if (S_ISLNK(sa.st.st_mode)) {
        EXPECT_EQ(fs::read_symlink(a), fs::read_symlink(b)) << b;
    }
}

TEST_F(RestoreTest, RestoresAnExactCopy) {
    auto out = restore_to(target);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_TRUE(out->errors.empty()) << out->errors.front();
    EXPECT_EQ(out->files, tree.files.size());
    EXPECT_EQ(out->symlinks, 2u);
    EXPECT_EQ(out->bytes, tree.total_bytes + (k_root ? 10 : 0));

    expect_same_entry(src, restored(src));
    std::set<std::string> source = listing(src);
    EXPECT_EQ(listing(restored(src)), source);
    for (const auto& rel : source) expect_same_entry(src + "/" + rel, restored(src + "/" + rel));
    // Spot checks of what expect_same_entry compared.
    EXPECT_EQ(lstat_of(restored(src + "/nested")).st.st_mode & 07777, 0750u);
    EXPECT_EQ(lstat_of(restored(src + "/a.txt")).st.st_mode & 07777, 0600u);
    EXPECT_EQ(mtime_ns(lstat_of(restored(src + "/a.txt")).st) % 1000000000,
              mtime_ns(lstat_of(src + "/a.txt").st) % 1000000000);
    EXPECT_NE(mtime_ns(lstat_of(src + "/a.txt").st) % 1000, 0);  // really ns precision
    EXPECT_TRUE(fs::is_empty(restored(src + "/empty_dir")));
    EXPECT_EQ(fs::read_symlink(restored(src + "/link")), "a.txt");
    if (k_root) {
        EXPECT_EQ(lstat_of(restored(src + "/suid")).st.st_mode & 07777, 04755u);
    }
    // The snapshot's paths are absolute: only the ancestors of src sit next to it.
    EXPECT_EQ(listing(target).count(fs::relative(src, "/").begin()->string()), 1u);
}

TEST_F(RestoreTest, NonEmptyTargetNeedsOverwrite) {
    fs::create_directories(target);
    coffer::testing::write_file(target + "/existing.txt", "keep me");
    auto out = restore_to(target);
    EXPECT_EQ(out.status().code(), Code::invalid_argument) << out.status().to_string();
    EXPECT_EQ(listing(target), std::set<std::string>{"existing.txt"});
    EXPECT_EQ(read_file(target + "/existing.txt"), "keep me");

    // With overwrite: unrelated entries stay, snapshot entries replace what is there.
    fs::create_directories(restored(src));
    coffer::testing::write_file(restored(src + "/a.txt"),
                                "stale content, longer than the original");
    auto over = restore_to(target, {}, true);
    ASSERT_TRUE(over.ok()) << over.status().to_string();
    EXPECT_TRUE(over->errors.empty()) << over->errors.front();
    EXPECT_EQ(read_file(target + "/existing.txt"), "keep me");
    expect_same_entry(src + "/a.txt", restored(src + "/a.txt"));
    expect_same_entry(src + "/big.bin", restored(src + "/big.bin"));
    // Restoring again over a complete copy changes nothing.
    auto again = restore_to(target, {}, true);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->errors.empty()) << again->errors.front();
    for (const auto& rel : listing(src))
        expect_same_entry(src + "/" + rel, restored(src + "/" + rel));
}

TEST_F(RestoreTest, IncludesRestoreOnlyTheNamedSubtree) {
    auto out = restore_to(target, {src + "/nested"});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_TRUE(out->errors.empty()) << out->errors.front();
    EXPECT_EQ(out->files, 3u);  // note.tmp, deep.txt, junk.bin
    std::set<std::string> expected;
    for (const auto& rel : listing(src + "/nested")) expected.insert("nested/" + rel);
    expected.insert("nested");
    EXPECT_EQ(listing(restored(src)), expected);
    for (const auto& rel : expected) expect_same_entry(src + "/" + rel, restored(src + "/" + rel));

    // A single file, given with a trailing slash and a redundant component.
    std::string t2 = repo.tmp.path() + "/target2";
    Options o;
    o.target = t2;
    o.includes = {src + "/./big.bin/"};
    auto one = restore(*repo.repository, snapshot, o);
    ASSERT_TRUE(one.ok()) << one.status().to_string();
    EXPECT_EQ(one->files, 1u);
    EXPECT_EQ(listing(t2 + src), std::set<std::string>{"big.bin"});
    expect_same_entry(src + "/big.bin", t2 + src + "/big.bin");

    // An include that names nothing is an error (a typo must not look like success), and
    // nothing is written.
    std::string t3 = repo.tmp.path() + "/target3";
    o.target = t3;
    o.includes = {src + "/no/such/path"};
    auto none = restore(*repo.repository, snapshot, o);
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.status().code(), coffer::Code::not_found);
    EXPECT_FALSE(fs::exists(t3 + src + "/a.txt"));
}

// A staged restore with damaged data makes nothing live (the rest is not the backup); with
// --overwrite, which replaces in place, that file alone fails and the others are restored.
TEST_F(RestoreTest, DamagedChunkMakesNothingLiveOrFailsThatFileOnlyWithOverwrite) {
    auto nodes = coffer::testing::snapshot_nodes(*repo.repository, snapshot);
    const repo::Node& big = nodes[src + "/big.bin"];
    ASSERT_GE(big.content.size(), 4u);
    // Damage a chunk in the middle, so the file has been partly written when it fails.
    Id victim = big.content[big.content.size() / 2];
    ASSERT_TRUE(repo.repository->load_index().ok());
    const repo::Location* loc = repo.repository->index().find(victim);
    ASSERT_NE(loc, nullptr);
    std::string pack =
        repo.dir + "/" + repo::pack_name(repo.repository->index().pack_id(loc->pack));
    {
        std::fstream f(pack, std::ios::in | std::ios::out | std::ios::binary);
        ASSERT_TRUE(f.good()) << pack;
        f.seekg(loc->offset + loc->length / 2);
        char c = 0;
        f.read(&c, 1);
        c ^= 0x10;
        f.seekp(loc->offset + loc->length / 2);
        f.write(&c, 1);
        ASSERT_TRUE(f.good());
    }
    auto fresh = repo.reopen();
    auto staged = restore_to(target, {}, false, fresh.get());
    ASSERT_FALSE(staged.ok());
    EXPECT_EQ(staged.status().code(), Code::integrity) << staged.status().to_string();
    EXPECT_NE(staged.status().message().find(src + "/big.bin"), std::string::npos)
        << staged.status().to_string();
    EXPECT_NE(staged.status().message().find("nothing was made live"), std::string::npos);
    EXPECT_FALSE(fs::exists(target));
    for (const auto& e : fs::directory_iterator(fs::path(target).parent_path()))
        EXPECT_EQ(e.path().filename().string().find("coffer-partial"), std::string::npos)
            << "staging left behind: " << e.path();

    auto out = restore_to(target, {}, /*overwrite=*/true, fresh.get());
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    ASSERT_FALSE(out->errors.empty());
    bool named = false;
    for (const auto& e : out->errors) named |= e.find(src + "/big.bin") != std::string::npos;
    EXPECT_TRUE(named) << out->errors.front();
    EXPECT_FALSE(lstat_of(restored(src + "/big.bin")).ok) << "partial file left behind";
    EXPECT_EQ(out->files, tree.files.size() - 1);
    // Files in other records are intact (a.txt and deep.txt are not in the damaged record).
    expect_same_entry(src + "/a.txt", restored(src + "/a.txt"));
    expect_same_entry(src + "/nested/deeper/deep.txt", restored(src + "/nested/deeper/deep.txt"));
}

TEST_F(RestoreTest, HostKeyAloneCannotRestore) {
    auto host_only = repo.reopen(/*with_host=*/true, /*with_recovery=*/false);
    auto out = restore_to(target, {}, false, host_only.get());
    EXPECT_EQ(out.status().code(), Code::wrong_key) << out.status().to_string();
    EXPECT_FALSE(fs::exists(target));
}

TEST_F(RestoreTest, WalkVisitsEveryNodeParentsFirst) {
    std::vector<std::string> paths;
    Status st = walk(*repo.repository, snapshot.tree, [&](const std::string& p, const repo::Node&) {
        paths.push_back(p);
        return ok_status();
    });
    ASSERT_TRUE(st.ok()) << st.to_string();
    std::set<std::string> seen;
    for (const auto& p : paths) {
        std::string parent = fs::path(p).parent_path();
        if (parent != "/") {
            EXPECT_TRUE(seen.count(parent)) << p;
        }
        seen.insert(p);
    }
    for (const auto& rel : listing(src)) EXPECT_TRUE(seen.count(src + "/" + rel)) << rel;
    // An error from the visitor stops the walk and is returned.
    size_t calls = 0;
    Status stop = walk(*repo.repository, snapshot.tree, [&](const std::string&, const repo::Node&) {
        return ++calls == 3 ? cancelled("stop") : ok_status();
    });
    EXPECT_EQ(stop.code(), Code::cancelled);
    EXPECT_EQ(calls, 3u);
}

}  // namespace
}  // namespace coffer::restore
