// End-to-end: the recovery key as K-of-N shares. init --shares writes no whole key and any two of
// three shares restore; one share, a mistyped share, shares of another repository or of two
// splits are refused in one line; key split re-splits from the key file or from shares, refuses
// to overwrite share files, and is on the audit record without the shares themselves.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

class KeyShares : public ::testing::Test {
protected:
    // init --shares 2-of-3 --shares-out shares; the shares' paths.
    std::vector<std::string> init_with_shares(const Repo& r, const std::string& out) {
        RunResult init = run_process(coffer_bin(),
                                     {"--repo", r.repo, "--host-key", r.host_key, "init",
                                      "--shares", "2-of-3", "--shares-out", out},
                                     {r.base_env()});
        EXPECT_EQ(init.exit_code, 0) << init.describe();
        EXPECT_TRUE(contains(init.out, "any 2 of which recover it")) << init.describe();
        std::vector<std::string> paths;
        for (int i = 1; i <= 3; ++i)
            paths.push_back(out + "/share-" + std::to_string(i) + "-of-3.txt");
        return paths;
    }
    static std::vector<std::string> with_shares(std::vector<std::string> args,
                                                const std::vector<std::string>& shares) {
        for (const auto& s : shares) {
            args.insert(args.begin(), s);
            args.insert(args.begin(), "--recovery-share");
        }
        return args;
    }
    static unsigned mode_of(const std::string& path) {
        struct stat st {};
        return ::stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
    }

    TempDir dir;
    Repo repo{dir.path()};
    std::string data = dir / "data";
};

TEST_F(KeyShares, InitWithSharesWritesNoWholeKeyAndAnyTwoRestore) {
    make_dir(data);
    write_file(data + "/secret.env", "DB_PASSWORD=hunter2\n");
    write_file(data + "/big.bin", prng_bytes(300000, 5));
    auto shares = init_with_shares(repo, dir / "shares");
    EXPECT_EQ(mode_of(dir / "shares"), 0700u);
    for (const auto& s : shares) {
        EXPECT_EQ(mode_of(s), 0600u) << s;
        EXPECT_TRUE(contains(read_file(s), "crs1-2of3-")) << s;
    }
    EXPECT_FALSE(exists(repo.recovery_key)) << "a whole recovery key was written";
    for (const auto& f : list_files(dir.path()))
        EXPECT_FALSE(contains(read_file(dir / f), "crk1-")) << f << " holds a whole recovery key";
    std::string id = repo.backup({data})["snapshot_id"];
    const Manifest want = scan_tree(data);

    for (auto [a, b] : std::vector<std::pair<int, int>>{{0, 1}, {0, 2}, {2, 1}}) {
        std::string target = dir / ("restore-" + std::to_string(a) + std::to_string(b));
        RunResult r =
            repo.run(with_shares({"restore", id, "--target", target}, {shares[a], shares[b]}));
        ASSERT_EQ(r.exit_code, 0) << r.describe();
        EXPECT_EQ(diff_manifests(want, scan_tree(restored(target, data))), "");
    }
    RunResult v = repo.run(with_shares({"verify", "--read-data"}, {shares[1], shares[2]}));
    EXPECT_EQ(v.exit_code, 0) << v.describe();

    RunResult one = repo.run(with_shares({"restore", id, "--target", dir / "one"}, {shares[0]}));
    EXPECT_EQ(one.exit_code, 2) << one.describe();
    EXPECT_TRUE(one.one_line_error()) << one.describe();
    EXPECT_TRUE(contains(one.err, "2 of the 3 recovery shares are needed, 1 given"));
    EXPECT_FALSE(exists(dir / "one"));
    RunResult twice =
        repo.run(with_shares({"restore", id, "--target", dir / "twice"}, {shares[0], shares[0]}));
    EXPECT_TRUE(contains(twice.err, "share 1 is given twice")) << twice.describe();
}

// "--recovery-share -" takes a share typed in: here from standard input, as from a script or a
// vault tool; a terminal would be asked without echo.
TEST_F(KeyShares, SharesCanBeTypedInInsteadOfPassedAsFiles) {
    auto shares = init_with_shares(repo, dir / "shares");
    make_dir(data);
    write_file(data + "/f.txt", "typed\n");
    std::string id = repo.backup({data})["snapshot_id"];
    auto share_line = [&](int i) {
        std::string text = read_file(shares[i]);
        size_t at = text.find("crs1-");
        return text.substr(at, text.find('\n', at) - at);
    };
    RunOptions typed;
    typed.stdin_data = share_line(0) + "\n" + share_line(2) + "\n";
    RunResult r = repo.run({"--recovery-share", "-", "--recovery-share", "-", "restore", id,
                            "--target", dir / "typed"},
                           Keys::host, typed);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(read_file(restored(dir / "typed", data) + "/f.txt"), "typed\n");
    // One file and one typed share mix.
    RunOptions one;
    one.stdin_data = share_line(1) + "\n";
    RunResult mixed = repo.run({"--recovery-share", shares[0], "--recovery-share", "-", "ls", id},
                               Keys::host, one);
    EXPECT_EQ(mixed.exit_code, 0) << mixed.describe();
    // A mistyped typed share is named by its place; nothing typed at all is refused too.
    std::string bad = share_line(1);
    bad[bad.size() - 3] = bad[bad.size() - 3] == '0' ? '1' : '0';
    RunOptions mistyped;
    mistyped.stdin_data = share_line(0) + "\n" + bad + "\n";
    RunResult m = repo.run(
        {"--recovery-share", "-", "--recovery-share", "-", "restore", id, "--target", dir / "m"},
        Keys::host, mistyped);
    EXPECT_EQ(m.exit_code, 2) << m.describe();
    EXPECT_TRUE(m.one_line_error()) << m.describe();
    EXPECT_TRUE(contains(m.err, "recovery share 2 (--recovery-share -)")) << m.describe();
    EXPECT_FALSE(exists(dir / "m"));
    RunResult empty = repo.run({"--recovery-share", "-", "--recovery-share", "-", "ls", id});
    EXPECT_EQ(empty.exit_code, 2) << empty.describe();
    EXPECT_TRUE(contains(empty.err, "is empty")) << empty.describe();
}

// The whole key can be typed in (or piped from a vault tool) the same way: how `coffer serve`
// hands an API restore's key to its child.
TEST_F(KeyShares, TheRecoveryKeyCanBeTypedInAsALineOfStandardInput) {
    repo.init();
    make_dir(data);
    write_file(data + "/f.txt", "typed key\n");
    std::string id = repo.backup({data})["snapshot_id"];
    std::string key = read_file(repo.recovery_key);
    RunOptions typed;
    typed.stdin_data = key.substr(0, key.find('\n')) + "\n";
    RunResult r = repo.run({"--recovery-key-file", "-", "restore", id, "--target", dir / "typed"},
                           Keys::host, typed);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(read_file(restored(dir / "typed", data) + "/f.txt"), "typed key\n");
    RunOptions wrong;
    wrong.stdin_data = "crk1-0000\n";
    RunResult w = repo.run({"--recovery-key-file", "-", "ls", id}, Keys::host, wrong);
    EXPECT_EQ(w.exit_code, 2) << w.describe();
    EXPECT_TRUE(w.one_line_error()) << w.describe();
    EXPECT_TRUE(contains(w.err, "the recovery key (--recovery-key-file -)")) << w.describe();
    RunResult empty = repo.run({"--recovery-key-file", "-", "ls", id}, Keys::host);
    EXPECT_EQ(empty.exit_code, 2) << empty.describe();
    EXPECT_TRUE(contains(empty.err, "is empty")) << empty.describe();
}

TEST_F(KeyShares, MistypedForeignOrMixedSharesAreRefusedInOneLine) {
    auto shares = init_with_shares(repo, dir / "shares");
    make_dir(data);
    write_file(data + "/f", "x");
    std::string id = repo.backup({data})["snapshot_id"];
    // A mistyped digit in share 2.
    std::string text = read_file(shares[1]);
    size_t at = text.find("crs1-2of3-2-") + 25;
    text[at] = text[at] == '0' ? '1' : '0';
    std::string typo = dir / "typo.txt";
    write_file(typo, text, 0600);
    RunResult t = repo.run(with_shares({"restore", id, "--target", dir / "t"}, {shares[0], typo}));
    EXPECT_EQ(t.exit_code, 2) << t.describe();
    EXPECT_TRUE(t.one_line_error()) << t.describe();
    EXPECT_TRUE(contains(t.err, "typo.txt")) << t.describe();
    EXPECT_TRUE(contains(t.err, "share 2's checksum does not match (a digit was mistyped)"));
    // Two shares of another repository's key: well-formed, and the wrong key.
    Repo other(dir.path(), "other");
    auto foreign = init_with_shares(other, dir / "other shares");
    RunResult f =
        repo.run(with_shares({"restore", id, "--target", dir / "f"}, {foreign[0], foreign[1]}));
    EXPECT_EQ(f.exit_code, 6) << f.describe();
    EXPECT_TRUE(f.one_line_error()) << f.describe();
    EXPECT_TRUE(contains(f.err, "the recovery shares do not give repository")) << f.describe();
    // One share of each.
    RunResult m =
        repo.run(with_shares({"restore", id, "--target", dir / "m"}, {shares[0], foreign[1]}));
    EXPECT_TRUE(contains(m.err, "come from different splits")) << m.describe();
    // Shares on the command line stand in for a key file set in the environment.
    RunOptions env_key;
    env_key.env["COFFER_RECOVERY_KEY_FILE"] = dir / "no such key file";
    RunResult from_env =
        repo.run(with_shares({"ls", id}, {shares[0], shares[1]}), Keys::host, env_key);
    EXPECT_EQ(from_env.exit_code, 0) << from_env.describe();
    // A share passed as the whole key is named for what it is.
    RunResult as_key = run_process(coffer_bin(),
                                   {"--repo", repo.repo, "--host-key", repo.host_key,
                                    "--recovery-key-file", shares[0], "ls", id},
                                   {repo.base_env()});
    EXPECT_TRUE(contains(as_key.err, "this is a recovery share, not the whole key"))
        << as_key.describe();
    // A share and the key file at once.
    RunResult both = repo.run(
        with_shares({"restore", id, "--target", dir / "b"}, {shares[0], shares[1]}), Keys::both);
    EXPECT_EQ(both.exit_code, 2) << both.describe();
    EXPECT_TRUE(contains(both.err, "not both")) << both.describe();
    for (const char* t : {"t", "f", "m", "b"}) EXPECT_FALSE(exists(dir / t));
}

TEST_F(KeyShares, KeySplitFromTheKeyFileOrFromSharesAndOnTheRecord) {
    repo.init();
    make_dir(data);
    write_file(data + "/f", "payload\n");
    std::string id = repo.backup({data})["snapshot_id"];
    RunResult split =
        repo.run({"key", "split", "--shares", "2-of-3", "--out", dir / "s1"}, Keys::both);
    ASSERT_EQ(split.exit_code, 0) << split.describe();
    std::vector<std::string> s1;
    for (int i = 1; i <= 3; ++i)
        s1.push_back(dir / ("s1/share-" + std::to_string(i) + "-of-3.txt"));
    for (const auto& s : s1) EXPECT_EQ(mode_of(s), 0600u) << s;
    RunResult r = repo.run(with_shares({"restore", id, "--target", dir / "r"}, {s1[2], s1[0]}));
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(read_file(restored(dir / "r", data) + "/f"), "payload\n");

    // Again into the same directory: refused, nothing replaced.
    const std::string before = read_file(s1[0]);
    RunResult again =
        repo.run({"key", "split", "--shares", "2-of-3", "--out", dir / "s1"}, Keys::both);
    EXPECT_EQ(again.exit_code, 7) << again.describe();
    EXPECT_TRUE(again.one_line_error()) << again.describe();
    EXPECT_EQ(read_file(s1[0]), before);

    // From two shares to a new 3-of-5 split (a holder left); the new shares work, JSON lists them.
    RunResult resplit =
        repo.run(with_shares({"key", "split", "--shares", "3-of-5", "--json"}, {s1[0], s1[1]}));
    ASSERT_EQ(resplit.exit_code, 0) << resplit.describe();
    nlohmann::json j = resplit.json();
    ASSERT_EQ(j["shares"].size(), 5u) << j.dump();
    EXPECT_EQ(j["k"], 3);
    std::vector<std::string> s2;
    for (int i : {0, 2, 4}) {
        std::string p = dir / ("new-" + std::to_string(i));
        write_file(p, j["shares"][i].get<std::string>() + "\n", 0600);
        s2.push_back(p);
    }
    RunResult r2 = repo.run(with_shares({"restore", id, "--target", dir / "r2"}, s2));
    EXPECT_EQ(r2.exit_code, 0) << r2.describe();
    RunResult r3 = repo.run(with_shares({"restore", id, "--target", dir / "r3"}, {s2[0], s2[1]}));
    EXPECT_TRUE(contains(r3.err, "3 of the 5 recovery shares are needed, 2 given"))
        << r3.describe();

    RunResult bad = repo.run({"key", "split", "--shares", "3-of-2"}, Keys::both);
    EXPECT_EQ(bad.exit_code, 2) << bad.describe();
    EXPECT_TRUE(bad.one_line_error()) << bad.describe();

    // On the record, with K and N, never a share.
    RunResult log = repo.run({"audit", "show", "--json", "--action", "key.split"});
    ASSERT_EQ(log.exit_code, 0) << log.describe();
    EXPECT_TRUE(contains(log.out, "\"k\":2")) << log.out;
    EXPECT_TRUE(contains(log.out, "\"n\":5")) << log.out;
    EXPECT_FALSE(contains(log.out, "crs1-")) << "a share reached the audit log";
}

// A share holder protects their share, and an operator their recovery key file, with a
// passphrase: the files then hold neither, and every command asks for the passphrase (here from
// COFFER_PASSPHRASE_FILE; there is no terminal). A wrong or missing passphrase is one line.
TEST_F(KeyShares, ProtectedSharesAndKeyFilesNeedTheirPassphrase) {
    repo.init();
    make_dir(data);
    write_file(data + "/f", "payload\n");
    std::string id = repo.backup({data})["snapshot_id"];
    RunResult split =
        repo.run({"key", "split", "--shares", "2-of-3", "--out", dir / "s"}, Keys::both);
    ASSERT_EQ(split.exit_code, 0) << split.describe();
    const std::string share1 = dir / "s/share-1-of-3.txt", share2 = dir / "s/share-2-of-3.txt";
    const std::string share_line = read_file(share1).substr(read_file(share1).find("crs1-"), 40);
    write_file(dir / "pp", "correct horse battery\n", 0600);
    write_file(dir / "wrong", "incorrect horse\n", 0600);
    auto with_pp = [&](const std::string& file) {
        RunOptions o;
        o.env["COFFER_PASSPHRASE_FILE"] = file;
        return o;
    };
    const std::vector<std::string> cheap = {"--kdf-memory", "16", "--kdf-passes", "1"};
    std::vector<std::string> protect = {"key", "protect", share1};
    protect.insert(protect.end(), cheap.begin(), cheap.end());
    RunResult p = repo.run(protect, Keys::host, with_pp(dir / "pp"));
    ASSERT_EQ(p.exit_code, 0) << p.describe();
    EXPECT_EQ(mode_of(share1), 0600u);
    EXPECT_FALSE(contains(read_file(share1), share_line)) << "the share shows through";
    RunResult twice = repo.run(protect, Keys::host, with_pp(dir / "pp"));
    EXPECT_EQ(twice.exit_code, 7) << twice.describe();

    auto restore = [&](const std::string& target, const RunOptions& o) {
        return repo.run(with_shares({"restore", id, "--target", target}, {share1, share2}),
                        Keys::host, o);
    };
    RunResult ok = restore(dir / "r", with_pp(dir / "pp"));
    ASSERT_EQ(ok.exit_code, 0) << ok.describe();
    EXPECT_EQ(read_file(restored(dir / "r", data) + "/f"), "payload\n");
    RunResult wrong = restore(dir / "w", with_pp(dir / "wrong"));
    EXPECT_EQ(wrong.exit_code, 6) << wrong.describe();
    EXPECT_TRUE(wrong.one_line_error()) << wrong.describe();
    EXPECT_TRUE(contains(wrong.err, "wrong passphrase, or the file is damaged"))
        << wrong.describe();
    RunResult none = restore(dir / "n", {});
    EXPECT_EQ(none.exit_code, 6) << none.describe();
    EXPECT_TRUE(contains(none.err, "COFFER_PASSPHRASE_FILE")) << none.describe();
    EXPECT_FALSE(exists(dir / "w"));
    EXPECT_FALSE(exists(dir / "n"));

    // The whole recovery key file, protected the same way.
    std::vector<std::string> protect_key = {"key", "protect", repo.recovery_key};
    protect_key.insert(protect_key.end(), cheap.begin(), cheap.end());
    ASSERT_EQ(repo.run(protect_key, Keys::host, with_pp(dir / "pp")).exit_code, 0);
    EXPECT_FALSE(contains(read_file(repo.recovery_key), "crk1-"));
    RunResult v = repo.run({"verify", "--read-data"}, Keys::both, with_pp(dir / "pp"));
    EXPECT_EQ(v.exit_code, 0) << v.describe();
    RunResult vw = repo.run({"verify", "--read-data"}, Keys::both, with_pp(dir / "wrong"));
    EXPECT_EQ(vw.exit_code, 6) << vw.describe();
    // A symlink to a share file is refused: rewriting it would leave the target readable.
    ASSERT_EQ(::symlink(share2.c_str(), (dir / "link").c_str()), 0);
    std::vector<std::string> protect_link = {"key", "protect", dir / "link"};
    RunResult l = repo.run(protect_link, Keys::host, with_pp(dir / "pp"));
    EXPECT_EQ(l.exit_code, 2) << l.describe();
    EXPECT_TRUE(contains(l.err, "not a plain file")) << l.describe();
    // Not a key file at all.
    write_file(dir / "notes.txt", "hello\n", 0600);
    std::vector<std::string> protect_notes = {"key", "protect", dir / "notes.txt"};
    RunResult n = repo.run(protect_notes, Keys::host, with_pp(dir / "pp"));
    EXPECT_NE(n.exit_code, 0) << n.describe();
    EXPECT_EQ(read_file(dir / "notes.txt"), "hello\n");
    // On the record, without the passphrase.
    RunResult log = repo.run({"audit", "show", "--json", "--action", "key.protect"});
    EXPECT_TRUE(contains(log.out, "argon2id")) << log.out;
    EXPECT_FALSE(contains(log.out, "horse")) << "the passphrase reached the audit log";
}

}  // namespace
}  // namespace coffer::e2e
