// The key registry on a MemStore: entries and revocations signed with the recovery key's
// registry key; any edit, an unsigned entry, a revocation signed by another repository's key or
// an entry passed off as a revocation is not trusted; a revoked key still reads but writes
// nothing, and its revocation names exactly the snapshots it had signed.
#include "coffer/repo/registry.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "coffer/repo/meta.h"
#include "coffer/repo/repository.h"
#include "coffer/store/mem/mem_store.h"
#include "repo/repo_test_util.h"

namespace coffer::repo {
namespace {

using testing::contains;

class RegistryTest : public ::testing::Test {
protected:
    void SetUp() override {
        InitOptions o;
        o.host = "db1";
        o.chunk_avg_size = 1 << 16;
        o.pack_size = 1 << 20;
        auto c = Repository::init(mem, o);
        ASSERT_TRUE(c.ok()) << c.status().to_string();
        created = std::make_unique<Repository::Created>(std::move(c).value());
        config = created->repository->config();
    }

    HostKey add_host(const std::string& name) {
        auto k = HostKey::generate(config, name);
        EXPECT_TRUE(k.ok());
        Status st = register_host_key(*mem, config, *k, created->recovery_key);
        EXPECT_TRUE(st.ok()) << st.to_string();
        return std::move(k).value();
    }

    Registry registry() {
        auto r = load_registry(*mem, config);
        EXPECT_TRUE(r.ok()) << r.status().to_string();
        return r.ok() ? std::move(r).value() : Registry{};
    }

    // One snapshot manifest written with host (its tree is not read here).
    Result<Id> snapshot_with(const HostKey& host) {
        TRY_ASSIGN(auto repo, Repository::open(mem, &host, nullptr));
        Snapshot s;
        s.time_ns = now_unix_ns();
        s.hostname = host.host;
        s.paths = {"/data"};
        return repo->save_snapshot(s);
    }

    std::string text(const std::string& name) {
        auto b = mem->get(name);
        return b.ok() ? std::string(as_chars(*b)) : "";
    }
    void put(const std::string& name, const std::string& text) {
        ASSERT_TRUE(mem->put(name, as_bytes(text), store::PutMode::overwrite).ok());
    }
    void put_bytes(const std::string& name, ByteView bytes) {
        ASSERT_TRUE(mem->put(name, bytes, store::PutMode::overwrite).ok());
    }

    std::shared_ptr<store::MemStore> mem = std::make_shared<store::MemStore>();
    std::unique_ptr<Repository::Created> created;
    RepoConfig config;
};

TEST_F(RegistryTest, InitAndAddHostRegisterTrustedEntries) {
    HostKey web = add_host("web2");
    Registry r = registry();
    ASSERT_EQ(r.entries.size(), 2u);
    EXPECT_TRUE(r.problems.empty());
    for (const auto& [id, e] : r.entries) {
        EXPECT_TRUE(e.trusted()) << id << ": " << e.problem;
        EXPECT_EQ(e.status, "active");
    }
    EXPECT_EQ(r.entries.at(web.key_id_hex()).host, "web2");
    EXPECT_EQ(r.entries.at(web.key_id_hex()).signing_public_key, web.signing_public_key);
    // The new host key opens the repository and unseals from keys/ with the recovery key.
    EXPECT_TRUE(Repository::open(mem, &web, nullptr).ok());
    auto unsealed = Repository::open(mem, nullptr, &created->recovery_key, web.key_id_hex());
    ASSERT_TRUE(unsealed.ok()) << unsealed.status().to_string();
    EXPECT_EQ(unsealed.value()->keys().signing_public_key, web.signing_public_key);
}

TEST_F(RegistryTest, AnyEditOrAnUnsignedEntryIsNotTrusted) {
    HostKey web = add_host("web2");
    std::string name = "keys/" + web.key_id_hex() + ".pub";
    auto j = nlohmann::json::parse(text(name));

    auto edited = j;
    edited["host"] = "db1";
    put(name, edited.dump());
    EXPECT_FALSE(registry().entries.at(web.key_id_hex()).trusted());
    EXPECT_TRUE(contains(registry().entries.at(web.key_id_hex()).problem, "does not verify"));

    auto unsigned_entry = j;
    unsigned_entry.erase("registry_signature");
    put(name, unsigned_entry.dump());
    EXPECT_EQ(registry().entries.at(web.key_id_hex()).problem, "it is not signed");
    EXPECT_EQ(registry().entries.at(web.key_id_hex()).status, "untrusted");

    // A key registered without the recovery key is not one this repository will open.
    auto opened = Repository::open(mem, &web, nullptr);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.status().code(), Code::wrong_key);
    EXPECT_TRUE(contains(opened.status().message(), "is not registered"));

    // Signed by another repository's recovery key: not this registry's signature.
    put(name, j.dump());
    EXPECT_TRUE(registry().entries.at(web.key_id_hex()).trusted());
    RecoveryKey other = RecoveryKey::generate();
    HostKey rogue = *HostKey::generate(config, "rogue");
    ASSERT_TRUE(register_host_key(*mem, config, rogue, other).code() == Code::wrong_key)
        << "register_host_key must check the recovery key";
    RepoConfig forged = config;
    forged.recovery_public_key = other.public_key;
    forged.registry_public_key = other.registry_public_key(config.id);
    ASSERT_TRUE(register_host_key(*mem, forged, rogue, other).ok());
    EXPECT_FALSE(registry().entries.at(rogue.key_id_hex()).trusted());
}

TEST_F(RegistryTest, RevocationKeepsOldSnapshotsAndBlocksWrites) {
    HostKey web = add_host("web2");
    auto first = snapshot_with(web);
    ASSERT_TRUE(first.ok()) << first.status().to_string();
    auto own = snapshot_with(created->host_key);  // another key's snapshot is not web2's
    ASSERT_TRUE(own.ok());
    RegistryEntry entry = registry().entries.at(web.key_id_hex());
    auto revoked = revoke_host_key(*mem, config, entry, created->recovery_key, "stolen");
    ASSERT_TRUE(revoked.ok()) << revoked.status().to_string();
    EXPECT_EQ(revoked->snapshots_before_revocation, std::set<Id>{*first});

    RegistryEntry after = registry().entries.at(web.key_id_hex());
    EXPECT_TRUE(after.retired());
    EXPECT_EQ(after.reason, "stolen");
    EXPECT_EQ(after.snapshots_before_revocation, std::set<Id>{*first});
    auto again = revoke_host_key(*mem, config, entry, created->recovery_key, "");
    EXPECT_EQ(again.status().code(), Code::already_exists);

    // Still opens (its snapshots stay readable); every write refuses.
    auto repo = Repository::open(mem, &web, nullptr);
    ASSERT_TRUE(repo.ok()) << repo.status().to_string();
    auto listed = repo.value()->list_snapshots();
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->size(), 1u);
    EXPECT_EQ(repo.value()->writable().code(), Code::wrong_key);
    auto stored = repo.value()->store_chunk(ChunkType::data, Id{}, as_bytes("x"));
    EXPECT_EQ(stored.status().code(), Code::wrong_key);
    auto second = snapshot_with(web);
    EXPECT_EQ(second.status().code(), Code::wrong_key);
    EXPECT_TRUE(contains(second.status().message(), "was revoked"));
    // A thief signs a manifest with the key anyway, by hand: reads do not see it.
    auto ring = KeyRing::from_host_key(web, nullptr);
    ASSERT_TRUE(ring.ok());
    Snapshot planted;
    planted.time_ns = now_unix_ns();
    planted.hostname = "web2";
    planted.paths = {"/planted"};
    planted.key_id = web.key_id_hex();
    planted.sequence = 2;
    planted.previous = first->hex();
    auto sealed = seal_meta(**ring, MetaType::snapshot, as_bytes(planted.to_json()));
    ASSERT_TRUE(sealed.ok());
    ASSERT_TRUE(mem->put(snapshot_name(crypto::sha256(*sealed)), *sealed).ok());
    auto reread = Repository::open(mem, &web, nullptr);
    ASSERT_TRUE(reread.ok());
    auto seen = reread.value()->list_snapshots();
    ASSERT_TRUE(seen.ok()) << seen.status().to_string();
    ASSERT_EQ(seen->size(), 1u);
    EXPECT_EQ(seen->front().id, *first);
    // The other host writes on.
    EXPECT_TRUE(snapshot_with(created->host_key).ok());
}

// A revocation that does not verify (an entry passed off as one, another key's revocation
// renamed, an edited list) is reported and fails closed: the key stays revoked with nothing
// trusted, so editing a revocation can never give a thief the key back.
TEST_F(RegistryTest, AForgedOrEditedRevocationFailsClosed) {
    HostKey web = add_host("web2");
    HostKey app = add_host("app");
    std::string pub = "keys/" + web.key_id_hex() + ".pub";
    put("keys/" + web.key_id_hex() + ".revoked", text(pub));  // "kind" is signed
    Registry r = registry();
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_TRUE(contains(r.problems[0], "does not verify")) << r.problems[0];
    EXPECT_TRUE(r.entries.at(web.key_id_hex()).retired());
    EXPECT_TRUE(r.entries.at(web.key_id_hex()).revocation_damaged);
    ASSERT_TRUE(mem->remove("keys/" + web.key_id_hex() + ".revoked").ok());
    EXPECT_FALSE(registry().entries.at(web.key_id_hex()).retired());

    // A valid revocation of app with a snapshot it signed, then its list edited.
    auto first = snapshot_with(app);
    ASSERT_TRUE(first.ok());
    RegistryEntry entry = registry().entries.at(app.key_id_hex());
    ASSERT_TRUE(revoke_host_key(*mem, config, entry, created->recovery_key, "").ok());
    std::string revocation = text("keys/" + app.key_id_hex() + ".revoked");
    EXPECT_EQ(registry().entries.at(app.key_id_hex()).snapshots_before_revocation.size(), 1u);
    // Renamed to revoke web2 instead: it does not verify as web2's.
    put("keys/" + web.key_id_hex() + ".revoked", revocation);
    EXPECT_TRUE(registry().entries.at(web.key_id_hex()).revocation_damaged);
    auto j = nlohmann::json::parse(revocation);
    j["snapshots"].push_back(std::string(64, 'a'));
    put("keys/" + app.key_id_hex() + ".revoked", j.dump());
    r = registry();
    EXPECT_TRUE(r.entries.at(app.key_id_hex()).retired());
    EXPECT_TRUE(r.entries.at(app.key_id_hex()).snapshots_before_revocation.empty());
    EXPECT_EQ(r.problems.size(), 2u);
    // And a revoked key's reads honour only what the revocation lists: here nothing.
    auto repo = Repository::open(mem, &app, nullptr);
    ASSERT_TRUE(repo.ok()) << repo.status().to_string();
    EXPECT_TRUE(repo.value()->list_snapshots()->empty());
}

// Anyone can seal to the public recovery key: forged secrets under a registered key id (their
// own signing key, to sign planted snapshots) must not open, nor a key file edited to carry
// another signing key.
TEST_F(RegistryTest, ForgedSecretsOrAKeyFileWithAnotherSigningKeyDoNotOpen) {
    HostKey web = add_host("web2");
    HostKey forged = *HostKey::generate(config, "web2");
    forged.key_id = web.key_id;
    SecretBytes text = forged.serialize();
    Bytes context = to_bytes(info::host_secrets);
    append(context, config.id.view());
    auto sealed = crypto::seal_to(config.recovery_public_key, text.view(), context);
    ASSERT_TRUE(sealed.ok());
    put_bytes("keys/" + web.key_id_hex() + ".secrets", *sealed);
    auto opened = Repository::open(mem, nullptr, &created->recovery_key, web.key_id_hex());
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.status().code(), Code::integrity) << opened.status().to_string();
    EXPECT_TRUE(contains(opened.status().message(), ".secrets was forged"));
    EXPECT_FALSE(Repository::open(mem, &forged, nullptr).ok());
    EXPECT_FALSE(Repository::open(mem, &forged, &created->recovery_key).ok());
    // The genuine key file still opens.
    EXPECT_TRUE(Repository::open(mem, &web, nullptr).ok());
}

// Hostile registry files are reported, never thrown, and never stop the other keys loading.
TEST_F(RegistryTest, HostileRegistryFilesAreProblemsNotFailures) {
    HostKey web = add_host("web2");
    put("keys/" + std::string(32, 'a') + ".pub", "not json");
    put("keys/" + std::string(32, 'b') + ".pub", R"({"kind":1,"key_id":null})");
    put("keys/" + web.key_id_hex() + ".revoked", R"({"kind":1,"key_id":null})");
    put("keys/" + std::string(32, 'c') + ".revoked", "[]");
    auto r = load_registry(*mem, config);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->entries.size(), 2u);
    EXPECT_EQ(r->problems.size(), 4u);
    // Fail closed: a revocation that does not verify leaves the key revoked, trusting nothing.
    const RegistryEntry& e = r->entries.at(web.key_id_hex());
    EXPECT_TRUE(e.retired());
    EXPECT_TRUE(e.revocation_damaged);
    EXPECT_TRUE(e.snapshots_before_revocation.empty());
    EXPECT_TRUE(Repository::open(mem, &created->host_key, nullptr).ok());
    // An admin can revoke it afresh, replacing the damaged file.
    auto again = revoke_host_key(*mem, config, e, created->recovery_key, "again");
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_FALSE(registry().entries.at(web.key_id_hex()).revocation_damaged);
}

TEST(HostNames, OnlyPlainNamesAreValid) {
    for (const char* ok : {"web2", "db-1.example.org", "A_b"}) EXPECT_TRUE(valid_host_name(ok));
    for (const char* bad : {"", "../x", "a/b", ".hidden", "-rf", "a b", "naïve"})
        EXPECT_FALSE(valid_host_name(bad)) << bad;
    EXPECT_FALSE(valid_host_name(std::string(65, 'a')));
}

}  // namespace
}  // namespace coffer::repo
