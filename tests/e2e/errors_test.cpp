// End-to-end: bad input and unreadable sources. Every failure is one line on stderr naming the
// problem, with the documented exit code, and leaves nothing behind.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <future>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

// Expects exit code `code` and a single stderr line containing `what`.
#define EXPECT_FAILS_WITH(result, code, what)                                                      \
    do {                                                                                           \
        const RunResult& r_ = (result);                                                            \
        EXPECT_EQ(r_.exit_code, (code)) << r_.describe();                                          \
        EXPECT_TRUE(r_.one_line_error()) << "not a single error line: " << r_.describe();          \
        EXPECT_TRUE(contains(r_.err, (what))) << "expected '" << (what) << "': " << r_.describe(); \
    } while (0)

class BadInput : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(repo.init());
        make_dir(src);
        write_file(src + "/a.txt", "a\n");
        make_dir(src + "/d");
        write_file(src + "/d/b.txt", "b\n");
        snapshot_id = repo.backup({src})["snapshot_id"];
        data_objects_before = data_file_sizes(repo.repo);
    }
    // The repository holds exactly what it held after SetUp, but for the audit log, which
    // records the failures too.
    void expect_repo_unchanged() { EXPECT_EQ(data_file_sizes(repo.repo), data_objects_before); }

    TempDir dir;
    Repo repo{dir.path()};
    std::string src = dir / "src";
    std::string snapshot_id;
    std::map<std::string, uint64_t> data_objects_before;
};

TEST_F(BadInput, NotARepository) {
    Repo empty(dir.path(), "empty dir");
    make_dir(empty.repo);
    Repo junk(dir.path(), "junk dir");
    make_dir(junk.repo);
    write_file(junk.repo + "/notes.txt", "not a repository\n");
    for (Repo* r : {&empty, &junk}) {
        SCOPED_TRACE(r->repo);
        r->host_key = repo.host_key;
        int entries = count_entries(r->repo);
        EXPECT_FAILS_WITH(r->run({"snapshots"}), 4, "not a coffer repository");
        EXPECT_FAILS_WITH(r->run({"backup", src}), 4, "not a coffer repository");
        EXPECT_FAILS_WITH(r->run({"verify"}), 4, "not a coffer repository");
        const std::string target = dir / "target";
        EXPECT_FAILS_WITH(r->run({"restore", "latest", "--target", target}, Keys::both), 4,
                          "not a coffer repository");
        EXPECT_FALSE(exists(target));
        EXPECT_EQ(count_entries(r->repo), entries);
        EXPECT_FALSE(exists(r->cache_dir));
    }
    Repo missing(dir.path(), "no such dir");
    missing.host_key = repo.host_key;
    RunResult m = missing.run({"backup", src});
    EXPECT_EQ(m.exit_code, 4) << m.describe();
    EXPECT_TRUE(m.one_line_error()) << m.describe();
    EXPECT_FALSE(exists(missing.repo));
    RunResult none = run_process(coffer_bin(), {"snapshots"}, {repo.base_env()});
    EXPECT_FAILS_WITH(none, 2, "no repository given");
}

// A repository written by a newer coffer: every command says to upgrade, in one line, exits
// non-zero and writes nothing, not even an audit entry, to a format it does not know.
TEST_F(BadInput, ANewerRepositoryFormatIsRefusedAndNothingIsWritten) {
    std::string config = read_file(repo.repo + "/config");
    const std::string v1 = "\"version\": 1";
    ASSERT_NE(config.find(v1), std::string::npos) << config;
    config.replace(config.find(v1), v1.size(), "\"version\": 2");
    write_file(repo.repo + "/config", config);
    const Manifest before = scan_tree(repo.repo);
    const std::string target = dir / "target", mirror = dir / "mirror";
    const std::vector<std::pair<std::vector<std::string>, Keys>> commands = {
        {{"snapshots"}, Keys::host},
        {{"backup", src}, Keys::host},
        {{"verify"}, Keys::host},
        {{"verify", "--read-data"}, Keys::both},
        {{"restore", "latest", "--target", target}, Keys::both},
        {{"ls", "latest"}, Keys::both},
        {{"forget", "--keep-last", "1"}, Keys::host},
        {{"prune"}, Keys::host},
        {{"mirror", "--to", mirror}, Keys::host},
    };
    for (const auto& [args, keys] : commands) {
        SCOPED_TRACE(args.front());
        RunResult r = repo.run(args, keys);
        EXPECT_NE(r.exit_code, 0) << r.describe();
        EXPECT_TRUE(r.one_line_error()) << r.describe();
        EXPECT_TRUE(contains(r.err, "repository format version 2 is newer")) << r.describe();
        EXPECT_TRUE(contains(r.err, "upgrade coffer")) << r.describe();
        EXPECT_EQ(diff_manifests(before, scan_tree(repo.repo)), "");
    }
    EXPECT_FALSE(exists(target));
    EXPECT_FALSE(exists(mirror));
}

// A listing of snapshots/ that lacks the newest snapshot this host wrote (cut short, or the
// manifests deleted) would restart the sequence numbers and fork the host's chain: the backup
// refuses, saving nothing, and goes on once the listing is whole again. (Found by the random
// POSIX fault test: an injected ENOENT made the listing empty.)
TEST_F(BadInput, ABackupRefusesAListingThatLacksItsNewestSnapshot) {
    const std::string aside = dir / "snapshots aside";
    ASSERT_EQ(::rename((repo.repo + "/snapshots").c_str(), aside.c_str()), 0);
    make_dir(repo.repo + "/snapshots");
    RunResult r = repo.run({"backup", src});
    EXPECT_EQ(r.exit_code, 5) << r.describe();
    EXPECT_TRUE(r.one_line_error()) << r.describe();
    EXPECT_TRUE(contains(r.err, "lacks " + snapshot_id.substr(0, 8))) << r.describe();
    EXPECT_EQ(count_entries(repo.repo + "/snapshots"), 0);
    force_remove_all(repo.repo + "/snapshots");
    ASSERT_EQ(::rename(aside.c_str(), (repo.repo + "/snapshots").c_str()), 0);
    RunResult again = repo.run({"backup", src});
    EXPECT_EQ(again.exit_code, 0) << again.describe();
    EXPECT_EQ(repo.run({"verify"}).exit_code, 0);
}

TEST_F(BadInput, WrongOrMalformedRecoveryKey) {
    Repo other(dir.path(), "other");
    ASSERT_NO_FATAL_FAILURE(other.init());
    const std::string target = dir / "target";
    auto with_key = [&](const std::string& key_file, std::vector<std::string> args) {
        Repo r = repo;
        r.recovery_key = key_file;
        return r.run(args, Keys::both);
    };
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"ls", "latest"},
                                               {"restore", "latest", "--target", target},
                                               {"verify", "--read-data"}}) {
        SCOPED_TRACE(args[0]);
        EXPECT_FAILS_WITH(with_key(other.recovery_key, args), 6, "does not match repository");

        const std::string garbage = dir / "garbage key";
        write_file(garbage, "this is not a recovery key\n", 0600);
        EXPECT_FAILS_WITH(with_key(garbage, args), 2, "malformed");

        // One mistyped digit is caught by the checksum.
        std::string text = read_file(repo.recovery_key);
        size_t pos = text.find('-', 0) + 3;
        text[pos] = text[pos] == '0' ? '1' : '0';
        const std::string typo = dir / "typo key";
        write_file(typo, text, 0600);
        RunResult t = with_key(typo, args);
        EXPECT_FAILS_WITH(t, 2, "malformed");
        EXPECT_TRUE(contains(t.err, "checksum")) << t.describe();

        EXPECT_FAILS_WITH(with_key(dir / "no such key", args), 4, "does not exist");
        EXPECT_FALSE(exists(target));
    }
    expect_repo_unchanged();
}

TEST_F(BadInput, HostKeyProblems) {
    Repo other(dir.path(), "other");
    ASSERT_NO_FATAL_FAILURE(other.init());
    Repo r = repo;
    for (const auto& args : std::vector<std::vector<std::string>>{{"backup", src}, {"snapshots"}}) {
        SCOPED_TRACE(args[0]);
        r.host_key = other.host_key;
        EXPECT_FAILS_WITH(r.run(args), 6, "belongs to repository");

        r.host_key = dir / "missing.key";
        EXPECT_FAILS_WITH(r.run(args), 4, "does not exist");
        EXPECT_FALSE(exists(r.host_key));

        r.host_key = dir / "shared.key";
        if (!exists(r.host_key)) write_file(r.host_key, read_file(repo.host_key), 0644);
        EXPECT_FAILS_WITH(r.run(args), 6, "readable by others");

        r.host_key = dir / "garbage.key";
        if (!exists(r.host_key)) write_file(r.host_key, "garbage\n", 0600);
        EXPECT_FAILS_WITH(r.run(args), 2, "malformed");
    }
    expect_repo_unchanged();
}

TEST_F(BadInput, SnapshotNames) {
    const std::string target = dir / "target";
    for (const std::string bad : {"nonexistent-id", "zzzz", "abc", "latest2"}) {
        EXPECT_FAILS_WITH(repo.run({"restore", bad, "--target", target}, Keys::both), 2,
                          "is not a snapshot id");
        EXPECT_FALSE(exists(target));
    }
    // An unknown prefix of 8 hex digits: change the first digit of the only snapshot id.
    std::string unknown = snapshot_id.substr(0, 8);
    unknown[0] = unknown[0] == 'a' ? 'b' : 'a';
    EXPECT_FAILS_WITH(repo.run({"restore", unknown, "--target", target}, Keys::both), 4,
                      "not found");
    EXPECT_FAILS_WITH(repo.run({"ls", unknown + snapshot_id.substr(8)}, Keys::both), 4,
                      "not found");
    EXPECT_FALSE(exists(target));
    // Four hex digits of a real id are enough.
    std::string upper = snapshot_id.substr(0, 6);
    for (char& c : upper) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
    RunResult ls_upper = repo.run({"ls", upper}, Keys::both);
    EXPECT_EQ(ls_upper.exit_code, 0) << ls_upper.describe();
    RunResult ls = repo.run({"ls", snapshot_id.substr(0, 4)}, Keys::both);
    EXPECT_EQ(ls.exit_code, 0) << ls.describe();
    EXPECT_TRUE(contains(ls.out, src + "/d/b.txt")) << ls.out;
    RunResult res = repo.run({"restore", snapshot_id.substr(0, 4), "--target", target}, Keys::both);
    ASSERT_EQ(res.exit_code, 0) << res.describe();
    EXPECT_EQ(read_file(restored(target, src) + "/d/b.txt"), "b\n");

    // 'latest' in a repository without snapshots.
    Repo fresh(dir.path(), "fresh");
    ASSERT_NO_FATAL_FAILURE(fresh.init());
    EXPECT_FAILS_WITH(fresh.run({"restore", "latest", "--target", dir / "t2"}, Keys::both), 4,
                      "no snapshots");
    EXPECT_FALSE(exists(dir / "t2"));
}

TEST_F(BadInput, RestoreIntoANonEmptyTarget) {
    const std::string target = dir / "target";
    make_dir(target);
    write_file(target + "/keep.me", "precious\n");
    EXPECT_FAILS_WITH(repo.run({"restore", "latest", "--target", target}, Keys::both), 2,
                      "not empty");
    EXPECT_EQ(count_entries(target), 1);
    EXPECT_EQ(read_file(target + "/keep.me"), "precious\n");

    RunResult ok = repo.run({"restore", "latest", "--target", target, "--overwrite"}, Keys::both);
    ASSERT_EQ(ok.exit_code, 0) << ok.describe();
    EXPECT_EQ(read_file(target + "/keep.me"), "precious\n");
    EXPECT_EQ(diff_manifests(scan_tree(src), scan_tree(restored(target, src))), "");

    // --overwrite replaces changed entries (a file and a symlink where a file was).
    write_file(restored(target, src) + "/a.txt", "changed!\n");
    ASSERT_EQ(::unlink((restored(target, src) + "/d/b.txt").c_str()), 0);
    ASSERT_EQ(::symlink("/etc/passwd", (restored(target, src) + "/d/b.txt").c_str()), 0);
    RunResult again =
        repo.run({"restore", "latest", "--target", target, "--overwrite"}, Keys::both);
    ASSERT_EQ(again.exit_code, 0) << again.describe();
    EXPECT_EQ(diff_manifests(scan_tree(src), scan_tree(restored(target, src))), "");
}

TEST_F(BadInput, InitRefusesToOverwrite) {
    const std::string config = read_file(repo.repo + "/config");
    const std::string host_key = read_file(repo.host_key);
    // An existing repository.
    Repo again = repo;
    again.host_key = dir / "new host.key";
    again.recovery_key = dir / "new recovery.txt";
    RunResult r1 = run_process(coffer_bin(),
                               {"--repo", again.repo, "--host-key", again.host_key, "init",
                                "--recovery-key-out", again.recovery_key},
                               {again.base_env()});
    EXPECT_FAILS_WITH(r1, 7, "already holds a coffer repository");
    EXPECT_FALSE(exists(again.host_key));
    EXPECT_FALSE(exists(again.recovery_key));
    // An existing host key file, and an existing recovery key file.
    Repo fresh(dir.path(), "fresh");
    for (const auto& [key, recovery] : std::vector<std::pair<std::string, std::string>>{
             {repo.host_key, fresh.recovery_key}, {fresh.host_key, repo.recovery_key}}) {
        RunResult r2 = run_process(
            coffer_bin(),
            {"--repo", fresh.repo, "--host-key", key, "init", "--recovery-key-out", recovery},
            {fresh.base_env()});
        EXPECT_FAILS_WITH(r2, 7, "already exists");
        EXPECT_FALSE(exists(fresh.repo));
        EXPECT_FALSE(exists(fresh.host_key));
        EXPECT_FALSE(exists(fresh.recovery_key));
    }
    // A directory that holds something else.
    Repo junk(dir.path(), "junk");
    make_dir(junk.repo);
    write_file(junk.repo + "/data.txt", "mine\n");
    RunResult r3 =
        run_process(coffer_bin(), {"--repo", junk.repo, "--host-key", junk.host_key, "init"},
                    {junk.base_env()});
    EXPECT_FAILS_WITH(r3, 7, "not empty");
    EXPECT_EQ(count_entries(junk.repo), 1);
    EXPECT_FALSE(exists(junk.host_key));

    EXPECT_EQ(read_file(repo.repo + "/config"), config);
    EXPECT_EQ(read_file(repo.host_key), host_key);
    expect_repo_unchanged();
}

TEST_F(BadInput, UsageErrors) {
    for (const std::string bad : {"0%", "150%", "0", "abc", "-5%", "nan%"}) {
        RunResult v = repo.run({"verify", "--read-data-subset", bad}, Keys::both);
        EXPECT_EQ(v.exit_code, 2) << bad << ": " << v.describe();
        EXPECT_TRUE(v.one_line_error()) << v.describe();
    }
    RunResult half = repo.run({"verify", "--read-data-subset", "50%"}, Keys::both);
    EXPECT_EQ(half.exit_code, 0) << half.describe();
    RunResult both = repo.run({"verify", "--read-data", "--read-data-subset", "10%"}, Keys::both);
    EXPECT_EQ(both.exit_code, 2) << both.describe();

    EXPECT_EQ(run_process(coffer_bin(), {}, {repo.base_env()}).exit_code, 2);
    EXPECT_EQ(repo.run({"frobnicate"}).exit_code, 2);
    EXPECT_EQ(repo.run({"restore", "latest"}, Keys::both).exit_code, 2);  // no --target
    EXPECT_EQ(repo.run({"backup"}).exit_code, 2);
    EXPECT_FAILS_WITH(repo.run({"backup", dir / "no such path"}), 2, "does not exist");
    expect_repo_unchanged();
}

// ---- unreadable sources ----------------------------------------------------------------------

TEST(UnreadableSource, BackupContinuesReportsAndMarksTheSnapshotIncomplete) {
    TempDir t;
    Repo r(t.path());
    const std::string src = t / "src";
    make_dir(src);
    write_file(src + "/readable.txt", "fine\n");
    make_dir(src + "/sub");
    write_file(src + "/sub/also fine.txt", "also fine\n");
    const std::string locked = src + "/sub/locked.bin";
    write_file(locked, "you cannot read me\n", 0600);
    const std::string locked_dir = src + "/closed dir";
    make_dir(locked_dir);
    write_file(locked_dir + "/hidden.txt", "hidden\n");

    // Root reads anything: run coffer as nobody, owning everything except the locked entries.
    RunOptions as;
    const bool root = geteuid() == 0;
    if (root) {
        set_mode(t.path(), 0755);
        chown_tree(t.path(), 65534, 65534);
        chown_tree(locked, 0, 0);
        chown_tree(locked_dir, 0, 0);
        set_mode(locked_dir, 0700);
        as.uid = 65534;
        as.gid = 65534;
    } else {
        set_mode(locked, 0);
        set_mode(locked_dir, 0);
    }
    RunResult init = r.run({"init", "--recovery-key-out", r.recovery_key}, Keys::host, as);
    ASSERT_EQ(init.exit_code, 0) << init.describe();

    RunResult b = r.run({"backup", "--json", src}, Keys::host, as);
    EXPECT_EQ(b.exit_code, 3) << b.describe();
    EXPECT_TRUE(contains(b.err, locked)) << b.describe();
    EXPECT_TRUE(contains(b.err, locked_dir)) << b.describe();
    EXPECT_TRUE(contains(b.err, "incomplete")) << b.describe();
    nlohmann::json j = b.json();
    ASSERT_TRUE(j.is_object()) << b.describe();
    EXPECT_EQ(j["incomplete"], true);
    EXPECT_EQ(j["summary"]["errors"], 2);
    EXPECT_EQ(j["summary"]["files_new"], 2);

    RunResult list = r.run({"snapshots", "--json"}, Keys::host, as);
    ASSERT_EQ(list.exit_code, 0) << list.describe();
    nlohmann::json snaps = list.json();
    ASSERT_TRUE(snaps.is_array() && snaps.size() == 1) << list.describe();
    EXPECT_EQ(snaps[0]["incomplete"], true);
    EXPECT_EQ(snaps[0]["id"], j["snapshot_id"]);
    RunResult text = r.run({"snapshots"}, Keys::host, as);
    EXPECT_TRUE(contains(text.out, "(incomplete)")) << text.describe();

    const std::string target = t / "target";
    RunResult res = r.run({"restore", "latest", "--target", target}, Keys::both, as);
    ASSERT_EQ(res.exit_code, 0) << res.describe();
    const std::string out = restored(target, src);
    EXPECT_EQ(read_file(out + "/readable.txt"), "fine\n");
    EXPECT_EQ(read_file(out + "/sub/also fine.txt"), "also fine\n");
    EXPECT_FALSE(exists(out + "/sub/locked.bin"));
    EXPECT_FALSE(exists(out + "/closed dir"));
}

// ---- interrupted and concurrent writers ------------------------------------------------------

TEST(Interrupted, KilledBackupsLeaveAConsistentRepository) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string src = t / "src";
    make_dir(src);
    write_file(src + "/small.txt", "small\n");
    r.backup({src});
    write_file(src + "/big.bin", prng_bytes(32 << 20, 9));
    // Killed at different points of the upload; whatever was written must stay consistent.
    for (int ms : {50, 150, 400}) {
        SCOPED_TRACE("killed after " + std::to_string(ms) + " ms");
        RunOptions kill;
        kill.kill_after_ms = ms;
        RunResult b = r.run({"backup", src}, Keys::host, kill);
        EXPECT_TRUE(b.exit_code == 137 || b.exit_code == 0) << b.describe();
        RunResult v = r.run({"verify"});
        EXPECT_EQ(v.exit_code, 0) << v.describe();
        RunResult list = r.run({"snapshots", "--json"});
        ASSERT_EQ(list.exit_code, 0) << list.describe();
        EXPECT_GE(list.json().size(), 1u);
    }
    nlohmann::json done = r.backup({src});
    EXPECT_EQ(done["incomplete"], false);
    const std::string target = t / "target";
    RunResult res = r.run({"restore", "latest", "--target", target}, Keys::both);
    ASSERT_EQ(res.exit_code, 0) << res.describe();
    EXPECT_EQ(diff_manifests(scan_tree(src), scan_tree(restored(target, src))), "");
    RunResult v = r.run({"verify", "--read-data"}, Keys::both);
    EXPECT_EQ(v.exit_code, 0) << v.describe();
}

// Regression: two backups from one host at once (say, overlapping cron jobs) both numbered
// their snapshot max+1, and verify then reported a "replayed or forked manifest". Backups
// with one host key now serialise on a host-local lock.
TEST(Interrupted, ConcurrentBackupsFromOneHostVerifyClean) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string src = t / "src";
    make_dir(src);
    write_file(src + "/a.txt", "a\n");
    for (int i = 0; i < 3; ++i) {
        auto one = std::async(std::launch::async, [&] { return r.run({"backup", src}); });
        RunResult two = r.run({"backup", src});
        EXPECT_EQ(one.get().exit_code, 0);
        EXPECT_EQ(two.exit_code, 0) << two.describe();
    }
    RunResult v = r.run({"verify"});
    EXPECT_EQ(v.exit_code, 0) << v.describe();
}

// Regression: a mistyped --include restored nothing and exited 0.
TEST(Include, PathNotInTheSnapshotIsNotFound) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string src = t / "src";
    make_dir(src);
    write_file(src + "/a.txt", "a\n");
    r.backup({src});
    const std::string target = t / "target";
    RunResult res =
        r.run({"restore", "latest", "--target", target, "--include", src + "/nope"}, Keys::both);
    EXPECT_EQ(res.exit_code, 4) << res.describe();
    EXPECT_NE(res.err.find("not in the snapshot"), std::string::npos) << res.describe();
}

}  // namespace
}  // namespace coffer::e2e
