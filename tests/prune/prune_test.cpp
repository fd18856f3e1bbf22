// Prune on real repositories (LocalStore directories): what it frees, what it keeps, repacking
// with the host key alone, the grace period, Object Lock retention, damaged repositories, and a
// crash at every store write or delete, after each of which the repository verifies and every
// kept snapshot reads back byte for byte.
#include "coffer/prune/prune.h"

#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "backup/backup_test_util.h"
#include "coffer/backup/backup.h"
#include "coffer/repo/keys.h"
#include "coffer/verify/verify.h"
#include "store/retaining_store.h"

namespace coffer::prune {
namespace {

using coffer::testing::random_content;
using coffer::testing::TestRepo;
using coffer::testing::write_file;
using store::testing::RetainingStore;
namespace fs = std::filesystem;

::testing::Environment* const g_env =
    ::testing::AddGlobalTestEnvironment(new coffer::testing::CryptoEnvironment);

constexpr int64_t k_hour_ns = 3600LL * 1000000000;

using Contents = std::map<std::string, std::string>;  // snapshot path -> file bytes

// Three backups of a changing tree; the first is then forgotten. Big files that only the first
// snapshot has make whole packs unused; a small file removed after the first backup leaves
// some packs partly unused.
class PruneTest : public ::testing::Test {
protected:
    void SetUp() override {
        src = repo.tmp.path() + "/src";
        fs::create_directories(src);
        write_file(src + "/only-first.bin", random_content(3 << 20, 1));
        write_file(src + "/small-gone.bin", random_content(120000, 2));
        write_file(src + "/kept.bin", random_content(2 << 20, 3));
        write_file(src + "/small-kept.bin", random_content(100000, 4));
        backup_now();
        fs::remove(src + "/only-first.bin");
        fs::remove(src + "/small-gone.bin");
        write_file(src + "/second.bin", random_content(1 << 20, 5));
        backup_now();
        write_file(src + "/third.txt", "third\n");
        backup_now();
        auto id = repo.repository->forget_snapshots({snapshots[0]}, "test");
        ASSERT_TRUE(id.ok()) << id.status().to_string();
        kept = {snapshots[1], snapshots[2]};
    }

    void backup_now() {
        backup::Options o;
        o.paths = {src};
        o.threads = 1;  // one packer: the same pack layout every run (see the repack test)
        auto r = backup::run(*repo.repository, o);
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        snapshots.push_back(r->snapshot);
        Contents c;
        for (const auto& e : fs::recursive_directory_iterator(src))
            if (e.is_regular_file()) c[e.path().string()] = coffer::testing::read_file(e.path());
        contents[r->snapshot.id.hex()] = c;
    }

    // Two small files written by one backup share its one new pack (600 kB < the 1 MiB pack
    // size); forgetting that backup once one of them is gone leaves the pack half used.
    void make_half_used_pack() {
        write_file(src + "/pair-a.bin", random_content(300000, 10));
        write_file(src + "/pair-b.bin", random_content(300000, 11));
        backup_now();
        fs::remove(src + "/pair-a.bin");
        backup_now();
        ASSERT_TRUE(repo.repository->forget_snapshots({snapshots[3]}, "test").ok());
        kept.push_back(snapshots[4]);
    }

    Options options(int64_t now_offset_ns = 2 * k_hour_ns) {
        Options o;
        o.now_ns = repo::now_unix_ns() + now_offset_ns;  // past the grace period
        return o;
    }

    // Verify with every key and data read: no problems. Then every kept snapshot has exactly
    // the files it had, byte for byte.
    void expect_intact(const std::string& when) {
        auto report = verify::verify(repo.local, &repo.host_key, &repo.recovery_key,
                                     verify::Options{.read_data = true});
        ASSERT_TRUE(report.ok()) << when << ": " << report.status().to_string();
        std::string problems;
        for (const auto& p : report->problems) problems += "\n  " + p;
        EXPECT_TRUE(report->ok()) << when << ":" << problems;
        auto fresh = repo.reopen();
        ASSERT_NE(fresh, nullptr);
        ASSERT_TRUE(fresh->load_index().ok());
        for (const auto& s : kept) {
            auto nodes = coffer::testing::snapshot_nodes(*fresh, s);
            size_t files = 0;
            for (const auto& [path, node] : nodes) {
                if (node.kind != repo::NodeKind::file) continue;
                files++;
                EXPECT_EQ(coffer::testing::file_content(*fresh, node),
                          contents.at(s.id.hex()).at(path))
                    << when << ": " << path;
            }
            EXPECT_EQ(files, contents.at(s.id.hex()).size()) << when;
        }
    }

    uint64_t pack_bytes() {
        uint64_t total = 0;
        auto l = repo.local->list("packs/");
        for (const auto& o : *l) total += o.size;
        return total;
    }

    TestRepo repo{true};
    std::string src;
    std::vector<repo::Snapshot> snapshots, kept;
    std::map<std::string, Contents> contents;
};

TEST_F(PruneTest, FreesWhatOnlyForgottenSnapshotsUsedAndKeepsTheRest) {
    uint64_t before = pack_bytes();
    auto r = prune(*repo.repository, options());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->snapshots, 2u);
    EXPECT_GE(r->packs_deleted + r->packs_repacked, 1u);
    // only-first.bin (3 MiB of random bytes) is gone; the rest stays.
    EXPECT_LT(pack_bytes(), before - (3 << 20) + (64 << 10));
    EXPECT_EQ(pack_bytes(), r->bytes_after);
    EXPECT_EQ(repo.objects("index/").size(), r->indexes_written);
    expect_intact("after prune");

    // Nothing left to do: a second prune deletes and writes nothing.
    auto again = prune(*repo.repository, options());
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_EQ(again->packs_deleted + again->packs_repacked + again->indexes_written, 0u);
}

TEST_F(PruneTest, RepacksPartlyUsedPacksWithTheHostKeyAlone) {
    ASSERT_NO_FATAL_FAILURE(make_half_used_pack());
    // A Repository that holds no recovery key: it cannot read a byte of the data it repacks.
    auto host_only = repo::Repository::open(repo.store, &repo.host_key, nullptr);
    ASSERT_TRUE(host_only.ok()) << host_only.status().to_string();
    auto r = prune(**host_only, options());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_GE(r->packs_repacked, 1u) << "small-gone.bin shared a pack with kept data";
    EXPECT_GT(r->bytes_written, 0u);
    expect_intact("after repack");
}

TEST_F(PruneTest, NoRepackBelowTheThreshold) {
    ASSERT_NO_FATAL_FAILURE(make_half_used_pack());
    Options o = options();
    o.max_unused = 1.0;
    auto r = prune(*repo.repository, o);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->packs_repacked, 0u);
    EXPECT_GT(r->unused_bytes, 0u);
    expect_intact("after prune without repack");
}

TEST_F(PruneTest, DryRunChangesNothing) {
    auto names = [&] {
        std::vector<std::string> all;
        for (auto p : {"packs/", "index/", "snapshots/", "tombstones/"})
            for (auto& n : repo.objects(p)) all.push_back(n);
        return all;
    };
    auto before = names();
    Options o = options();
    o.dry_run = true;
    auto r = prune(*repo.repository, o);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_GE(r->packs_deleted + r->packs_repacked, 1u);
    EXPECT_EQ(names(), before);
}

TEST_F(PruneTest, TheGracePeriodProtectsRecentObjects) {
    auto r = prune(*repo.repository, options(0));  // now: everything is minutes old
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->packs_deleted + r->packs_repacked, 0u);
    EXPECT_EQ(r->packs_young, r->packs);
    expect_intact("after a prune within the grace period");
}

TEST_F(PruneTest, RemovesUnindexedPacksOfAnInterruptedBackup) {
    // A backup that dies after uploading a pack but before its index (the second put).
    write_file(src + "/interrupted.bin", random_content(1 << 20, 77));
    repo.fault->add_rule({.op = store::Op::put, .prefix = "index/", .nth = 1});
    backup::Options o;
    o.paths = {src};
    auto failed = backup::run(*repo.repository, o);
    ASSERT_FALSE(failed.ok());
    repo.fault->clear_rules();
    auto fresh = repo.reopen(true, false);
    auto r = prune(*fresh, options());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    auto report = verify::verify(repo.local, &repo.host_key, nullptr, {});
    ASSERT_TRUE(report.ok());
    for (const auto& n : report->notes)
        EXPECT_EQ(n.find("not in any index"), std::string::npos) << n;
    expect_intact("after removing unindexed packs");
}

TEST_F(PruneTest, ObjectLockedObjectsAreKeptAndReported) {
    int64_t until = repo::now_unix_ns() + 30 * 24 * k_hour_ns;
    auto locked = std::make_shared<RetainingStore>(
        repo.local, std::vector<std::string>{"packs/", "index/"}, until);
    auto opened = repo::Repository::open(locked, &repo.host_key, nullptr);
    ASSERT_TRUE(opened.ok());
    uint64_t before = pack_bytes();
    auto r = prune(**opened, options());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(pack_bytes(), before) << "a retained pack was deleted";
    EXPECT_GE(r->packs_retained, 1u);
    EXPECT_EQ(r->retained_until, until);
    bool told = false;
    for (const auto& n : r->notes) told |= n.find(repo::format_rfc3339(until)) != std::string::npos;
    EXPECT_TRUE(told) << "the report names the date retention ends";
    expect_intact("after a prune held back by Object Lock");

    // Once retention has ended, the same repository prunes normally.
    auto r2 = prune(*repo.repository, options());
    ASSERT_TRUE(r2.ok()) << r2.status().to_string();
    EXPECT_LT(pack_bytes(), before);
    expect_intact("after retention ended");
}

TEST_F(PruneTest, RetainedPacksStayIndexedAndAreReported) {
    int64_t until = repo::now_unix_ns() + 24 * k_hour_ns;
    auto locked =
        std::make_shared<RetainingStore>(repo.local, std::vector<std::string>{"packs/"}, until);
    auto opened = repo::Repository::open(locked, &repo.host_key, nullptr);
    ASSERT_TRUE(opened.ok());
    uint64_t before = pack_bytes();
    auto r = prune(**opened, options());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_GE(pack_bytes(), before);
    EXPECT_GE(r->packs_retained, 1u);
    expect_intact("with retained packs");
}

TEST_F(PruneTest, RefusesADamagedRepositoryAndDeletesNothing) {
    // Remove a pack that a kept snapshot needs.
    auto fresh = repo.reopen();
    ASSERT_TRUE(fresh->load_index().ok());
    auto nodes = coffer::testing::snapshot_nodes(*fresh, kept.back());
    const auto& node = nodes.at(src + "/kept.bin");
    const repo::Location* loc = fresh->index().find(node.content.front());
    ASSERT_NE(loc, nullptr);
    ASSERT_TRUE(repo.local->remove(repo::pack_name(fresh->index().pack_id(loc->pack))).ok());
    auto before = repo.objects("");
    auto r = prune(*fresh, options());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::integrity) << r.status().to_string();
    EXPECT_EQ(repo.objects(""), before);
}

TEST_F(PruneTest, ALostLockStopsPruneBeforeItDeletes) {
    Options o = options();
    o.check_lock = [] { return Status(Code::lock_held, "lost"); };
    auto before = repo.objects("");
    auto r = prune(*repo.repository, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::lock_held);
    // Only the interrupted forget may have been finished; nothing else changed.
    size_t packs_before =
        static_cast<size_t>(std::count_if(before.begin(), before.end(), [](const std::string& n) {
            return n.starts_with("packs/");
        }));
    EXPECT_EQ(repo.objects("packs/").size(), packs_before);
    expect_intact("after a prune that lost its lock");
}

// A crash (a failed write or delete) at every mutating call of a prune: each time the
// repository verifies and every kept snapshot reads back; a prune run afterwards completes.
TEST_F(PruneTest, ACrashAtEveryStepLeavesARepositoryThatVerifies) {
    // Count the calls of a clean run on a copy.
    std::string pristine = repo.tmp.path() + "/pristine";
    fs::copy(repo.dir, pristine, fs::copy_options::recursive);
    uint64_t start = repo.fault->mutating_calls();
    {
        auto r = prune(*repo.repository, options());
        ASSERT_TRUE(r.ok()) << r.status().to_string();
    }
    const uint64_t calls = repo.fault->mutating_calls() - start;
    ASSERT_GE(calls, 4u);
    for (store::Op op : {store::Op::put, store::Op::remove}) {
        for (uint64_t n = 1;; ++n) {
            fs::remove_all(repo.dir);
            fs::copy(pristine, repo.dir, fs::copy_options::recursive);
            repo.fault->clear_rules();
            repo.fault->add_rule({.op = op, .nth = n});
            auto opened = repo::Repository::open(repo.store, &repo.host_key, nullptr);
            ASSERT_TRUE(opened.ok());
            auto r = prune(**opened, options());
            repo.fault->clear_rules();
            std::string when = std::string(op == store::Op::put ? "put" : "remove") + " #" +
                               std::to_string(n) + " failed";
            expect_intact(when);
            if (r.ok()) break;  // n is past the last call of this kind
            auto finish = prune(**opened, options());
            ASSERT_TRUE(finish.ok()) << when << ", then: " << finish.status().to_string();
            expect_intact(when + ", then prune again");
            ASSERT_LT(n, calls + 1) << "prune kept failing";
        }
    }
}

}  // namespace
}  // namespace coffer::prune
