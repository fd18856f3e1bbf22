// The backup engine on a LocalStore repository: snapshot contents, the file cache, excludes,
// argument errors and repository failures.
#include "coffer/backup/backup.h"

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backup/backup_test_util.h"
#include "coffer/backup/file_cache.h"
#include "coffer/crypto/crypto.h"

namespace coffer::backup {
namespace {

using coffer::testing::file_content;
using coffer::testing::k_weird_name;
using coffer::testing::make_source_tree;
using coffer::testing::snapshot_nodes;
using coffer::testing::SourceTree;
using coffer::testing::TestRepo;
using repo::NodeKind;
namespace fs = std::filesystem;

::testing::Environment* const g_env =
    ::testing::AddGlobalTestEnvironment(new coffer::testing::CryptoEnvironment);

class BackupTest : public ::testing::Test {
protected:
    TestRepo repo;
    std::string src = repo.tmp.path() + "/src";
    std::string cache = repo.tmp.path() + "/cache/files";
    SourceTree tree = make_source_tree(src);

    Options options() {
        Options o;
        o.paths = {src};
        o.hostname = "backup-test";
        o.cache_path = cache;
        o.threads = 2;
        return o;
    }

    Outcome run_ok(const Options& o) {
        auto r = run(*repo.repository, o);
        EXPECT_TRUE(r.ok()) << r.status().to_string();
        if (!r.ok()) return {};
        EXPECT_TRUE(r->errors.empty()) << r->errors.front();
        return std::move(r).value();
    }
};

TEST_F(BackupTest, SnapshotHoldsTheWholeTree) {
    Outcome out = run_ok(options());
    const repo::Snapshot& s = out.snapshot;
    EXPECT_FALSE(s.id.is_zero());
    EXPECT_EQ(s.sequence, 1u);
    EXPECT_EQ(s.paths, std::vector<std::string>{src});
    EXPECT_EQ(s.hostname, "backup-test");
    EXPECT_FALSE(s.incomplete);
    EXPECT_EQ(s.summary.files_new, tree.files.size());
    EXPECT_EQ(s.summary.files_unchanged, 0u);
    EXPECT_EQ(s.summary.bytes_read, tree.total_bytes);
    EXPECT_EQ(s.summary.total_bytes, tree.total_bytes);
    EXPECT_GE(s.summary.data_added, tree.total_bytes);
    EXPECT_GT(s.summary.packed_added, 3u << 20);

    auto stored = repo.reopen()->find_snapshot("latest");
    ASSERT_TRUE(stored.ok()) << stored.status().to_string();
    EXPECT_EQ(stored->id, s.id);

    auto nodes = snapshot_nodes(*repo.repository, s);
    // Every ancestor of the backup path is recorded as a directory.
    for (fs::path p = fs::path(src); p != p.root_path(); p = p.parent_path()) {
        ASSERT_TRUE(nodes.count(p.string())) << p;
        EXPECT_EQ(nodes[p.string()].kind, NodeKind::dir) << p;
    }
    for (const auto& rel : tree.files) {
        std::string path = src + "/" + rel;
        ASSERT_TRUE(nodes.count(path)) << path;
        const repo::Node& n = nodes[path];
        EXPECT_EQ(n.kind, NodeKind::file);
        EXPECT_EQ(n.size, fs::file_size(path)) << path;
        EXPECT_EQ(file_content(*repo.repository, n), coffer::testing::read_file(path)) << path;
        struct stat st {};
        ASSERT_EQ(lstat(path.c_str(), &st), 0);
        EXPECT_EQ(n.mode, st.st_mode & 07777);
        EXPECT_EQ(n.mtime_ns, int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
    }
    EXPECT_TRUE(nodes[src + "/empty_file"].content.empty());
    EXPECT_GT(nodes[src + "/big.bin"].content.size(), 4u);  // cut into many chunks
    EXPECT_EQ(nodes[src + "/" + k_weird_name].kind, NodeKind::file);
    EXPECT_EQ(nodes[src + "/empty_dir"].kind, NodeKind::dir);
    EXPECT_EQ(nodes[src + "/link"].kind, NodeKind::symlink);
    EXPECT_EQ(nodes[src + "/link"].link_target, "a.txt");
    EXPECT_EQ(nodes[src + "/nested/up"].link_target, "../a.txt");
    // Nothing beyond the tree (and its ancestors) is in the snapshot.
    size_t under_src = 0;
    for (const auto& [path, n] : nodes) under_src += path.starts_with(src + "/");
    EXPECT_EQ(under_src, tree.files.size() + 6);  // + empty_dir, nested, deeper, cache, 2 links
}

TEST_F(BackupTest, SecondRunReadsNothingAndTouchedFileIsReread) {
    Outcome first = run_ok(options());
    ASSERT_TRUE(fs::exists(cache));
    auto first_nodes = snapshot_nodes(*repo.repository, first.snapshot);

    Outcome second = run_ok(options());
    const auto& s2 = second.snapshot.summary;
    EXPECT_EQ(s2.bytes_read, 0u);
    EXPECT_EQ(s2.files_unchanged, tree.files.size());
    EXPECT_EQ(s2.files_new, 0u);
    EXPECT_EQ(s2.files_changed, 0u);
    EXPECT_EQ(s2.total_bytes, tree.total_bytes);
    // Only the trees of the backup path's ancestors may change (their mtimes), nothing else.
    EXPECT_LE(s2.data_added, 600u);
    EXPECT_EQ(second.snapshot.sequence, 2u);
    EXPECT_EQ(second.snapshot.previous, first.snapshot.id.hex());
    auto second_nodes = snapshot_nodes(*repo.repository, second.snapshot);
    EXPECT_EQ(second_nodes[src].subtree, first_nodes[src].subtree);

    // Touch one file: only it is read again.
    std::string touched = src + "/nested/deeper/deep.txt";
    coffer::testing::set_mtime(touched, 1700000000123456789);
    Outcome third = run_ok(options());
    const auto& s3 = third.snapshot.summary;
    EXPECT_EQ(s3.files_changed, 1u);
    EXPECT_EQ(s3.files_unchanged, tree.files.size() - 1);
    EXPECT_EQ(s3.bytes_read, fs::file_size(touched));
    auto third_nodes = snapshot_nodes(*repo.repository, third.snapshot);
    EXPECT_EQ(third_nodes[touched].mtime_ns, 1700000000123456789);
    EXPECT_EQ(third_nodes[touched].content, first_nodes[touched].content);  // same bytes

    // Without the cache everything is read again, but nothing new is stored.
    Options no_cache = options();
    no_cache.cache_path.clear();
    Outcome fourth = run_ok(no_cache);
    EXPECT_EQ(fourth.snapshot.summary.bytes_read, tree.total_bytes);
    EXPECT_EQ(fourth.snapshot.summary.files_unchanged, 0u);
    EXPECT_LE(fourth.snapshot.summary.data_added, 600u);
}

// Regression: a file rewritten within the timestamp tick in which it was read keeps its mtime
// and ctime; caching it would make the next backup skip the new contents ("racy clean").
TEST_F(BackupTest, RacyFilesAreNotCached) {
    std::string racy = src + "/racy.txt";
    coffer::testing::write_file(racy, "first version");
    // An mtime in the future is racy by any clock: the rule must not cache it.
    coffer::testing::set_mtime(racy, coffer::repo::now_unix_ns() + 3600'000'000'000);
    run_ok(options());
    Outcome second = run_ok(options());
    EXPECT_EQ(second.snapshot.summary.files_unchanged, tree.files.size());
    EXPECT_EQ(second.snapshot.summary.bytes_read, fs::file_size(racy));
}

TEST_F(BackupTest, ExcludesSkipEntries) {
    Options o = options();
    o.excludes = {"*.tmp", src + "/nested/*/cache"};
    Outcome out = run_ok(o);
    auto nodes = snapshot_nodes(*repo.repository, out.snapshot);
    EXPECT_FALSE(nodes.count(src + "/nested/note.tmp"));
    EXPECT_FALSE(nodes.count(src + "/nested/deeper/cache"));
    EXPECT_FALSE(nodes.count(src + "/nested/deeper/cache/junk.bin"));
    EXPECT_TRUE(nodes.count(src + "/nested/deeper/deep.txt"));
    EXPECT_TRUE(nodes.count(src + "/a.txt"));
    EXPECT_EQ(out.snapshot.summary.files_new, tree.files.size() - 2);
}

TEST(Excluded, NamePatternsAndPathPatterns) {
    using V = std::vector<std::string>;
    EXPECT_FALSE(excluded({}, "/a/b.tmp", "b.tmp"));
    EXPECT_TRUE(excluded(V{"*.tmp"}, "/a/b.tmp", "b.tmp"));
    EXPECT_FALSE(excluded(V{"*.tmp"}, "/a/b.tmp.keep", "b.tmp.keep"));
    EXPECT_FALSE(excluded(V{"*.tmp"}, "/a.tmp/b", "b"));  // names match only the final component
    EXPECT_TRUE(excluded(V{"node_modules"}, "/p/node_modules", "node_modules"));
    EXPECT_FALSE(excluded(V{"node_modules"}, "/p/node_modules2", "node_modules2"));
    EXPECT_TRUE(excluded(V{"?.o"}, "/src/x.o", "x.o"));
    EXPECT_FALSE(excluded(V{"?.o"}, "/src/xy.o", "xy.o"));
    EXPECT_TRUE(excluded(V{"[ab].txt"}, "/d/b.txt", "b.txt"));
    EXPECT_FALSE(excluded(V{"[ab].txt"}, "/d/c.txt", "c.txt"));
    // A pattern with '/' is matched against the whole path.
    EXPECT_TRUE(excluded(V{"/home/*/cache"}, "/home/u/cache", "cache"));
    EXPECT_FALSE(excluded(V{"/home/*/cache"}, "/home/u/cache2", "cache2"));
    EXPECT_FALSE(excluded(V{"/home/*/cache"}, "/srv/u/cache", "cache"));
    EXPECT_FALSE(excluded(V{"a/b"}, "/x/a/b", "b"));
    EXPECT_TRUE(excluded(V{"/x/a/b"}, "/x/a/b", "b"));
    EXPECT_TRUE(excluded(V{"*.jpg", "/x/*"}, "/x/y", "y"));  // any pattern suffices
    EXPECT_FALSE(excluded(V{"*.jpg", "/z/*"}, "/x/y", "y"));
}

TEST(FileCache, SaveLoadRoundTripAndDamage) {
    store::testing::TempDir tmp;
    std::string path = tmp.path() + "/deep/er/cache";
    Id k1 = Id::from(as_bytes(coffer::testing::random_content(32, 1)));
    Id k2 = Id::from(as_bytes(coffer::testing::random_content(32, 2)));
    Id c1 = Id::from(as_bytes(coffer::testing::random_content(32, 3)));
    Id c2 = Id::from(as_bytes(coffer::testing::random_content(32, 4)));
    auto write = [&] {
        auto w = FileCacheWriter::create(path);
        ASSERT_TRUE(w.ok()) << w.status().to_string();
        w->put(k1, {1, 1, 1, 1}, std::vector<Id>{c2});  // superseded by the later record
        w->put(k1, {123, 1700000000123456789, -5, 77}, std::vector<Id>{c1, c2, c1});
        w->put(k2, {0, 0, 0, 0}, {});
        ASSERT_TRUE(w->commit().ok());
    };
    write();
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path() + "/deep/er"), {}), 1);

    FileCache loaded = FileCache::load(path);
    ASSERT_EQ(loaded.size(), 2u);
    const FileCache::Entry* f1 = loaded.find(k1);
    ASSERT_NE(f1, nullptr);
    EXPECT_EQ(f1->fingerprint, (FileFingerprint{123, 1700000000123456789, -5, 77}));
    auto chunks = loaded.chunks(*f1);
    EXPECT_EQ(std::vector<Id>(chunks.begin(), chunks.end()), (std::vector<Id>{c1, c2, c1}));
    ASSERT_NE(loaded.find(k2), nullptr);
    EXPECT_TRUE(loaded.chunks(*loaded.find(k2)).empty());
    EXPECT_EQ(loaded.find(c1), nullptr);

    std::string good = coffer::testing::read_file(path);
    EXPECT_EQ(FileCache::load(tmp.path() + "/missing").size(), 0u);
    for (size_t cut : {size_t(0), size_t(5), good.size() / 2, good.size() - 1}) {
        coffer::testing::write_file(path, good.substr(0, cut));
        EXPECT_EQ(FileCache::load(path).size(), 0u) << cut;
    }
    coffer::testing::write_file(path, good + "x");
    EXPECT_EQ(FileCache::load(path).size(), 0u);
    coffer::testing::write_file(path, "garbage that is not a cache at all");
    EXPECT_EQ(FileCache::load(path).size(), 0u);
    std::string wrong_magic = good;
    wrong_magic[0] ^= 1;
    coffer::testing::write_file(path, wrong_magic);
    EXPECT_EQ(FileCache::load(path).size(), 0u);
    // The damaged file is simply replaced by the next cache.
    write();
    EXPECT_EQ(FileCache::load(path).size(), 2u);

    // A writer dropped without commit (a failed backup) leaves the old cache as it was and no
    // file behind.
    {
        auto w = FileCacheWriter::create(path);
        ASSERT_TRUE(w.ok());
        w->put(c1, {9, 9, 9, 9}, {});
    }
    EXPECT_EQ(coffer::testing::read_file(path), good);
    EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path() + "/deep/er"), {}), 1);
}

// Records are read in blocks: a cache larger than one block, with a record that spans blocks
// (a file of many chunks), loads whole.
TEST(FileCache, LargeCacheLoadsAcrossBlocks) {
    store::testing::TempDir tmp;
    std::string path = tmp.path() + "/cache";
    auto w = FileCacheWriter::create(path);
    ASSERT_TRUE(w.ok());
    std::vector<Id> many(50000);
    for (size_t i = 0; i < many.size(); ++i)
        many[i] = Id::from(as_bytes(coffer::testing::random_content(32, 100 + i)));
    const uint64_t files = 30000;
    for (uint64_t i = 0; i < files; ++i) {
        Id key = crypto::sha256(as_bytes(std::to_string(i)));
        w->put(key, {i, int64_t(i), 0, i},
               i == files / 2 ? std::span<const Id>(many) : std::span<const Id>(&many[i], 1));
    }
    ASSERT_TRUE(w->commit().ok());
    EXPECT_GT(fs::file_size(path), 3u << 20);
    FileCache c = FileCache::load(path);
    ASSERT_EQ(c.size(), files);
    for (uint64_t i : {uint64_t(0), files / 2, files - 1}) {
        const auto* e = c.find(crypto::sha256(as_bytes(std::to_string(i))));
        ASSERT_NE(e, nullptr) << i;
        EXPECT_EQ(e->fingerprint.size, i);
        EXPECT_EQ(c.chunks(*e).size(), i == files / 2 ? many.size() : 1u);
        EXPECT_EQ(c.chunks(*e).back(), i == files / 2 ? many.back() : many[i]);
    }
}

TEST_F(BackupTest, BadPathsFailBeforeWritingAnything) {
    auto packs_before = repo.objects("packs/");
    for (const auto& paths : std::vector<std::vector<std::string>>{
             {}, {src + "/does-not-exist"}, {src, src + "/does-not-exist"}}) {
        Options o = options();
        o.paths = paths;
        auto r = run(*repo.repository, o);
        EXPECT_EQ(r.status().code(), Code::invalid_argument) << r.status().to_string();
    }
    EXPECT_TRUE(repo.objects("snapshots/").empty());
    EXPECT_TRUE(repo.objects("index/").empty());
    EXPECT_EQ(repo.objects("packs/"), packs_before);
    EXPECT_FALSE(fs::exists(cache));
}

TEST_F(BackupTest, RelativeAndDuplicatePathsAreNormalized) {
    std::string cwd = fs::current_path();
    fs::current_path(repo.tmp.path());
    Options o = options();
    o.paths = {"src/", "./src", src + "/nested/.."};
    auto r = run(*repo.repository, o);
    fs::current_path(cwd);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->snapshot.paths, std::vector<std::string>{src});
    EXPECT_EQ(r->snapshot.summary.files_new, tree.files.size());
}

// A repository that cannot take a put: the backup fails, writes no snapshot and no cache.
class BackupFaultTest : public ::testing::TestWithParam<const char*> {};

TEST_P(BackupFaultTest, FailedUploadWritesNoSnapshot) {
    TestRepo repo(/*with_faults=*/true);
    std::string src = repo.tmp.path() + "/src";
    SourceTree tree = make_source_tree(src);
    repo.fault->add_rule({.op = store::Op::put, .prefix = GetParam(), .nth = 1});
    Options o;
    o.paths = {src};
    o.cache_path = repo.tmp.path() + "/cache";
    o.threads = 2;
    auto r = run(*repo.repository, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::io) << r.status().to_string();
    EXPECT_TRUE(repo.objects("snapshots/").empty());
    EXPECT_FALSE(fs::exists(o.cache_path));
    // The repository is still usable: a later backup (faults gone) succeeds and is complete.
    repo.fault->clear_rules();
    auto fresh = repo.reopen();
    auto again = run(*fresh, o);
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_EQ(again->snapshot.summary.files_new, tree.files.size());
    EXPECT_EQ(repo.objects("snapshots/").size(), 1u);
}

// A long-lived process that retries with the same Repository object after a failed upload:
// the retry must store again what the failed pack held, not trust it as already stored.
TEST_P(BackupFaultTest, RetryWithTheSameRepositoryIsComplete) {
    TestRepo repo(/*with_faults=*/true);
    std::string src = repo.tmp.path() + "/src";
    make_source_tree(src);
    repo.fault->add_rule({.op = store::Op::put, .prefix = GetParam(), .nth = 1});
    Options o;
    o.paths = {src};
    o.threads = 2;
    ASSERT_FALSE(run(*repo.repository, o).ok());
    repo.fault->clear_rules();
    auto again = run(*repo.repository, o);
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    // Every chunk of the snapshot can be read back by a fresh reader.
    auto fresh = repo.reopen();
    ASSERT_TRUE(fresh->load_index().ok());
    for (const auto& [path, node] : snapshot_nodes(*fresh, again->snapshot)) {
        for (const Id& id : node.content) {
            auto chunk = fresh->load_chunk(id, repo::ChunkType::data);
            EXPECT_TRUE(chunk.ok()) << path << ": " << chunk.status().to_string();
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Objects, BackupFaultTest,
                         ::testing::Values("packs/", "index/", "snapshots/"));

}  // namespace
}  // namespace coffer::backup
