// End-to-end: host keys. key add-host issues a second host's key (recovery key or K shares
// needed), that host backs up and verify accepts it; key revoke-host retires it: its old
// snapshots still verify and restore, coffer refuses to back up with it, and a snapshot it
// signs anyway (by working around the refusal) fails verify. A registry entry written without
// the recovery key, or a forged revocation, is reported. Each key operation is audited.
#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

class KeyHosts : public ::testing::Test {
protected:
    void SetUp() override {
        repo.init();
        make_dir(data);
        write_file(data + "/app.env", "TOKEN=abc\n");
        write_file(data + "/blob.bin", prng_bytes(200000, 11));
    }
    // coffer with --repo and only the keys given here (a second host's view).
    RunResult as_host(const std::string& host_key, std::vector<std::string> args,
                      bool recovery = false) const {
        std::vector<std::string> full = {"--repo", repo.repo, "--host-key", host_key};
        if (recovery) full.insert(full.end(), {"--recovery-key-file", repo.recovery_key});
        full.insert(full.end(), args.begin(), args.end());
        return run_process(coffer_bin(), full, {repo.base_env()});
    }
    nlohmann::json list_keys() const {
        RunResult r = repo.run({"--json", "key", "list"});
        EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 5) << r.describe();
        return nlohmann::json::parse(r.out, nullptr, false);
    }
    static nlohmann::json entry_for(const nlohmann::json& list, const std::string& host) {
        for (const auto& k : list["keys"])
            if (k["host"] == host) return k;
        return nullptr;
    }

    TempDir dir;
    Repo repo{dir.path()};
    std::string data = dir / "data";
    std::string web_key = dir / "web2.key";
};

TEST_F(KeyHosts, AnAddedHostBacksUpAndARevokedOneCannotAddASnapshotThatVerifies) {
    RunResult add = repo.run({"key", "add-host", "web2", "--out", web_key}, Keys::both);
    ASSERT_EQ(add.exit_code, 0) << add.describe();
    struct stat st {};
    ASSERT_EQ(::stat(web_key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto listed = list_keys();
    ASSERT_EQ(listed["keys"].size(), 2u) << listed.dump();
    EXPECT_EQ(entry_for(listed, "web2")["status"], "active");
    EXPECT_EQ(entry_for(listed, "web2")["this_host"], false);

    // web2 backs up with its own key; the first host's verify checks its signatures too.
    RunResult b1 = as_host(web_key, {"--json", "backup", data});
    ASSERT_EQ(b1.exit_code, 0) << b1.describe();
    std::string old_id = nlohmann::json::parse(b1.out)["snapshot_id"];
    RunResult v = repo.run({"verify"});
    EXPECT_EQ(v.exit_code, 0) << v.describe();

    RunResult rev =
        repo.run({"key", "revoke-host", "web2", "--reason", "laptop stolen"}, Keys::both);
    ASSERT_EQ(rev.exit_code, 0) << rev.describe();
    auto after = entry_for(list_keys(), "web2");
    EXPECT_EQ(after["status"], "retired") << after.dump();
    EXPECT_EQ(after["reason"], "laptop stolen");
    EXPECT_EQ(after["snapshots_before_revocation"], 1);

    // Old snapshots still verify and restore.
    v = repo.run({"verify", "--read-data"}, Keys::both);
    EXPECT_EQ(v.exit_code, 0) << v.describe();
    RunResult restore =
        as_host(web_key, {"restore", old_id, "--target", dir / "restored"}, /*recovery=*/true);
    ASSERT_EQ(restore.exit_code, 0) << restore.describe();
    EXPECT_EQ(diff_manifests(scan_tree(data), scan_tree(restored(dir / "restored", data))), "");

    // coffer refuses to write with it, before reading anything.
    RunResult refused = as_host(web_key, {"backup", data});
    EXPECT_EQ(refused.exit_code, 6) << refused.describe();
    EXPECT_TRUE(refused.one_line_error()) << refused.describe();
    EXPECT_TRUE(contains(refused.err, "was revoked on")) << refused.describe();

    // A thief with the key and write access hides the revocation, writes, and puts it back:
    // the snapshot is signed by a revoked key and was not among its snapshots at revocation.
    std::string revocation;
    for (const auto& f : list_files(repo.repo + "/keys"))
        if (f.size() > 8 && f.substr(f.size() - 8) == ".revoked")
            revocation = repo.repo + "/keys/" + f;
    ASSERT_FALSE(revocation.empty());
    std::filesystem::rename(revocation, dir / "hidden");
    write_file(data + "/app.env", "TOKEN=planted\n");
    RunResult planted = as_host(web_key, {"--json", "backup", data});
    ASSERT_EQ(planted.exit_code, 0) << planted.describe();
    std::string planted_id = nlohmann::json::parse(planted.out)["snapshot_id"];
    std::filesystem::rename(dir / "hidden", revocation);
    v = repo.run({"verify"});
    EXPECT_EQ(v.exit_code, 5) << v.describe();
    EXPECT_TRUE(contains(v.err + v.out, "snapshot " + planted_id + " is signed by host key"))
        << v.describe();
    EXPECT_TRUE(contains(v.err + v.out, "written after the revocation")) << v.describe();
    EXPECT_FALSE(contains(v.err + v.out, "snapshot " + old_id)) << v.describe();

    // Both operations are on the first host's audit record, without key material.
    for (const char* action : {"key.add-host", "key.revoke-host"}) {
        RunResult log = repo.run({"audit", "show", "--json", "--action", action});
        EXPECT_EQ(log.exit_code, 0) << log.describe();
        EXPECT_TRUE(contains(log.out, "web2")) << action << ": " << log.describe();
        EXPECT_TRUE(contains(log.out, "\"outcome\":\"ok\"")) << log.out;
        EXPECT_FALSE(contains(log.out, "crk1-")) << log.out;
    }
}

TEST_F(KeyHosts, AddHostNeedsTheRecoveryKeyAndRefusesWhatItCannotDoCleanly) {
    auto before = data_file_sizes(repo.repo);
    RunResult no_key = repo.run({"key", "add-host", "web2", "--out", web_key});
    EXPECT_EQ(no_key.exit_code, 6) << no_key.describe();
    EXPECT_TRUE(no_key.one_line_error()) << no_key.describe();
    EXPECT_TRUE(contains(no_key.err, "needs the recovery key")) << no_key.describe();
    RunResult bad_name = repo.run({"key", "add-host", "../etc/x"}, Keys::both);
    EXPECT_EQ(bad_name.exit_code, 2) << bad_name.describe();
    EXPECT_TRUE(contains(bad_name.err, "is not valid")) << bad_name.describe();
    write_file(web_key, "keep me", 0600);
    RunResult exists_already = repo.run({"key", "add-host", "web2", "--out", web_key}, Keys::both);
    EXPECT_EQ(exists_already.exit_code, 7) << exists_already.describe();
    EXPECT_EQ(read_file(web_key), "keep me");
    EXPECT_EQ(data_file_sizes(repo.repo), before) << "a refused add-host wrote to the repository";

    // Two shares stand in for the key; a second active key for one host name is refused.
    RunResult split =
        repo.run({"key", "split", "--shares", "2-of-3", "--out", dir / "shares"}, Keys::recovery);
    ASSERT_EQ(split.exit_code, 0) << split.describe();
    std::string other_key = dir / "web2-second.key";
    RunResult with_shares =
        repo.run({"--recovery-share", dir / "shares/share-1-of-3.txt", "--recovery-share",
                  dir / "shares/share-3-of-3.txt", "key", "add-host", "web2", "--out", other_key});
    ASSERT_EQ(with_shares.exit_code, 0) << with_shares.describe();
    RunResult twice = repo.run({"key", "add-host", "web2", "--out", dir / "third.key"}, Keys::both);
    EXPECT_EQ(twice.exit_code, 7) << twice.describe();
    EXPECT_TRUE(contains(twice.err, "already has active key")) << twice.describe();
    EXPECT_FALSE(exists(dir / "third.key"));
    EXPECT_EQ(as_host(other_key, {"backup", data}).exit_code, 0);
    // Revoking needs the key too; an unknown name is named.
    EXPECT_EQ(repo.run({"key", "revoke-host", "web2"}).exit_code, 6);
    RunResult unknown = repo.run({"key", "revoke-host", "nosuchhost"}, Keys::both);
    EXPECT_EQ(unknown.exit_code, 4) << unknown.describe();
    EXPECT_TRUE(contains(unknown.err, "no active host key for 'nosuchhost'"));
}

TEST_F(KeyHosts, ARogueRegistryEntryOrAForgedRevocationIsReported) {
    RunResult add = repo.run({"key", "add-host", "web2", "--out", web_key}, Keys::both);
    ASSERT_EQ(add.exit_code, 0) << add.describe();
    std::string web_id = entry_for(list_keys(), "web2")["key_id"];
    std::string pub = repo.repo + "/keys/" + web_id + ".pub";
    // Someone with write access but no recovery key registers a key of their own: the entry
    // copied from web2's and given another key id and signing key.
    auto j = nlohmann::json::parse(read_file(pub));
    std::string rogue_id = std::string(32, 'e');
    j["key_id"] = rogue_id;
    j["host"] = "rogue";
    j["signing_public_key"] = std::string(64, '1');
    write_file(repo.repo + "/keys/" + rogue_id + ".pub", j.dump());
    // And forges a revocation of the first host, to stop its backups from verifying.
    auto forged = nlohmann::json{{"kind", "revocation"},
                                 {"key_id", web_id},
                                 {"host", "web2"},
                                 {"revoked", "2026-01-01T00:00:00Z"},
                                 {"snapshots", nlohmann::json::array()},
                                 {"tombstones", nlohmann::json::array()},
                                 {"registry_signature", std::string(128, '0')}};
    write_file(repo.repo + "/keys/" + web_id + ".revoked", forged.dump());

    RunResult list = repo.run({"key", "list"});
    EXPECT_EQ(list.exit_code, 5) << list.describe();
    EXPECT_TRUE(contains(list.err, rogue_id + ".pub is not trusted")) << list.describe();
    EXPECT_TRUE(contains(list.err, web_id + ".revoked does not verify")) << list.describe();
    EXPECT_EQ(entry_for(list_keys(), "rogue")["status"], "untrusted");
    // A revocation that does not verify fails closed: web2's key is treated as revoked (so a
    // thief cannot lift a real one by editing it) until an admin revokes it properly.
    EXPECT_EQ(entry_for(list_keys(), "web2")["status"], "retired");
    RunResult refused = as_host(web_key, {"backup", data});
    EXPECT_EQ(refused.exit_code, 6) << refused.describe();
    // The first host is untouched by either.
    EXPECT_EQ(repo.run({"backup", data}).exit_code, 0);
    RunResult v = repo.run({"verify"});
    EXPECT_EQ(v.exit_code, 5) << v.describe();
    EXPECT_TRUE(contains(v.err + v.out, "keys/" + rogue_id + ".pub (host rogue) is not trusted"))
        << v.describe();
    EXPECT_TRUE(contains(v.err + v.out, ".revoked does not verify (its signature")) << v.describe();
    // Revoked afresh by the admin: the damaged file is replaced and verifies.
    RunResult again = repo.run({"key", "revoke-host", web_id}, Keys::both);
    EXPECT_EQ(again.exit_code, 0) << again.describe();
    EXPECT_FALSE(contains(repo.run({"key", "list"}).err, ".revoked does not verify"));
}

}  // namespace
}  // namespace coffer::e2e
