// Forget and the snapshot chain: a gap that the host key's own tombstone explains is fine; one
// without, or with a tombstone of another key, is a deleted snapshot; an interrupted forget is
// a note that finish_forget() clears. The newest snapshot is never forgotten.
#include <gtest/gtest.h>

#include "backup/backup_test_util.h"
#include "coffer/backup/backup.h"
#include "coffer/verify/verify.h"

namespace coffer::verify {
namespace {

using coffer::testing::TestRepo;

bool any_contains(const std::vector<std::string>& lines, std::string_view needle) {
    for (const auto& l : lines)
        if (l.find(needle) != std::string::npos) return true;
    return false;
}

class ForgetTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string src = repo.tmp.path() + "/src";
        std::filesystem::create_directories(src);
        for (int i = 0; i < 4; ++i) {
            coffer::testing::write_file(src + "/f" + std::to_string(i),
                                        coffer::testing::random_content(10000, i));
            backup::Options o;
            o.paths = {src};
            auto r = backup::run(*repo.repository, o);
            ASSERT_TRUE(r.ok()) << r.status().to_string();
            snaps.push_back(r->snapshot);
        }
    }
    Report check() {
        auto r = verify(repo.local, &repo.host_key, nullptr, {});
        EXPECT_TRUE(r.ok()) << r.status().to_string();
        return r.ok() ? *r : Report{};
    }
    TestRepo repo;
    std::vector<repo::Snapshot> snaps;
};

TEST_F(ForgetTest, ATombstonedGapVerifies) {
    auto id = repo.repository->forget_snapshots({snaps[0], snaps[2]}, "keep-last 1");
    ASSERT_TRUE(id.ok()) << id.status().to_string();
    EXPECT_EQ(repo.objects("snapshots/").size(), 2u);
    EXPECT_EQ(repo.objects("tombstones/").size(), 1u);
    Report r = check();
    EXPECT_TRUE(r.ok()) << (r.problems.empty() ? "" : r.problems.front());
    EXPECT_EQ(r.tombstones, 1u);
    auto list = repo.repository->list_tombstones();
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].reason, "keep-last 1");
    ASSERT_EQ((*list)[0].snapshots.size(), 2u);
}

TEST_F(ForgetTest, AGapWithoutATombstoneIsADeletedSnapshot) {
    ASSERT_TRUE(repo.local->remove(repo::snapshot_name(snaps[1].id)).ok());
    Report r = check();
    EXPECT_TRUE(any_contains(r.problems, snaps[1].id.hex())) << r.problems.size();
}

// 1 <- 2 <- [3 forgotten] <- 4: deleting 2 leaves no manifest that names it; its sequence
// number, neither present nor in a tombstone, gives it away.
TEST_F(ForgetTest, ADeletionBehindAForgottenSnapshotIsStillFound) {
    ASSERT_TRUE(repo.repository->forget_snapshots({snaps[2]}, "x").ok());
    EXPECT_TRUE(check().ok());
    ASSERT_TRUE(repo.local->remove(repo::snapshot_name(snaps[1].id)).ok());
    Report r = check();
    EXPECT_TRUE(any_contains(r.problems, "snapshot number 2 of this host key is missing"))
        << (r.problems.empty() ? "no problem reported" : r.problems.front());
}

TEST_F(ForgetTest, ADeletedSnapshotIsReportedOnce) {
    ASSERT_TRUE(repo.local->remove(repo::snapshot_name(snaps[1].id)).ok());
    Report r = check();
    EXPECT_EQ(r.problems.size(), 1u) << (r.problems.empty() ? "" : r.problems.front());
}

TEST_F(ForgetTest, AnotherKeysTombstoneExplainsNothing) {
    // Another repository's host key writes a tombstone naming our snapshot, and someone who
    // can write to our repository plants it there and deletes the snapshot.
    TestRepo other;
    repo::Snapshot fake = snaps[1];
    fake.key_id = to_hex(other.repository->keys().key_id);
    auto t = other.repository->forget_snapshots({fake}, "forged");
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    std::string name = repo::tombstone_name(t->tombstone);
    auto bytes = other.local->get(name);
    ASSERT_TRUE(bytes.ok());
    ASSERT_TRUE(repo.local->put(name, *bytes).ok());
    ASSERT_TRUE(repo.local->remove(repo::snapshot_name(snaps[1].id)).ok());
    Report r = check();
    EXPECT_TRUE(any_contains(r.problems, "unknown key")) << "the planted tombstone is flagged";
    EXPECT_TRUE(any_contains(r.problems, snaps[1].id.hex())) << "and the gap is still a deletion";
}

TEST_F(ForgetTest, AnInterruptedForgetIsANoteThatFinishForgetClears) {
    // The tombstone is written; the manifest removal fails.
    TestRepo faulty(true);
    std::string src = faulty.tmp.path() + "/src";
    std::filesystem::create_directories(src);
    std::vector<repo::Snapshot> s;
    for (int i = 0; i < 2; ++i) {
        coffer::testing::write_file(src + "/f" + std::to_string(i),
                                    coffer::testing::random_content(5000, i));
        backup::Options o;
        o.paths = {src};
        auto r = backup::run(*faulty.repository, o);
        ASSERT_TRUE(r.ok());
        s.push_back(r->snapshot);
    }
    faulty.fault->add_rule({.op = store::Op::remove, .prefix = "snapshots/"});
    auto t = faulty.repository->forget_snapshots({s[0]}, "x");
    ASSERT_FALSE(t.ok());
    faulty.fault->clear_rules();
    auto r = verify(faulty.local, &faulty.host_key, nullptr, {});
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->ok());
    EXPECT_TRUE(any_contains(r->notes, "interrupted forget"));
    auto n = faulty.repository->finish_forget();
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 1u);
    r = verify(faulty.local, &faulty.host_key, nullptr, {});
    EXPECT_TRUE(r->ok());
    EXPECT_FALSE(any_contains(r->notes, "interrupted forget"));
}

TEST_F(ForgetTest, TheNewestSnapshotIsNeverForgotten) {
    auto t = repo.repository->forget_snapshots({snaps[3]}, "x");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), Code::invalid_argument);
    EXPECT_TRUE(repo.objects("tombstones/").empty()) << "refused before writing anything";
    EXPECT_EQ(repo.objects("snapshots/").size(), 4u);
}

TEST_F(ForgetTest, BackupsAfterAForgetContinueTheChain) {
    ASSERT_TRUE(repo.repository->forget_snapshots({snaps[0], snaps[1], snaps[2]}, "x").ok());
    backup::Options o;
    o.paths = {repo.tmp.path() + "/src"};
    auto r = backup::run(*repo.repository, o);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->snapshot.sequence, 5u);
    EXPECT_EQ(r->snapshot.previous, snaps[3].id.hex());
    EXPECT_TRUE(check().ok());
}

}  // namespace
}  // namespace coffer::verify
