// The checker on a real repository (two backups in a LocalStore directory): clean results at
// every level, then a tamper matrix over every pack, index and snapshot object.
#include "coffer/verify/verify.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backup/backup_test_util.h"
#include "coffer/backup/backup.h"
#include "coffer/store/fault/fault_store.h"

namespace coffer::verify {
namespace {

using coffer::testing::TestRepo;
namespace fs = std::filesystem;

::testing::Environment* const g_env =
    ::testing::AddGlobalTestEnvironment(new coffer::testing::CryptoEnvironment);

struct Object {
    std::string kind;  // "pack", "index", "snapshot"
    std::string name;  // store name
    std::string hex;   // object id
};

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += "\n  " + l;
    return out;
}

bool any_contains(const std::vector<std::string>& lines, std::string_view needle) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

// One repository with two backups, built once for the whole suite (read-only afterwards:
// every tamper case works on a copy).
class VerifyTest : public ::testing::Test {
protected:
    static inline TestRepo* s_repo = nullptr;
    static inline std::vector<repo::Snapshot> s_snapshots;  // oldest first

    static void SetUpTestSuite() {
        s_repo = new TestRepo();
        std::string src = s_repo->tmp.path() + "/src";
        coffer::testing::make_source_tree(src);
        backup::Options o;
        o.paths = {src};
        o.threads = 2;
        auto first = backup::run(*s_repo->repository, o);
        ASSERT_TRUE(first.ok()) << first.status().to_string();
        coffer::testing::write_file(src + "/added.bin", coffer::testing::random_content(300000, 9));
        coffer::testing::write_file(src + "/a.txt", "changed between the backups\n");
        auto second = backup::run(*s_repo->repository, o);
        ASSERT_TRUE(second.ok()) << second.status().to_string();
        s_snapshots = {first->snapshot, second->snapshot};
    }
    static void TearDownTestSuite() {
        delete s_repo;
        s_repo = nullptr;
    }

    void SetUp() override {
        ASSERT_NE(s_repo, nullptr);
        ASSERT_EQ(s_snapshots.size(), 2u);
    }

    static std::vector<Object> objects() {
        std::vector<Object> out;
        for (auto [prefix, kind] : {std::pair{"packs/", "pack"}, std::pair{"index/", "index"},
                                    std::pair{"snapshots/", "snapshot"}}) {
            for (const auto& name : s_repo->objects(prefix))
                out.push_back({kind, name, name.substr(name.rfind('/') + 1)});
        }
        return out;
    }

    const repo::HostKey* host() const { return &s_repo->host_key; }
    const repo::RecoveryKey* recovery() const { return &s_repo->recovery_key; }
    static std::string newest() { return s_snapshots.back().id.hex(); }

    // A copy of the repository directory, with its own store.
    struct Copy {
        store::testing::TempDir tmp;
        std::string dir;
        std::shared_ptr<store::Store> store;
        explicit Copy(const std::string& from) {
            dir = tmp.path() + "/repo";
            fs::copy(from, dir, fs::copy_options::recursive);
            auto s = store::LocalStore::open(dir);
            EXPECT_TRUE(s.ok());
            store = std::shared_ptr<store::Store>(std::move(s).value());
        }
        std::string path(const Object& o) const { return dir + "/" + o.name; }
    };

    static Report check(const std::shared_ptr<store::Store>& store, const repo::HostKey* h,
                        const repo::RecoveryKey* rk, Options o = {}) {
        auto r = verify(store, h, rk, o);
        EXPECT_TRUE(r.ok()) << r.status().to_string();
        return r.ok() ? std::move(r).value() : Report{{"verify did not run"}};
    }
};

void flip_byte(const std::string& path, uint64_t offset) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << path;
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c ^= 0x01;
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
    ASSERT_TRUE(f.good()) << path;
}

TEST_F(VerifyTest, CleanRepositoryIsOkAtEveryLevel) {
    std::vector<Object> objs = objects();
    size_t packs =
        std::count_if(objs.begin(), objs.end(), [](auto& o) { return o.kind == "pack"; });
    ASSERT_GE(packs, 3u);

    Report none = check(s_repo->local, nullptr, nullptr);
    EXPECT_TRUE(none.ok()) << join(none.problems);
    EXPECT_EQ(none.level, 1);
    EXPECT_EQ(none.packs, packs);
    EXPECT_EQ(none.indexes, 2u);
    EXPECT_EQ(none.snapshots, 2u);
    EXPECT_FALSE(none.notes.empty());  // says that only level 1 ran

    Report with_host = check(s_repo->local, host(), nullptr, {.expected_latest = newest()});
    EXPECT_TRUE(with_host.ok()) << join(with_host.problems);
    EXPECT_EQ(with_host.level, 2);
    EXPECT_TRUE(with_host.notes.empty()) << join(with_host.notes);

    Report full = check(s_repo->local, host(), recovery(), {.read_data = true});
    EXPECT_TRUE(full.ok()) << join(full.problems);
    EXPECT_EQ(full.level, 3);
    auto repo = s_repo->reopen();
    ASSERT_TRUE(repo->load_index().ok());
    EXPECT_EQ(full.chunks_read, repo->index().size());
    EXPECT_GT(full.bytes_read, uint64_t(3 << 20));

    // The recovery key alone opens the host secrets and checks just as much.
    Report recovery_only = check(s_repo->local, nullptr, recovery(), {.read_data = true});
    EXPECT_TRUE(recovery_only.ok()) << join(recovery_only.problems);
    EXPECT_EQ(recovery_only.chunks_read, full.chunks_read);

    // Reading data needs the recovery key.
    auto no_recovery = verify(s_repo->local, host(), nullptr, {.read_data = true});
    EXPECT_EQ(no_recovery.status().code(), Code::wrong_key);
}

// With --read-data each pack is read once, whole, for both its hash and its chunks: a second
// get of any pack, or a ranged read of a data chunk, fails the run here. A damaged pack is reported
// by name and by the chunk the damage reached.
TEST_F(VerifyTest, ReadDataReadsEachPackOnceAndNamesTheDamagedChunk) {
    size_t packs = s_repo->objects("packs/").size();
    auto faults = std::make_shared<store::FaultStore>(s_repo->local);
    faults->add_rule({.op = store::Op::get, .prefix = "packs/", .nth = packs + 1, .forever = true});
    // Level 2 walks the snapshots' refs chunks with ranged reads; nothing else may use them.
    auto repo = s_repo->reopen();
    ASSERT_TRUE(repo->load_index().ok());
    uint64_t refs = 0;
    for (const auto& [id, loc] : repo->index().chunks()) refs += loc.type == repo::ChunkType::refs;
    faults->add_rule(
        {.op = store::Op::get_range, .prefix = "packs/", .nth = refs + 1, .forever = true});
    Report clean = check(faults, host(), recovery(), {.read_data = true});
    EXPECT_TRUE(clean.ok()) << join(clean.problems);
    EXPECT_EQ(clean.packs, packs);

    faults->clear_rules();
    faults->add_rule(
        {.op = store::Op::get, .prefix = "packs/", .flip_offset = repo::k_pack_header_size + 20});
    Report damaged = check(faults, host(), recovery(), {.read_data = true});
    EXPECT_TRUE(any_contains(damaged.problems, "does not match its name"))
        << join(damaged.problems);
    EXPECT_TRUE(any_contains(damaged.problems, "failed authentication")) << join(damaged.problems);
}

TEST_F(VerifyTest, TamperMatrix) {
    int mutations = 0;  // each one checked to be a problem naming the object
    for (const Object& o : objects()) {
        SCOPED_TRACE(o.name);
        {  // (a) one flipped byte
            Copy c(s_repo->dir);
            mutations++;
            flip_byte(c.path(o), fs::file_size(c.path(o)) / 2);
            Report r = check(c.store, host(), nullptr, {.expected_latest = newest()});
            EXPECT_FALSE(r.ok());
            EXPECT_TRUE(any_contains(r.problems, o.hex)) << join(r.problems);
        }
        {  // (b) the object deleted
            Copy c(s_repo->dir);
            mutations++;
            ASSERT_TRUE(fs::remove(c.path(o)));
            Report r = check(c.store, host(), nullptr, {.expected_latest = newest()});
            if (o.kind == "pack") {
                // The index still names it.
                EXPECT_FALSE(r.ok());
                EXPECT_TRUE(any_contains(r.problems, o.hex)) << join(r.problems);
            } else if (o.kind == "index") {
                // Nothing else records an index object's name. What shows is its consequence:
                // the packs it listed are now unindexed (a note), and the snapshots that use
                // their chunks reference chunks missing from the index (problems naming them).
                EXPECT_FALSE(r.ok());
                bool names_snapshot = false;
                for (const auto& s : s_snapshots)
                    names_snapshot |= any_contains(r.problems, s.id.hex());
                EXPECT_TRUE(names_snapshot || any_contains(r.problems, o.hex)) << join(r.problems);
                EXPECT_TRUE(any_contains(r.notes, "not in any index")) << join(r.notes);
            } else {
                // The newest snapshot is remembered by the host; an older one is named by its
                // successor's `previous` link. Either way the deletion is a problem naming it.
                EXPECT_FALSE(r.ok());
                EXPECT_TRUE(any_contains(r.problems, o.hex)) << join(r.problems);
                EXPECT_EQ(r.snapshots, 1u);  // and the checker still saw the rest
            }
        }
        if (o.kind == "pack") {  // (c) a truncated pack
            Copy c(s_repo->dir);
            mutations++;
            fs::resize_file(c.path(o), fs::file_size(c.path(o)) - 100);
            Report r = check(c.store, host(), nullptr);
            EXPECT_FALSE(r.ok());
            EXPECT_TRUE(any_contains(r.problems, o.hex)) << join(r.problems);
        }
        for (const repo::HostKey* key : {host(), static_cast<const repo::HostKey*>(nullptr)}) {
            SCOPED_TRACE(key ? "with the host key" : "without a key");
            {  // (d) bytes appended
                Copy c(s_repo->dir);
                mutations++;
                std::ofstream(c.path(o), std::ios::binary | std::ios::app) << "appended";
                Report r = check(c.store, key, nullptr);
                EXPECT_FALSE(r.ok());
                EXPECT_TRUE(any_contains(r.problems, o.hex)) << join(r.problems);
            }
            // (e) swapped with another object of its kind: each now holds the other's bytes.
            for (const Object& other : objects()) {
                if (other.kind != o.kind || other.name == o.name) continue;
                Copy c(s_repo->dir);
                mutations++;
                fs::rename(c.path(o), c.dir + "/swap");
                fs::rename(c.path(other), c.path(o));
                fs::rename(c.dir + "/swap", c.path(other));
                Report r = check(c.store, key, nullptr);
                EXPECT_FALSE(r.ok());
                EXPECT_TRUE(any_contains(r.problems, o.hex)) << join(r.problems);
                EXPECT_TRUE(any_contains(r.problems, other.hex)) << join(r.problems);
                break;
            }
        }
    }
    std::printf("tamper matrix: %d mutations of %zu objects\n", mutations, objects().size());
    EXPECT_GT(mutations, 0);
}

// Objects of another repository (another key), put in under their own names beside this one's:
// a pack, an index object. Each is reported by name, with and without the key.
TEST_F(VerifyTest, ObjectsFromAnotherRepositoryAreReported) {
    TestRepo other;
    std::string src = other.tmp.path() + "/src";
    fs::create_directories(src);
    coffer::testing::write_file(src + "/f", coffer::testing::random_content(20000, 4));
    auto b = backup::run(*other.repository, {.paths = {src}, .threads = 1});
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    for (const char* prefix : {"packs/", "index/"}) {
        for (const auto& name : other.objects(prefix)) {
            SCOPED_TRACE(name);
            Copy c(s_repo->dir);
            fs::create_directories(fs::path(c.dir + "/" + name).parent_path());
            fs::copy_file(other.dir + "/" + name, c.dir + "/" + name);
            std::string hex = name.substr(name.rfind('/') + 1);
            Report with_key = check(c.store, host(), nullptr, {.expected_latest = newest()});
            EXPECT_FALSE(with_key.ok());
            EXPECT_TRUE(any_contains(with_key.problems, hex) || any_contains(with_key.notes, hex))
                << join(with_key.problems) << join(with_key.notes);
        }
    }
}

TEST_F(VerifyTest, WithoutKeysFlippedBytesAreStillFound) {
    for (const Object& o : objects()) {
        SCOPED_TRACE(o.name);
        for (double where : {0.0, 0.5, 1.0}) {
            Copy c(s_repo->dir);
            uint64_t size = fs::file_size(c.path(o));
            flip_byte(c.path(o), std::min<uint64_t>(size - 1, uint64_t(where * size)));
            Report r = check(c.store, nullptr, nullptr);
            EXPECT_FALSE(r.ok());
            EXPECT_TRUE(any_contains(r.problems, o.hex)) << join(r.problems);
            EXPECT_TRUE(any_contains(r.problems, "does not match its name")) << join(r.problems);
        }
    }
}

TEST_F(VerifyTest, ReplayedSnapshotFromAnotherRepositoryIsReported) {
    // Another repository with a snapshot of its own.
    TestRepo other;
    std::string src = other.tmp.path() + "/src";
    fs::create_directories(src);
    coffer::testing::write_file(src + "/f", "other");
    auto b = backup::run(*other.repository, {.paths = {src}, .threads = 1});
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    std::string name = repo::snapshot_name(b->snapshot.id);
    std::string hex = b->snapshot.id.hex();

    {  // The manifest alone: signed by a key this repository does not know.
        Copy c(s_repo->dir);
        fs::copy_file(other.dir + "/" + name, c.dir + "/" + name);
        Report r = check(c.store, host(), nullptr, {.expected_latest = newest()});
        EXPECT_FALSE(r.ok());
        EXPECT_TRUE(any_contains(r.problems, hex)) << join(r.problems);
        EXPECT_TRUE(any_contains(r.problems, "unknown key")) << join(r.problems);
        Report no_key = check(c.store, nullptr, nullptr);
        EXPECT_TRUE(any_contains(no_key.problems, hex)) << join(no_key.problems);
    }
    {  // With the other host's registry entry copied too: the signature binds the repository.
        Copy c(s_repo->dir);
        fs::copy_file(other.dir + "/" + name, c.dir + "/" + name);
        std::string pub = "keys/" + other.host_key.key_id_hex() + ".pub";
        fs::copy_file(other.dir + "/" + pub, c.dir + "/" + pub);
        Report r = check(c.store, host(), nullptr, {.expected_latest = newest()});
        EXPECT_FALSE(r.ok());
        EXPECT_TRUE(any_contains(r.problems, hex)) << join(r.problems);
        EXPECT_TRUE(any_contains(r.problems, "signature")) << join(r.problems);
    }
}

TEST_F(VerifyTest, ReadFractionReadsAboutHalfThePacks) {
    auto repo = s_repo->reopen();
    ASSERT_TRUE(repo->load_index().ok());
    std::map<uint32_t, uint64_t> per_pack;  // chunks per pack
    for (const auto& [id, loc] : repo->index().chunks()) per_pack[loc.pack]++;
    const size_t n = per_pack.size();
    ASSERT_GE(n, 3u);
    ASSERT_LE(n, 16u);
    const size_t keep = static_cast<size_t>(std::ceil(0.5 * n));
    std::vector<uint64_t> counts;
    for (const auto& [pack, count] : per_pack) counts.push_back(count);
    // Every chunk count a choice of exactly `keep` whole packs can give.
    std::set<uint64_t> possible;
    for (uint32_t mask = 0; mask < (1u << n); ++mask) {
        if (static_cast<size_t>(__builtin_popcount(mask)) != keep) continue;
        uint64_t sum = 0;
        for (size_t i = 0; i < n; ++i)
            if (mask & (1u << i)) sum += counts[i];
        possible.insert(sum);
    }
    for (int run = 0; run < 4; ++run) {
        Report r =
            check(s_repo->local, host(), recovery(), {.read_data = true, .read_fraction = 0.5});
        EXPECT_TRUE(r.ok()) << join(r.problems);
        EXPECT_TRUE(possible.count(r.chunks_read)) << r.chunks_read << " chunks read";
        EXPECT_LT(r.chunks_read, repo->index().size());
    }
}

TEST_F(VerifyTest, ExpectedLatestThatIsMissingIsAProblem) {
    Copy c(s_repo->dir);
    ASSERT_TRUE(fs::remove(c.dir + "/" + repo::snapshot_name(s_snapshots.back().id)));
    Report r = check(c.store, host(), nullptr, {.expected_latest = newest()});
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(any_contains(r.problems, newest())) << join(r.problems);
    // Without the expectation, the remaining repository is consistent.
    Report plain = check(c.store, host(), nullptr);
    EXPECT_TRUE(plain.ok()) << join(plain.problems);
    // And an expectation that is met is no problem.
    Report met = check(s_repo->local, host(), nullptr, {.expected_latest = newest()});
    EXPECT_TRUE(met.ok()) << join(met.problems);
}

TEST_F(VerifyTest, NotARepositoryIsAStatus) {
    store::testing::TempDir tmp;
    auto empty = store::LocalStore::open(tmp.path());
    ASSERT_TRUE(empty.ok());
    auto r = verify(std::shared_ptr<store::Store>(std::move(empty).value()), nullptr, nullptr, {});
    EXPECT_EQ(r.status().code(), Code::not_found);
}

}  // namespace
}  // namespace coffer::verify
