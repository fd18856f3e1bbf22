// End-to-end: "the host is gone". A host backs up a set on schedule (its config is saved in the
// repository with every run); then its host key, audit key, config, cache and daemon state are
// deleted. On a clean directory, `coffer recover` with two of the three recovery shares
// rebuilds the host key, the config and the audit key; `coffer serve` then takes the next
// scheduled backup, which deduplicates against the old snapshots and continues their chain,
// and the repository and the audit log (the lost host's entries, the recovery, the new jobs)
// verify.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

class Recover : public ::testing::Test {
protected:
    void SetUp() override {
        make_dir(etc);
        make_dir(data);
        write_file(data + "/app.env", "SECRET_KEY=abc\n", 0600);
        write_file(data + "/recordings.bin", prng_bytes(4 << 20, 31));
        RunResult init = run_process(coffer_bin(),
                                     {"--repo", repo.repo, "--host-key", host_key, "init",
                                      "--shares", "2-of-3", "--shares-out", shares},
                                     {repo.base_env()});
        ASSERT_EQ(init.exit_code, 0) << init.describe();
        write_file(cfg,
                   "[repository]\nurl = " + toml(repo.repo) + "\nhost_key = " + toml(host_key) +
                       "\n\n[server]\nstate_dir = " + toml(etc + "/state") +
                       "\nlisten = \"127.0.0.1:0\"\n\n[[set]]\nname = \"app\"\n"
                       "schedule = \"@every 2s\"\nretention = { keep_last = 10 }\n"
                       "[[set.source]]\nname = \"files\"\ntype = \"files\"\npaths = [" +
                       toml(data) + "]\n",
                   0600);
    }
    // A host's environment: its own HOME and cache.
    std::map<std::string, std::optional<std::string>> host_env(const std::string& home) const {
        return {{"HOME", home}, {"COFFER_CACHE_DIR", home + "/cache"}};
    }
    RunResult on_host(const std::string& home, std::vector<std::string> args,
                      RunOptions o = {}) const {
        auto env = host_env(home);
        for (const auto& [k, v] : o.env) env[k] = v;
        o.env = env;
        return run_process(coffer_bin(), args, o);
    }
    nlohmann::json snapshots(const std::string& home) const {
        RunResult r = on_host(home, {"--config", cfg, "snapshots", "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.describe();
        return r.json();
    }

    TempDir dir;
    Repo repo{dir.path()};
    std::string etc = dir / "etc";
    std::string cfg = etc + "/coffer.toml";
    std::string host_key = etc + "/host.key";
    std::string shares = dir / "shares";
    std::string data = dir / "data";
    std::string old_home = dir / "old-home";
    std::string new_home = dir / "new-home";
};

TEST_F(Recover, TheHostIsGoneAndIsRebuiltFromTheRepositoryAndTwoShares) {
    make_dir(old_home);
    for (int i = 0; i < 2; ++i) {
        RunResult b = on_host(old_home, {"--config", cfg, "backup", "--set", "app"});
        ASSERT_EQ(b.exit_code, 0) << b.describe();
    }
    const std::string config_text = read_file(cfg);
    auto before = snapshots(old_home);
    ASSERT_EQ(before.size(), 2u);

    // The host is gone: keys, config, cache (file cache, audit log copy, latest) and state.
    for (const auto& p : {host_key, host_key + ".audit", cfg, etc + "/state", old_home})
        force_remove_all(p);
    ASSERT_TRUE(exists(repo.repo + "/configs"));

    // One share is not enough, and nothing is written.
    make_dir(new_home);
    RunResult one = on_host(new_home, {"--repo", repo.repo, "--recovery-share",
                                       shares + "/share-2-of-3.txt", "--config", cfg, "recover"});
    EXPECT_EQ(one.exit_code, 2) << one.describe();
    EXPECT_FALSE(exists(cfg));
    EXPECT_FALSE(exists(host_key));

    RunResult rec =
        on_host(new_home, {"--repo", repo.repo, "--recovery-share", shares + "/share-1-of-3.txt",
                           "--recovery-share", shares + "/share-3-of-3.txt", "--config", cfg,
                           "--json", "recover"});
    ASSERT_EQ(rec.exit_code, 0) << rec.describe();
    auto j = rec.json();
    EXPECT_EQ(j["host_key"], host_key);
    EXPECT_EQ(j["latest_snapshot"], before.back()["id"]);
    EXPECT_EQ(read_file(cfg), config_text);
    for (const auto& p : {host_key, host_key + ".audit", cfg}) {
        struct stat st {};
        ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
        EXPECT_EQ(st.st_mode & 0777, 0600u) << p;
    }
    // Running it again refuses to overwrite what it wrote.
    RunResult again = on_host(
        new_home, {"--repo", repo.repo, "--recovery-share", shares + "/share-1-of-3.txt",
                   "--recovery-share", shares + "/share-3-of-3.txt", "--config", cfg, "recover"});
    EXPECT_EQ(again.exit_code, 7) << again.describe();
    EXPECT_TRUE(again.one_line_error()) << again.describe();

    // The daemon goes on with the schedule where the lost host stopped.
    RunOptions o;
    o.term_after_ms = 10000;  // room for a scheduled backup under ASan on a busy machine
    RunResult serve = on_host(new_home, {"--config", cfg, "serve"}, o);
    ASSERT_EQ(serve.exit_code, 0) << serve.describe();
    EXPECT_TRUE(contains(serve.out, "\"job\":\"backup\"")) << serve.describe();
    auto after = snapshots(new_home);
    ASSERT_GT(after.size(), before.size()) << serve.describe();
    const auto& next = after[before.size()];
    EXPECT_EQ(next["sequence"], before.back()["sequence"].get<int>() + 1);
    // Deduplicated against the old snapshots: 4 MiB of unchanged data is not stored again.
    EXPECT_LT(next["added"].get<uint64_t>(), uint64_t(200000)) << next.dump();

    RunResult v = on_host(
        new_home, {"--config", cfg, "--recovery-share", shares + "/share-2-of-3.txt",
                   "--recovery-share", shares + "/share-3-of-3.txt", "verify", "--read-data"});
    EXPECT_EQ(v.exit_code, 0) << v.describe();
    RunResult av = on_host(new_home, {"--config", cfg, "audit", "verify"});
    EXPECT_EQ(av.exit_code, 0) << av.describe();
    // One log: the lost host's backups, the recovery and the daemon's jobs.
    RunResult log = on_host(new_home, {"--config", cfg, "audit", "show", "--json"});
    ASSERT_EQ(log.exit_code, 0) << log.describe();
    size_t backups = 0, recovers = 0;
    std::istringstream lines(log.out);
    for (std::string line; std::getline(lines, line);) {
        auto e = nlohmann::json::parse(line, nullptr, false);
        if (!e.is_object()) continue;
        backups += e["action"] == "backup" && e["outcome"] == "ok";
        recovers += e["action"] == "recover" && e["outcome"] == "ok";
    }
    EXPECT_GE(backups, 3u) << log.out;
    EXPECT_EQ(recovers, 1u) << log.out;
    EXPECT_FALSE(contains(log.out, "crs1-")) << "a share reached the audit log";
}

TEST_F(Recover, ChoosesTheHostAndRefusesWhatItCannotRebuild) {
    make_dir(old_home);
    make_dir(new_home);
    RunResult b = on_host(old_home, {"--config", cfg, "backup", "--set", "app"});
    ASSERT_EQ(b.exit_code, 0) << b.describe();
    const std::vector<std::string> keys = {"--recovery-share", shares + "/share-1-of-3.txt",
                                           "--recovery-share", shares + "/share-2-of-3.txt"};
    auto run = [&](std::vector<std::string> args) {
        std::vector<std::string> all = {"--repo", repo.repo};
        all.insert(all.end(), keys.begin(), keys.end());
        all.insert(all.end(), args.begin(), args.end());
        return on_host(new_home, all);
    };
    RunResult no_key =
        on_host(new_home, {"--repo", repo.repo, "--config", dir / "x.toml", "recover"});
    EXPECT_EQ(no_key.exit_code, 6) << no_key.describe();
    EXPECT_TRUE(no_key.one_line_error()) << no_key.describe();

    std::vector<std::string> add = {"--config", cfg};
    add.insert(add.end(), keys.begin(), keys.end());
    add.insert(add.end(), {"key", "add-host", "web2", "--out", dir / "web2.key"});
    ASSERT_EQ(on_host(old_home, add).exit_code, 0);
    RunResult which = run({"--config", dir / "x.toml", "--host-key", dir / "k", "recover"});
    EXPECT_EQ(which.exit_code, 2) << which.describe();
    EXPECT_TRUE(contains(which.err, "pass --host NAME")) << which.describe();
    EXPECT_FALSE(exists(dir / "k"));

    // web2 never saved a config: its key alone comes back, the same key it was issued.
    RunResult web2 = run({"--config", dir / "web2.toml", "--host-key", dir / "web2-again.key",
                          "recover", "--host", "web2"});
    ASSERT_EQ(web2.exit_code, 0) << web2.describe();
    EXPECT_TRUE(contains(web2.out, "none saved")) << web2.describe();
    EXPECT_EQ(read_file(dir / "web2-again.key"), read_file(dir / "web2.key"));
    EXPECT_FALSE(exists(dir / "web2.toml"));

    // The first host still has its key and config here: recover overwrites neither.
    auto list = nlohmann::json::parse(run({"--json", "key", "list"}).out);
    std::string first;
    for (const auto& k : list["keys"])
        if (k["host"] != "web2") first = k["host"];
    const std::string key_before = read_file(host_key);
    RunResult clash = run({"--config", cfg, "recover", "--host", first});
    EXPECT_EQ(clash.exit_code, 7) << clash.describe();
    EXPECT_TRUE(clash.one_line_error()) << clash.describe();
    EXPECT_EQ(read_file(host_key), key_before);

    // A revoked host is not rebuilt: it gets a new key instead.
    std::vector<std::string> revoke = {"--config", cfg};
    revoke.insert(revoke.end(), keys.begin(), keys.end());
    revoke.insert(revoke.end(), {"key", "revoke-host", "web2"});
    ASSERT_EQ(on_host(old_home, revoke).exit_code, 0);
    RunResult revoked =
        run({"--config", dir / "w.toml", "--host-key", dir / "w.key", "recover", "--host", "web2"});
    EXPECT_EQ(revoked.exit_code, 4) << revoked.describe();
    EXPECT_FALSE(exists(dir / "w.key"));
}

}  // namespace
}  // namespace coffer::e2e
