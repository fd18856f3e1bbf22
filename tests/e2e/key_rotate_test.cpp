// End-to-end: recovery key rotation the way an operator runs it. rotate-recovery without
// --rewrap: the old key still reads the old snapshots, the new one alone not what shares old
// packs, and both together read everything. The deferred rewrap with the pair of keys then moves
// every pack: the new key alone restores every snapshot byte for byte, the old one is refused by
// name, verify and audit verify pass, the second host rebuilds from the new key alone with the
// audit key it made before following, and both steps are on the audit record without key
// material.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

class KeyRotate : public ::testing::Test {
protected:
    void SetUp() override {
        repo.init();
        make_dir(data);
        write_file(data + "/app.env", "TOKEN=abc\n");
        write_file(data + "/blob.bin", prng_bytes(900000, 21));
        make_dir(data2);
        write_file(data2 + "/web.conf", "listen 443\n");
        write_file(data2 + "/assets.bin", prng_bytes(500000, 22));
    }
    RunResult as_host(const std::string& host_key, std::vector<std::string> args) const {
        std::vector<std::string> full = {"--repo", repo.repo, "--host-key", host_key};
        full.insert(full.end(), args.begin(), args.end());
        return run_process(coffer_bin(), full, {repo.base_env()});
    }
    // restore with these recovery keys and a host key file (host 1's unless given): with two
    // hosts, a recovery key alone does not say whose snapshots to read.
    RunResult restore_with(const std::string& id, const std::string& target, const std::string& key,
                           const std::string& previous = "", const std::string& host = "") const {
        std::vector<std::string> args = {
            "--repo", repo.repo,    "--recovery-key-file",
            key,      "--host-key", host.empty() ? repo.host_key : host};
        if (!previous.empty()) args.insert(args.end(), {"--previous-recovery-key-file", previous});
        args.insert(args.end(), {"restore", id, "--target", target});
        return run_process(coffer_bin(), args, {repo.base_env()});
    }
    std::string restored_diff(const std::string& target, const std::string& src) const {
        return diff_manifests(scan_tree(src), scan_tree(restored(target, src)));
    }
    static std::string snapshot_of(const RunResult& r) {
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        return j.is_object() && j.contains("snapshot_id") ? j["snapshot_id"].get<std::string>()
                                                          : "";
    }

    TempDir dir;
    Repo repo{dir.path()};
    std::string data = dir / "data", data2 = dir / "data2";
    std::string web_key = dir / "web2.key", new_key = dir / "new.key";
};

TEST_F(KeyRotate, RotateThenRewrapLaterWithBothKeysAndEveryHostFollows) {
    std::string a = repo.backup({data})["snapshot_id"];
    ASSERT_EQ(repo.run({"key", "add-host", "web2", "--out", web_key}, Keys::both).exit_code, 0);
    RunResult b = as_host(web_key, {"--json", "backup", data2});
    ASSERT_EQ(b.exit_code, 0) << b.describe();
    std::string b_id = snapshot_of(b);
    const std::string web_key_before = read_file(web_key);

    RunResult rot = repo.run({"key", "rotate-recovery", "--out", new_key}, Keys::both);
    ASSERT_EQ(rot.exit_code, 0) << rot.describe();
    EXPECT_TRUE(contains(rot.out, "rotated")) << rot.describe();
    EXPECT_TRUE(contains(rot.out, "--rewrap")) << "no hint that old packs need the old key";
    struct stat st {};
    ASSERT_EQ(::stat(new_key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_NE(read_file(new_key), read_file(repo.recovery_key));
    // Writing the new key over an existing file is refused before anything changes.
    RunResult again = repo.run({"key", "rotate-recovery", "--out", new_key}, Keys::both);
    EXPECT_NE(again.exit_code, 0) << again.describe();
    EXPECT_TRUE(again.one_line_error()) << again.describe();

    // key list shows the rotation, not yet rewrapped.
    RunResult listed = repo.run({"--json", "key", "list"});
    ASSERT_EQ(listed.exit_code, 0) << listed.describe();
    auto rots = listed.json()["recovery_key_rotations"];
    ASSERT_EQ(rots.size(), 1u) << listed.out;
    EXPECT_EQ(rots[0]["rewrapped"], "") << listed.out;

    // A new backup on host 1 writes packs sealed to the new key.
    write_file(data + "/changed.bin", prng_bytes(400000, 23));
    std::string c = repo.backup({data})["snapshot_id"];

    // Before the rewrap: the old key alone still restores what was there before the rotation,
    RunResult old_a = restore_with(a, dir / "old-a", repo.recovery_key);
    ASSERT_EQ(old_a.exit_code, 0) << old_a.describe();
    // the new key alone cannot open the old packs that c shares, and says which key it needs,
    RunResult new_c = restore_with(c, dir / "new-c", new_key);
    EXPECT_EQ(new_c.exit_code, 6) << new_c.describe();
    EXPECT_TRUE(new_c.one_line_error()) << new_c.describe();
    EXPECT_TRUE(contains(new_c.err, "--previous-recovery-key-file")) << new_c.describe();
    // and the pair restores it byte for byte.
    RunResult both_c = restore_with(c, dir / "both-c", new_key, repo.recovery_key);
    ASSERT_EQ(both_c.exit_code, 0) << both_c.describe();
    EXPECT_EQ(restored_diff(dir / "both-c", data), "");

    // The rewrap, later, with the pair of keys (exit 0: complete).
    RunResult rewrap =
        run_process(coffer_bin(),
                    {"--repo", repo.repo, "--host-key", repo.host_key, "--recovery-key-file",
                     new_key, "--previous-recovery-key-file", repo.recovery_key, "--json", "key",
                     "rotate-recovery", "--rewrap"},
                    {repo.base_env()});
    ASSERT_EQ(rewrap.exit_code, 0) << rewrap.describe();
    auto rj = rewrap.json();
    ASSERT_TRUE(rj.is_object()) << rewrap.describe();
    EXPECT_EQ(rj["rewrap"]["complete"], true) << rj.dump();
    EXPECT_GT(rj["rewrap"]["packs_rewrapped"].get<int>(), 0) << rj.dump();

    // The second host has not heard of the rotation. Its first command after it makes a new
    // audit signing key, whose sealed copy must open with the new recovery key (the rewrap's
    // reseal is over); its next backup follows the signed statement and rewrites its key file.
    RunResult ak = as_host(web_key, {"audit", "rotate-key"});
    ASSERT_EQ(ak.exit_code, 0) << ak.describe();
    EXPECT_EQ(read_file(web_key), web_key_before);
    write_file(data2 + "/web.conf", "listen 8443\n");
    RunResult d = as_host(web_key, {"--json", "backup", data2});
    ASSERT_EQ(d.exit_code, 0) << d.describe();
    std::string d_id = snapshot_of(d);
    EXPECT_NE(read_file(web_key), web_key_before) << "web2's key file did not follow";

    // Every snapshot of both hosts restores with the new key alone.
    struct Case {
        std::string id, src, host;
    };
    for (const auto& [id, src, host] :
         std::vector<Case>{{c, data, repo.host_key}, {d_id, data2, web_key}}) {
        std::string target = dir / ("after-" + id.substr(0, 8));
        RunResult r = restore_with(id, target, new_key, "", host);
        ASSERT_EQ(r.exit_code, 0) << id << ": " << r.describe();
        EXPECT_EQ(restored_diff(target, src), "") << id;
    }
    for (const auto& [id, host] :
         std::vector<std::pair<std::string, std::string>>{{a, repo.host_key}, {b_id, web_key}}) {
        RunResult r = restore_with(id, dir / ("older-" + id.substr(0, 8)), new_key, "", host);
        EXPECT_EQ(r.exit_code, 0) << id << ": " << r.describe();
    }
    // The old key opens nothing now and is refused by name.
    RunResult old = restore_with(c, dir / "old-after", repo.recovery_key);
    EXPECT_EQ(old.exit_code, 6) << old.describe();
    EXPECT_TRUE(old.one_line_error()) << old.describe();
    EXPECT_TRUE(contains(old.err, "rotated out")) << old.describe();
    EXPECT_FALSE(exists(dir / "old-after" + data)) << "a refused restore wrote files";

    // Everything verifies with the new key, reading every byte; both audit logs verify.
    RunResult v = run_process(coffer_bin(),
                              {"--repo", repo.repo, "--host-key", repo.host_key,
                               "--recovery-key-file", new_key, "verify", "--read-data"},
                              {repo.base_env()});
    EXPECT_EQ(v.exit_code, 0) << v.describe();
    RunResult av = repo.run({"audit", "verify"});
    EXPECT_EQ(av.exit_code, 0) << av.describe();
    RunResult wv = as_host(web_key, {"audit", "verify"});
    EXPECT_EQ(wv.exit_code, 0) << wv.describe();

    // web2 rebuilt on a new machine from the new key alone: its host key and its newest audit
    // key (the one made after the rewrap) open.
    RunOptions fresh{repo.base_env()};
    fresh.env["COFFER_CACHE_DIR"] = dir / "new-machine-cache";
    RunResult rebuilt = run_process(
        coffer_bin(),
        {"--repo", repo.repo, "--recovery-key-file", new_key, "--host-key", dir / "rebuilt.key",
         "--config", dir / "rebuilt.toml", "recover", "--host", "web2"},
        fresh);
    EXPECT_EQ(rebuilt.exit_code, 0) << rebuilt.describe();
    EXPECT_TRUE(exists(dir / "rebuilt.key.audit")) << rebuilt.describe();

    listed = repo.run({"--json", "key", "list"});
    ASSERT_EQ(listed.exit_code, 0) << listed.describe();
    EXPECT_NE(listed.json()["recovery_key_rotations"][0]["rewrapped"], "") << listed.out;
    // A statement someone else wrote links nothing, and verify and key list report it.
    write_file(repo.repo + "/keys/rotation-" + std::string(64, 'a') + ".json", "{}");
    v = run_process(coffer_bin(), {"--repo", repo.repo, "--host-key", repo.host_key, "verify"},
                    {repo.base_env()});
    EXPECT_EQ(v.exit_code, 5) << v.describe();
    EXPECT_TRUE(contains(v.out + v.err, "rotation statement")) << v.describe();
    EXPECT_EQ(repo.run({"key", "list"}).exit_code, 5);
    ::unlink((repo.repo + "/keys/rotation-" + std::string(64, 'a') + ".json").c_str());

    // Both steps are on host 1's audit record, without key material.
    RunResult log = repo.run({"audit", "show", "--json", "--action", "key.rotate-recovery"});
    ASSERT_EQ(log.exit_code, 0) << log.describe();
    EXPECT_TRUE(contains(log.out, "\"finished\":true")) << log.out;
    EXPECT_TRUE(contains(log.out, "\"rewrap_complete\":true")) << log.out;
    EXPECT_FALSE(contains(log.out, "crk1-")) << log.out;
}

// A key held only as shares (init --shares) is rotated with its shares, and the deferred rewrap
// takes the old key as shares too: no whole old key ever has to be written to a file.
TEST(KeyRotateShares, TheOldKeyAsSharesRewrapsAndOneShareIsNotEnough) {
    TempDir dir;
    Repo repo{dir.path()};
    std::string data = dir / "data", shares = dir / "shares", new_key = dir / "new.key";
    make_dir(data);
    write_file(data + "/db.sql", prng_bytes(700000, 31));
    RunResult init = run_process(coffer_bin(),
                                 {"--repo", repo.repo, "--host-key", repo.host_key, "init",
                                  "--shares", "2-of-3", "--shares-out", shares},
                                 {repo.base_env()});
    ASSERT_EQ(init.exit_code, 0) << init.describe();
    std::string s1 = shares + "/share-1-of-3.txt", s3 = shares + "/share-3-of-3.txt";
    std::string id = repo.backup({data})["snapshot_id"];

    RunResult rot = repo.run({"--recovery-share", s1, "--recovery-share", s3, "key",
                              "rotate-recovery", "--out", new_key});
    ASSERT_EQ(rot.exit_code, 0) << rot.describe();

    auto rewrap = [&](std::vector<std::string> previous) {
        std::vector<std::string> args = {"--recovery-key-file", new_key};
        args.insert(args.end(), previous.begin(), previous.end());
        args.insert(args.end(), {"key", "rotate-recovery", "--rewrap"});
        return repo.run(args);
    };
    RunResult one = rewrap({"--previous-recovery-share", s1});
    EXPECT_NE(one.exit_code, 0) << one.describe();
    EXPECT_TRUE(one.one_line_error()) << one.describe();
    EXPECT_TRUE(contains(one.err, "--previous-recovery-share")) << one.describe();

    RunResult done = rewrap({"--previous-recovery-share", s1, "--previous-recovery-share", s3});
    ASSERT_EQ(done.exit_code, 0) << done.describe();
    RunResult restore =
        repo.run({"--recovery-key-file", new_key, "restore", id, "--target", dir / "restored"});
    ASSERT_EQ(restore.exit_code, 0) << restore.describe();
    EXPECT_EQ(diff_manifests(scan_tree(data), scan_tree(restored(dir / "restored", data))), "");
    RunResult old = repo.run(
        {"--recovery-share", s1, "--recovery-share", s3, "restore", id, "--target", dir / "old"});
    EXPECT_EQ(old.exit_code, 6) << old.describe();
    EXPECT_TRUE(contains(old.err, "rotated out")) << old.describe();
}

}  // namespace
}  // namespace coffer::e2e
