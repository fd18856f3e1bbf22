// Mirroring a real repository (two backups) to an in-memory store: the mirror verifies on its
// own and restores the same data; a mirror interrupted at every possible put is still a valid
// repository and the next run completes it; a damaged source object is never copied; a mirror
// of another repository is refused; a rotated config is followed, a swapped one refused.
#include "coffer/mirror/mirror.h"

#include <gtest/gtest.h>

#include "backup/backup_test_util.h"
#include "coffer/backup/backup.h"
#include "coffer/repo/rotation.h"
#include "coffer/restore/restore.h"
#include "coffer/store/mem/mem_store.h"
#include "coffer/verify/verify.h"

namespace coffer::mirror {
namespace {

using coffer::testing::TestRepo;

::testing::Environment* const g_env =
    ::testing::AddGlobalTestEnvironment(new coffer::testing::CryptoEnvironment);

class MirrorTest : public ::testing::Test {
protected:
    static inline TestRepo* s_repo = nullptr;
    static inline std::string s_src;

    static void SetUpTestSuite() {
        s_repo = new TestRepo();
        s_src = s_repo->tmp.path() + "/src";
        coffer::testing::make_source_tree(s_src);
        backup::Options o;
        o.paths = {s_src};
        o.threads = 2;
        ASSERT_TRUE(backup::run(*s_repo->repository, o).ok());
        coffer::testing::write_file(s_src + "/added.bin",
                                    coffer::testing::random_content(300000, 5));
        ASSERT_TRUE(backup::run(*s_repo->repository, o).ok());
    }
    static void TearDownTestSuite() {
        delete s_repo;
        s_repo = nullptr;
    }

    // Verification of a mirror with the primary's keys, reading every chunk.
    static verify::Report verify_mirror(std::shared_ptr<store::Store> s) {
        verify::Options o;
        o.read_data = true;
        auto r = verify::verify(std::move(s), &s_repo->host_key, &s_repo->recovery_key, o);
        EXPECT_TRUE(r.ok()) << r.status().to_string();
        return r.ok() ? *r : verify::Report{{"verify did not run"}};
    }
    // Oldest first, read with the host key, as the CLI does.
    static Result<std::vector<std::string>> snapshot_order() {
        TRY_ASSIGN(auto list, s_repo->repository->list_snapshots());
        std::vector<std::string> names;
        for (const auto& s : list) names.push_back("snapshots/" + s.id.hex());
        return names;
    }
    static size_t snapshots_in(std::shared_ptr<store::Store> s) {
        auto r = repo::Repository::open(std::move(s), &s_repo->host_key, &s_repo->recovery_key);
        EXPECT_TRUE(r.ok()) << r.status().to_string();
        if (!r.ok()) return 0;
        auto list = (*r)->list_snapshots();
        return list.ok() ? list->size() : 0;
    }
};

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += "\n  " + l;
    return out;
}

TEST_F(MirrorTest, CopiesEverythingAndTheMirrorStandsAlone) {
    auto to = std::make_shared<store::MemStore>();
    auto done = mirror(*s_repo->local, *to);
    ASSERT_TRUE(done.ok()) << done.status().to_string();
    EXPECT_GT(done->objects_copied, 5u);
    EXPECT_EQ(done->objects_present, 0u);

    auto report = verify_mirror(to);
    EXPECT_TRUE(report.ok()) << join(report.problems);
    EXPECT_EQ(report.snapshots, 2u);

    // Restore from the mirror alone: the same bytes as the source tree.
    auto opened = repo::Repository::open(to, nullptr, &s_repo->recovery_key);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    auto snaps = (*opened)->list_snapshots();
    ASSERT_TRUE(snaps.ok());
    std::string target = s_repo->tmp.path() + "/restored-from-mirror";
    restore::Options ro;
    ro.target = target;
    auto restored = restore::restore(**opened, snaps->back(), ro);
    ASSERT_TRUE(restored.ok()) << restored.status().to_string();
    EXPECT_EQ(coffer::testing::read_file(target + s_src + "/added.bin"),
              coffer::testing::random_content(300000, 5));

    // A second run copies nothing and says the mirror is complete.
    auto again = mirror(*s_repo->local, *to);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->objects_copied, 0u);
    auto lag = compare(*s_repo->local, *to);
    ASSERT_TRUE(lag.ok());
    EXPECT_EQ(lag->missing_objects, 0u);
    EXPECT_TRUE(lag->same_repository);
}

// Whatever put the copy dies at, the mirror is a repository that verifies (with fewer
// snapshots), and the next run completes it.
TEST_F(MirrorTest, InterruptedAtEveryPutStaysConsistentAndResumes) {
    auto probe = std::make_shared<store::MemStore>();
    auto full = mirror(*s_repo->local, *probe);
    ASSERT_TRUE(full.ok());
    uint64_t puts = full->objects_copied;
    for (uint64_t n = 2; n <= puts; ++n) {
        SCOPED_TRACE("failing put #" + std::to_string(n));
        auto mem = std::make_shared<store::MemStore>();
        auto faulty = std::make_shared<store::FaultStore>(mem);
        faulty->add_rule({store::Op::put, "", n, true, Code::io});
        Options one_at_a_time;
        one_at_a_time.threads = 1;  // so "the nth put" is one well-defined point
        one_at_a_time.snapshot_order = snapshot_order;
        auto broken = mirror(*s_repo->local, *faulty, one_at_a_time);
        ASSERT_FALSE(broken.ok());
        EXPECT_TRUE(broken.status().message().find("run it again to resume") != std::string::npos)
            << broken.status().to_string();
        // Config and keys come first, so from the 2nd object on there is a repository.
        if (mem->list("keys/").ok() && !mem->list("keys/")->empty()) {
            auto partial = verify_mirror(mem);
            EXPECT_TRUE(partial.ok()) << join(partial.problems);
        }
        Options ordered;
        ordered.snapshot_order = snapshot_order;
        auto resumed = mirror(*s_repo->local, *mem, ordered);
        ASSERT_TRUE(resumed.ok()) << resumed.status().to_string();
        EXPECT_EQ(resumed->objects_copied + resumed->objects_present, puts);
        EXPECT_EQ(snapshots_in(mem), 2u);
    }
}

TEST_F(MirrorTest, ADamagedSourceObjectIsNotCopied) {
    auto faulty = std::make_shared<store::FaultStore>(s_repo->local);
    faulty->add_rule({store::Op::get, "packs/", 1, false, Code::io, /*flip_offset=*/200});
    auto to = std::make_shared<store::MemStore>();
    auto r = mirror(*faulty, *to);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::integrity) << r.status().to_string();
    EXPECT_TRUE(r.status().message().find("does not match its name") != std::string::npos);
    // No index or snapshot was copied after the failed pack group.
    EXPECT_TRUE(to->list("index/")->empty());
    EXPECT_TRUE(to->list("snapshots/")->empty());
}

TEST_F(MirrorTest, AnotherRepositoryIsRefused) {
    TestRepo other;
    auto r = mirror(*s_repo->local, *other.local);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::already_exists);
    auto lag = compare(*s_repo->local, *other.local);
    ASSERT_TRUE(lag.ok());
    EXPECT_FALSE(lag->same_repository);
}

// After a recovery key rotation the primary's config names new keys: the mirror takes it,
// because the signed statement leads there, and opens with a host key file of before. A config
// swapped at the primary (same id, keys of someone else) is not copied.
TEST_F(MirrorTest, ARotatedConfigIsFollowedAndASwappedOneIsRefused) {
    TestRepo primary;
    std::string src = primary.tmp.path() + "/src";
    coffer::testing::make_source_tree(src);
    backup::Options o;
    o.paths = {src};
    ASSERT_TRUE(backup::run(*primary.repository, o).ok());
    auto to = std::make_shared<store::MemStore>();
    ASSERT_TRUE(mirror(*primary.local, *to).ok());

    repo::RecoveryKey next = repo::RecoveryKey::generate();
    auto rotated = repo::rotate_recovery_key(*primary.local, primary.recovery_key, next);
    ASSERT_TRUE(rotated.ok()) << rotated.status().to_string();
    auto again = mirror(*primary.local, *to);
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_EQ(*to->get("config"), *primary.local->get("config"));
    EXPECT_TRUE(to->stat(*rotated).ok()) << *rotated;
    auto lag = compare(*primary.local, *to);
    ASSERT_TRUE(lag.ok());
    EXPECT_TRUE(lag->same_repository);
    EXPECT_EQ(lag->missing_objects, 0u);

    // The mirror alone restores, with the old host key file and the new key beside the old one
    // (the packs were not rewrapped).
    auto opened = repo::Repository::open(to, &primary.host_key, &next);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    ASSERT_TRUE((*opened)->add_previous_recovery_key(primary.recovery_key).ok());
    auto snaps = (*opened)->list_snapshots();
    ASSERT_TRUE(snaps.ok() && snaps->size() == 1u);
    restore::Options ro;
    ro.target = primary.tmp.path() + "/restored";
    auto restored = restore::restore(**opened, snaps->back(), ro);
    ASSERT_TRUE(restored.ok()) << restored.status().to_string();
    EXPECT_EQ(coffer::testing::read_file(ro.target + src + "/big.bin"),
              coffer::testing::random_content(3 << 20, 42));

    // Someone with write access at the primary swaps in a config of their own keys.
    auto config = repo::RepoConfig::parse(*primary.local->get("config"));
    ASSERT_TRUE(config.ok());
    repo::RecoveryKey thief = repo::RecoveryKey::generate();
    config->recovery_public_key = thief.public_key;
    config->registry_public_key = thief.registry_public_key(config->id);
    std::string forged = config->to_json();
    ASSERT_TRUE(primary.local->put("config", as_bytes(forged), store::PutMode::overwrite).ok());
    Bytes before = *to->get("config");
    auto refused = mirror(*primary.local, *to);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::integrity) << refused.status().to_string();
    EXPECT_NE(refused.status().message().find("no signed rotation statement"), std::string::npos)
        << refused.status().to_string();
    EXPECT_EQ(*to->get("config"), before);
    lag = compare(*primary.local, *to);
    ASSERT_TRUE(lag.ok());
    EXPECT_FALSE(lag->same_repository);
}

TEST_F(MirrorTest, CompareCountsWhatIsMissingByFolder) {
    auto to = std::make_shared<store::MemStore>();
    auto lag = compare(*s_repo->local, *to);
    ASSERT_TRUE(lag.ok());
    std::map<std::string, uint64_t> missing(lag->missing.begin(), lag->missing.end());
    EXPECT_EQ(missing["snapshots"], 2u);
    EXPECT_EQ(missing["config"], 1u);
    EXPECT_GT(missing["packs"], 0u);
    EXPECT_GT(lag->missing_bytes, 3u << 20);
}

}  // namespace
}  // namespace coffer::mirror
