// Recovery key rotation and rewrap on a MemStore (repo/rotation.h, repo/rewrap.h): after
// rotation with rewrap the old key opens no pack and is refused, the new one reads every chunk;
// a host key file follows the signed statement but not a forged one; a forged registry entry
// beside a genuine staged copy is neither trusted nor re-signed; rewrap leaves alone the packs of
// a host key it cannot move.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/registry.h"
#include "coffer/repo/repository.h"
#include "coffer/repo/rewrap.h"
#include "coffer/repo/rotation.h"
#include "coffer/store/mem/mem_store.h"
#include "repo/repo_test_util.h"
#include "store/retaining_store.h"

namespace coffer::repo {
namespace {

using testing::contains;

class RotationTest : public ::testing::Test {
protected:
    void SetUp() override {
        InitOptions o;
        o.host = "db1";
        o.chunk_avg_size = 1 << 16;
        o.pack_size = 1 << 20;  // the smallest: several packs
        auto c = Repository::init(mem, o);
        ASSERT_TRUE(c.ok()) << c.status().to_string();
        created = std::make_unique<Repository::Created>(std::move(c).value());
        config = created->repository->config();
    }

    // Stores n chunks with host's key; returns their ids.
    std::vector<Id> write_chunks(const HostKey& host, int n, uint64_t seed) {
        auto repo = Repository::open(mem, &host, nullptr);
        EXPECT_TRUE(repo.ok()) << repo.status().to_string();
        std::vector<Id> ids;
        for (int i = 0; i < n; ++i) {
            std::mt19937_64 rng(seed * 1000 + i);  // incompressible: one chunk fills a pack
            Bytes plain(400000);
            for (auto& b : plain) b = static_cast<uint8_t>(rng());
            Id id = (*repo)->keys().chunk_id(ChunkType::data, plain);
            EXPECT_TRUE((*repo)->store_chunk(ChunkType::data, id, plain).ok());
            ids.push_back(id);
        }
        EXPECT_TRUE((*repo)->flush().ok());
        return ids;
    }

    // How many of ids load with host and recovery (nullptr on a failed open).
    size_t readable(const HostKey& host, const RecoveryKey& recovery, const std::vector<Id>& ids) {
        auto repo = Repository::open(mem, &host, &recovery);
        if (!repo.ok()) return 0;
        if (!(*repo)->load_index().ok()) return 0;
        size_t n = 0;
        for (const auto& id : ids) n += (*repo)->load_chunk(id, ChunkType::data).ok();
        return n;
    }

    // Packs in the store whose data key opens with key.
    size_t packs_opening_with(const RecoveryKey& key) {
        size_t n = 0;
        auto listed = mem->list("packs/");
        for (const auto& o : *listed) {
            auto header = mem->get_range(o.name, 0, k_pack_header_size);
            auto parsed = parse_pack_header(*header, o.name);
            n += parsed.ok() &&
                 open_data_key_with(key.private_key.view(), config.id, *parsed, o.name).ok();
        }
        return n;
    }

    std::shared_ptr<store::MemStore> mem = std::make_shared<store::MemStore>();
    std::unique_ptr<Repository::Created> created;
    RepoConfig config;
};

TEST_F(RotationTest, AfterRewrapTheOldKeyOpensNothingAndTheNewOneReadsEverything) {
    const HostKey host = created->host_key;  // as its key file recorded it before the rotation
    const RecoveryKey& old_key = created->recovery_key;
    std::vector<Id> ids = write_chunks(host, 12, 1);
    ASSERT_GT(packs_opening_with(old_key), 1u);

    RecoveryKey new_key = RecoveryKey::generate();
    auto statement = rotate_recovery_key(*mem, old_key, new_key);
    ASSERT_TRUE(statement.ok()) << statement.status().to_string();
    // Between rotation and rewrap: each key alone reads what is sealed to it; old packs only
    // with the old one.
    EXPECT_EQ(readable(host, old_key, ids), ids.size());
    EXPECT_EQ(readable(host, new_key, ids), 0u);
    std::vector<Id> later = write_chunks(host, 3, 2);  // sealed to the new key
    EXPECT_EQ(readable(host, new_key, later), later.size());

    auto stats = rewrap_packs(mem, new_key, old_key);
    ASSERT_TRUE(stats.ok()) << stats.status().to_string();
    EXPECT_TRUE(stats->complete());
    EXPECT_GT(stats->packs_rewrapped, 1u);
    EXPECT_EQ(packs_opening_with(old_key), 0u);
    EXPECT_EQ(readable(host, new_key, ids), ids.size());
    EXPECT_EQ(readable(host, new_key, later), later.size());
    auto refused = Repository::open(mem, &host, &old_key);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::wrong_key);
    EXPECT_TRUE(contains(refused.status().message(), "rotated out"));
    // The host secrets are sealed to the new key only.
    EXPECT_FALSE(Repository::unseal_host_key(*mem, *Repository::read_config(*mem), old_key,
                                             host.key_id_hex())
                     .ok());
    EXPECT_TRUE(Repository::unseal_host_key(*mem, *Repository::read_config(*mem), new_key,
                                            host.key_id_hex())
                    .ok());
    // A second run finds nothing to do.
    auto again = rewrap_packs(mem, new_key, old_key);
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_EQ(again->packs_rewrapped, 0u);
    EXPECT_TRUE(again->complete());
}

TEST_F(RotationTest, AHostKeyFollowsTheSignedStatementButNotAConfigSwappedWithoutOne) {
    HostKey host = created->host_key;
    RecoveryKey new_key = RecoveryKey::generate();
    ASSERT_TRUE(rotate_recovery_key(*mem, created->recovery_key, new_key).ok());
    RepoConfig rotated = *Repository::read_config(*mem);
    HostKey follower = host;
    auto moved = follow_rotations(*mem, rotated, follower);
    ASSERT_TRUE(moved.ok()) << moved.status().to_string();
    EXPECT_TRUE(*moved);
    EXPECT_EQ(follower.recovery_public_key, new_key.public_key);

    // A thief without any recovery key swaps the config for one naming a key of theirs, with
    // a statement signed by a key of theirs.
    RecoveryKey thief = RecoveryKey::generate();
    RepoConfig forged = rotated;
    forged.recovery_public_key = thief.public_key;
    forged.registry_public_key = thief.registry_public_key(config.id);
    nlohmann::json j = {{"kind", "recovery-rotation"},
                        {"repository", config.id.hex()},
                        {"from_recovery_public_key", to_hex(new_key.public_key)},
                        {"from_registry_public_key", to_hex(rotated.registry_public_key)},
                        {"to_recovery_public_key", to_hex(thief.public_key)},
                        {"to_registry_public_key", to_hex(forged.registry_public_key)},
                        {"created", now_rfc3339()},
                        {"signature", std::string(128, 'a')}};
    ASSERT_TRUE(mem->put("keys/rotation-" + to_hex(forged.registry_public_key) + ".json",
                         as_bytes(j.dump()))
                    .ok());
    ASSERT_TRUE(mem->put(k_config_name, as_bytes(forged.to_json())).ok());
    HostKey victim = follower;
    auto refused = follow_rotations(*mem, forged, victim);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::integrity);
    EXPECT_FALSE(Repository::open(mem, &follower, nullptr).ok());
}

TEST_F(RotationTest, AForgedEntryBesideAGenuineStagedCopyIsNeitherTrustedNorResigned) {
    // A store writer keeps the genuine entry as a staged copy and replaces the entry with one
    // naming a signing key of theirs.
    std::string name = "keys/" + created->host_key.key_id_hex() + ".pub";
    Bytes genuine = *mem->get(name);
    ASSERT_TRUE(mem->put(name + ".next", genuine).ok());
    auto j = nlohmann::json::parse(as_chars(genuine));
    j["signing_public_key"] = to_hex(crypto::ed25519_generate().public_key);
    ASSERT_TRUE(mem->put(name, as_bytes(j.dump(2))).ok());
    auto before = load_registry(*mem, config);
    ASSERT_TRUE(before.ok());
    EXPECT_FALSE(before->entries.at(created->host_key.key_id_hex()).trusted());

    RecoveryKey new_key = RecoveryKey::generate();
    ASSERT_TRUE(rotate_recovery_key(*mem, created->recovery_key, new_key).ok());
    RepoConfig rotated = *Repository::read_config(*mem);
    auto after = load_registry(*mem, rotated);
    ASSERT_TRUE(after.ok());
    EXPECT_FALSE(after->entries.at(created->host_key.key_id_hex()).trusted());
    EXPECT_FALSE(mem->get(name + ".next").ok());  // removed, not promoted
}

TEST_F(RotationTest, RewrapLeavesThePacksOfAHostKeyItCannotMove) {
    HostKey web = *HostKey::generate(config, "web2");
    ASSERT_TRUE(register_host_key(*mem, config, web, created->recovery_key).ok());
    write_chunks(created->host_key, 4, 1);
    std::vector<Id> web_ids = write_chunks(web, 6, 3);
    size_t all_packs = mem->list("packs/")->size();
    // web2's entry stops verifying (damaged): rotation does not carry it, rewrap cannot unseal it.
    std::string name = "keys/" + web.key_id_hex() + ".pub";
    auto j = nlohmann::json::parse(as_chars(*mem->get(name)));
    j["created"] = "2020-01-01T00:00:00Z";
    ASSERT_TRUE(mem->put(name, as_bytes(j.dump(2))).ok());

    RecoveryKey new_key = RecoveryKey::generate();
    ASSERT_TRUE(rotate_recovery_key(*mem, created->recovery_key, new_key).ok());
    auto stats = rewrap_packs(mem, new_key, created->recovery_key);
    ASSERT_TRUE(stats.ok()) << stats.status().to_string();
    EXPECT_FALSE(stats->complete());
    ASSERT_FALSE(stats->problems.empty());
    EXPECT_TRUE(contains(stats->problems.front(), web.key_id_hex()));
    // Every one of web2's packs is still there, sealed to the old key.
    EXPECT_EQ(mem->list("packs/")->size(), all_packs);
    EXPECT_GE(packs_opening_with(created->recovery_key), 1u);
}

// An index object under Object Lock cannot be replaced yet: rewrap keeps it and the old packs
// it names (the old key still reads them, and nothing is marked done), and a run after the
// date finishes the job.
TEST_F(RotationTest, AnIndexUnderObjectLockIsKeptUntilItsDateAndTheNextRunFinishes) {
    const HostKey host = created->host_key;
    const RecoveryKey& old_key = created->recovery_key;
    std::vector<Id> ids = write_chunks(host, 6, 3);
    RecoveryKey new_key = RecoveryKey::generate();
    ASSERT_TRUE(rotate_recovery_key(*mem, old_key, new_key).ok());

    const int64_t until = now_unix_ns() + 3600LL * 1000000000;
    auto locked = std::make_shared<store::testing::RetainingStore>(
        mem, std::vector<std::string>{"index/"}, until);
    auto first = rewrap_packs(locked, new_key, old_key);
    ASSERT_TRUE(first.ok()) << first.status().to_string();
    EXPECT_FALSE(first->complete());
    EXPECT_GT(first->index_retained, 0u);
    EXPECT_GT(first->packs_retained, 0u);
    EXPECT_EQ(first->retained_until, until);
    EXPECT_TRUE(first->problems.empty()) << first->problems.front();
    EXPECT_GT(first->packs_rewrapped, 0u);
    // Either key reads everything meanwhile: the copies are indexed, the old packs still named.
    EXPECT_EQ(readable(host, new_key, ids), ids.size());
    EXPECT_EQ(readable(host, old_key, ids), ids.size());

    locked->release();
    auto second = rewrap_packs(locked, new_key, old_key);
    ASSERT_TRUE(second.ok()) << second.status().to_string();
    EXPECT_TRUE(second->complete());
    EXPECT_EQ(second->packs_rewrapped, 0u) << "the copies of the first run were made again";
    EXPECT_GT(second->index_removed, 0u);
    EXPECT_EQ(packs_opening_with(old_key), 0u);
    EXPECT_EQ(readable(host, new_key, ids), ids.size());
    EXPECT_FALSE(Repository::open(mem, &host, &old_key).ok());
}

}  // namespace
}  // namespace coffer::repo
