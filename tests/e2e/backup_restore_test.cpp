// End-to-end: backup and restore round trips, dedup, and the JSON/summary output.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

const std::string k_unicode = "ünïcødé ✓";

void make_symlink(const std::string& target, const std::string& path) {
    ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0) << printable(path);
}

// A tree with every kind of entry and name the round trip must preserve.
void build_odd_tree(const std::string& s) {
    make_dir(s, 0755);
    write_file(s + "/plain.txt", "hello\n");
    write_file(s + "/name with  spaces .txt", "spaces\n", 0640);
    write_file(s + "/" + k_unicode, "unicode name\n");
    make_dir(s + "/" + k_unicode + " dir", 0750);
    write_file(s + "/" + k_unicode + " dir/inner ✓.txt", "inner\n", 0600);
    write_file(s + "/line\nbreak.txt", "newline in the name\n");
    write_file(s + "/-leading-dash", "dash\n");
    write_file(s + "/--double-dash", "double dash\n");
    write_file(s + "/back\\slash*?[glob]", "glob characters\n");
    write_file(s + "/empty", "");
    write_file(s + "/bad utf-8 \xff\xfe\xc3(", "invalid UTF-8 in the name\n");
    write_file(s + "/tab\there", "tab\n");
    write_file(s + "/" + std::string(255, 'L'), "longest name\n");
    ASSERT_EQ(::mkfifo((s + "/a fifo").c_str(), 0644), 0);  // skipped, and must not block
    write_file(s + "/private", "0700 file\n", 0700);
    write_file(s + "/group-readable", "0640 file\n", 0640);
    write_file(s + "/tool.sh", "#!/bin/sh\necho hi\n", 0755);
    write_file(s + "/setuid-tool", "x", 04755);
    write_file(s + "/read-only file", "read only\n", 0444);
    write_file(s + "/big.bin", prng_bytes(20 << 20, 42));
    make_dir(s + "/many");
    for (int i = 0; i < 300; ++i)
        write_file(s + "/many/f" + std::to_string(1000 + i),
                   "file " + std::to_string(i) + "\n" + prng_bytes((i * 37) % 900, i));
    make_symlink("plain.txt", s + "/link-rel");
    make_symlink("../plain.txt", s + "/many/link-up");
    make_symlink("/etc/passwd", s + "/link-abs");
    make_symlink("does/not/exist", s + "/link-dangling");
    make_symlink("/nonexistent/" + k_unicode + " target", s + "/link-abs-dangling");
    make_dir(s + "/empty dir");
    make_dir(s + "/nested");
    make_dir(s + "/nested/empty");
    make_dir(s + "/nested/empty/deeper", 0700);
    make_dir(s + "/sticky", 01777);
    make_dir(s + "/read-only dir");
    write_file(s + "/read-only dir/inside.txt", "inside a read-only dir\n");
    make_dir(s + "/read-only dir/sub");
    write_file(s + "/read-only dir/sub/deep.txt", "deeper\n", 0600);
    set_mode(s + "/read-only dir/sub", 0555);
    set_mode(s + "/read-only dir", 0555);
    set_mtime(s + "/plain.txt", 1234567890, 123456789);
    set_mtime(s + "/empty", -631152000 - 7, 5);  // 1950: before the epoch
    set_mtime(s + "/link-rel", 1000000000, 1);
    set_mtime(s + "/nested/empty", 1500000000, 999999999);
    if (geteuid() == 0) {
        ASSERT_EQ(::lchown((s + "/group-readable").c_str(), 65534, 65534), 0);
        ASSERT_EQ(::lchown((s + "/link-abs").c_str(), 65534, 65534), 0);
    }
}

void overwrite_at(const std::string& path, off_t offset, const std::string& bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), offset), ssize_t(bytes.size()));
    ::close(fd);
}

size_t count_type(const Manifest& m, char type) {
    size_t n = 0;
    for (const auto& [p, e] : m) n += e.type == type;
    return n;
}

TEST(RoundTrip, OddNamesModesLinksAndTwoSnapshots) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string src = t / "source tree";
    ASSERT_NO_FATAL_FAILURE(build_odd_tree(src));
    Manifest first = scan_tree(src);
    first.erase("a fifo");
    nlohmann::json b1 = r.backup({src});
    EXPECT_EQ(b1["summary"]["files_new"], count_type(first, 'f'));
    EXPECT_EQ(b1["incomplete"], false);

    // Second state: a same-size edit, a small edit inside the big file, a delete, an add, a
    // mode change and a removed directory.
    write_file(src + "/plain.txt", "HELLO\n");
    ASSERT_NO_FATAL_FAILURE(overwrite_at(src + "/big.bin", 10 << 20, std::string(100, 'Z')));
    ASSERT_EQ(::unlink((src + "/many/f1100").c_str()), 0);
    write_file(src + "/added ✓ new.txt", "a new file\n");
    set_mode(src + "/tool.sh", 0700);
    ASSERT_EQ(::rmdir((src + "/nested/empty/deeper").c_str()), 0);
    Manifest second = scan_tree(src);
    second.erase("a fifo");
    ASSERT_NE(diff_manifests(first, second), "");
    nlohmann::json b2 = r.backup({src});
    const auto& s2 = b2["summary"];
    EXPECT_EQ(s2["files_new"], 1) << b2.dump();
    EXPECT_GE(s2["files_changed"], 2) << b2.dump();  // plain.txt and big.bin, maybe tool.sh
    EXPECT_EQ(s2["files_changed"].get<uint64_t>() + s2["files_unchanged"].get<uint64_t>() + 1,
              count_type(second, 'f'))
        << b2.dump();
    // Only the chunk(s) around the 100 changed bytes are new, not the whole 20 MiB.
    EXPECT_LT(s2["data_added"].get<uint64_t>(), 10u << 20) << b2.dump();
    ASSERT_NE(b1["snapshot_id"], b2["snapshot_id"]);

    // Restore both, the older one by full id and the newer by 'latest', and compare.
    const std::string t1 = t / "restore one", t2 = t / "restore two";
    RunResult r1 = r.run({"restore", b1["snapshot_id"], "--target", t1, "--json"}, Keys::both);
    ASSERT_EQ(r1.exit_code, 0) << r1.describe();
    RunResult r2 = r.run({"restore", "latest", "--target", t2}, Keys::both);
    ASSERT_EQ(r2.exit_code, 0) << r2.describe();
    EXPECT_EQ(r2.err, "");

    EXPECT_EQ(diff_manifests(first, scan_tree(restored(t1, src))), "") << "first snapshot";
    EXPECT_EQ(diff_manifests(second, scan_tree(restored(t2, src))), "") << "second snapshot";
    // Only the source path is recreated below the target.
    EXPECT_EQ(count_entries(t1), 1);
    nlohmann::json j1 = r1.json();
    ASSERT_TRUE(j1.is_object()) << r1.describe();
    EXPECT_EQ(j1["files"], count_type(first, 'f'));
    EXPECT_EQ(j1["symlinks"], count_type(first, 'l'));
    // ls copes with every name (invalid UTF-8 is replaced in JSON, not fatal).
    RunResult ls = r.run({"ls", "latest", "--json"}, Keys::both);
    ASSERT_EQ(ls.exit_code, 0) << ls.describe();
    nlohmann::json listed = ls.json();
    ASSERT_TRUE(listed.is_array()) << ls.describe();
    size_t below_src = 0;
    for (const auto& e : listed) below_src += e["path"].get<std::string>().rfind(src + "/", 0) == 0;
    EXPECT_EQ(below_src, second.size() - 1);
    EXPECT_EQ(r.run({"ls", "latest"}, Keys::both).exit_code, 0);

    uint64_t first_bytes = 0;
    for (const auto& [p, e] : first) first_bytes += e.type == 'f' ? e.content.size() : 0;
    EXPECT_EQ(j1["bytes"], first_bytes);
}

TEST(RoundTrip, RecoveryKeyAloneRestoresAndIncludeSelectsASubtree) {
    // Without --host-key root's default is /etc/coffer/host.key, which a test must not use.
    if (geteuid() == 0 && exists("/etc/coffer/host.key")) GTEST_SKIP() << "host has a host key";
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string src = t / "src";
    make_dir(src);
    make_dir(src + "/keep");
    write_file(src + "/keep/a.txt", "aaa\n");
    write_file(src + "/other.txt", "other\n");
    r.backup({src});
    r.backup({src + "/other.txt"});  // a single file as the backup path
    // The recovery key alone unseals this host's keys from the repository.
    RunResult list = r.run({"snapshots", "--json"}, Keys::recovery);
    ASSERT_EQ(list.exit_code, 0) << list.describe();
    ASSERT_EQ(list.json().size(), 2u) << list.out;
    const std::string first = list.json()[0]["id"];
    const std::string target = t / "target";
    RunResult res =
        r.run({"restore", first, "--target", target, "--include", src + "/keep/"}, Keys::recovery);
    ASSERT_EQ(res.exit_code, 0) << res.describe();
    EXPECT_EQ(read_file(restored(target, src) + "/keep/a.txt"), "aaa\n");
    EXPECT_FALSE(exists(restored(target, src) + "/other.txt"));
    const std::string file_target = t / "file target";
    res = r.run({"restore", "latest", "--target", file_target}, Keys::recovery);
    ASSERT_EQ(res.exit_code, 0) << res.describe();
    EXPECT_EQ(read_file(restored(file_target, src) + "/other.txt"), "other\n");
    EXPECT_EQ(count_entries(restored(file_target, src)), 1);
    RunResult v = r.run({"verify", "--read-data"}, Keys::recovery);
    EXPECT_EQ(v.exit_code, 0) << v.describe();
}

TEST(RoundTrip, BackupPathBelowASymlinkedDirectory) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    make_dir(t / "real");
    make_dir(t / "real/src");
    write_file(t / "real/src/file.txt", "reached through a symlink\n");
    make_symlink("real", t / "via link");
    const std::string src = t / "via link/src";
    nlohmann::json b = r.backup({src});
    EXPECT_EQ(b["summary"]["files_new"], 1) << b.dump();
    EXPECT_EQ(b["summary"]["total_bytes"], 26) << b.dump();
    const std::string target = t / "target";
    RunResult res = r.run({"restore", "latest", "--target", target}, Keys::both);
    ASSERT_EQ(res.exit_code, 0) << res.describe();
    // Under the path as given, or under the resolved one.
    std::string as_given = restored(target, src) + "/file.txt";
    std::string resolved = restored(target, t / "real/src") + "/file.txt";
    ASSERT_TRUE(exists(as_given) || exists(resolved)) << "file.txt was not backed up";
    EXPECT_EQ(read_file(exists(as_given) ? as_given : resolved), "reached through a symlink\n");
}

TEST(RoundTrip, OrdinaryUserRestoresReadOnlyDirectoriesAndOverwrites) {
    TempDir t;
    Repo r(t.path());
    const std::string src = t / "src";
    make_dir(src);
    make_dir(src + "/ro");
    write_file(src + "/ro/a.txt", "a\n", 0444);
    make_dir(src + "/ro/inner");
    write_file(src + "/ro/inner/b.txt", "b\n");
    set_mode(src + "/ro/inner", 0555);
    set_mode(src + "/ro", 0555);
    write_file(src + "/top.txt", "top\n", 0400);
    RunOptions as;
    if (geteuid() == 0) {  // root bypasses permissions: be someone else
        set_mode(t.path(), 0755);
        chown_tree(t.path(), 65534, 65534);
        as.uid = 65534;
        as.gid = 65534;
    }
    ASSERT_EQ(r.run({"init", "--recovery-key-out", r.recovery_key}, Keys::host, as).exit_code, 0);
    RunResult b = r.run({"backup", src}, Keys::host, as);
    ASSERT_EQ(b.exit_code, 0) << b.describe();
    const Manifest expected = scan_tree(src);
    const std::string target = t / "target";
    RunResult first = r.run({"restore", "latest", "--target", target}, Keys::both, as);
    ASSERT_EQ(first.exit_code, 0) << first.describe();
    EXPECT_EQ(diff_manifests(expected, scan_tree(restored(target, src))), "");
    // Again over the restored tree: read-only directories must not stop --overwrite.
    RunResult again =
        r.run({"restore", "latest", "--target", target, "--overwrite"}, Keys::both, as);
    EXPECT_EQ(again.exit_code, 0) << again.describe();
    EXPECT_EQ(diff_manifests(expected, scan_tree(restored(target, src))), "");
}

TEST(Dedup, UnchangedDataIsNotReadAndAddsAlmostNothing) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string src = t / "data";
    make_dir(src);
    make_dir(src + "/small files");
    for (int i = 0; i < 40; ++i)
        write_file(src + "/small files/s" + std::to_string(i), prng_bytes(100 + i * 13, 500 + i));
    const std::string big = prng_bytes(3 << 20, 7);
    write_file(src + "/a.bin", big);
    write_file(src + "/copy of a.bin", big);
    const size_t n_files = list_files(src).size();
    const uint64_t bytes = total_size(src);

    nlohmann::json b1 = r.backup({src});
    EXPECT_EQ(b1["summary"]["files_new"], n_files);
    EXPECT_EQ(b1["summary"]["total_bytes"], bytes);
    EXPECT_EQ(b1["summary"]["bytes_read"], bytes);
    // The second copy of a.bin is stored once.
    EXPECT_GE(b1["summary"]["data_added"].get<uint64_t>(), 3u << 20);
    EXPECT_LT(b1["summary"]["data_added"].get<uint64_t>(), (3u << 20) + (256u << 10)) << b1.dump();

    const auto before = file_sizes(r.repo);
    nlohmann::json b2 = r.backup({src});
    const auto& s2 = b2["summary"];
    EXPECT_EQ(s2["bytes_read"], 0) << b2.dump();
    EXPECT_EQ(s2["files_unchanged"], n_files) << b2.dump();
    EXPECT_EQ(s2["files_new"], 0);
    EXPECT_EQ(s2["files_changed"], 0);
    // At most the listings of the source's ancestors are new: their attributes are recorded and
    // their mtimes change (the host cache appears beside the source, others write to /tmp).
    EXPECT_LT(s2["data_added"].get<uint64_t>(), 2u << 10) << b2.dump();
    EXPECT_EQ(s2["total_bytes"], bytes);
    const uint64_t size1 = total_size(r.repo);
    uint64_t size0 = 0;
    for (const auto& [p, n] : before) size0 += n;
    EXPECT_LT(size1 - size0, 8u << 10);
    size_t new_snapshots = 0;
    for (const auto& [p, n] : file_sizes(r.repo))
        new_snapshots += !before.count(p) && p.rfind("snapshots/", 0) == 0;
    EXPECT_EQ(new_snapshots, 1u);

    // Without the cache every byte is read again, but nothing new is stored.
    nlohmann::json b3 = r.backup({"--no-cache", src});
    EXPECT_EQ(b3["summary"]["bytes_read"], bytes) << b3.dump();
    EXPECT_EQ(b3["summary"]["files_unchanged"], 0);
    EXPECT_LT(b3["summary"]["data_added"].get<uint64_t>(), 2u << 10) << b3.dump();
    EXPECT_LT(total_size(r.repo) - size1, 8u << 10);

    // A touched file (same content, new mtime) is read again but adds no data.
    set_mtime(src + "/a.bin", 1600000000, 0);
    nlohmann::json b4 = r.backup({src});
    EXPECT_EQ(b4["summary"]["files_changed"], 1) << b4.dump();
    EXPECT_EQ(b4["summary"]["bytes_read"], 3u << 20) << b4.dump();
    EXPECT_LT(b4["summary"]["data_added"].get<uint64_t>(), 8u << 10) << b4.dump();
}

TEST(Dedup, StaleCacheAfterRepositoryRollbackIsNotTrusted) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string src = t / "src";
    make_dir(src);
    write_file(src + "/a.bin", prng_bytes(1 << 20, 1));
    r.backup({src});
    copy_tree(r.repo, t / "old repo");
    write_file(src + "/b.bin", prng_bytes(1 << 20, 2));
    r.backup({src});
    // Roll the repository back; the host cache still lists b.bin's chunks.
    force_remove_all(r.repo);
    copy_tree(t / "old repo", r.repo);
    // The operator accepts the rollback: the host's record of its newest snapshot, which the
    // rollback took away, goes (without that, the backup refuses: BadInput.ABackupRefuses...).
    for (const auto& f : list_files(r.cache_dir))
        if (f.size() >= 6 && f.substr(f.size() - 6) == "latest")
            force_remove_all(r.cache_dir + "/" + f);
    nlohmann::json b3 = r.backup({src});
    EXPECT_GE(b3["summary"]["bytes_read"].get<uint64_t>(), 1u << 20) << b3.dump();
    EXPECT_GE(b3["summary"]["data_added"].get<uint64_t>(), 1u << 20) << b3.dump();
    const std::string target = t / "target";
    RunResult res = r.run({"restore", "latest", "--target", target}, Keys::both);
    ASSERT_EQ(res.exit_code, 0) << res.describe();
    EXPECT_EQ(read_file(restored(target, src) + "/b.bin"), prng_bytes(1 << 20, 2));
    RunResult v = r.run({"verify", "--read-data"}, Keys::both);
    EXPECT_EQ(v.exit_code, 0) << v.describe();
}

bool is_hex_id(const nlohmann::json& j) {
    return j.is_string() && std::regex_match(j.get<std::string>(), std::regex("[0-9a-f]{64}"));
}

TEST(Output, JsonSummariesSnapshotsTagsAndExcludes) {
    TempDir t;
    Repo r(t.path());
    // init in text mode prints the recovery key once; keep it from stdout.
    RunResult init = run_process(coffer_bin(), {"--repo", r.repo, "--host-key", r.host_key, "init"},
                                 {r.base_env()});
    ASSERT_EQ(init.exit_code, 0) << init.describe();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(init.out, m, std::regex("crk1(-[0-9a-f]{8}){9}")))
        << init.describe();
    write_file(r.recovery_key, m.str() + "\n", 0600);

    const std::string src = t / "src";
    make_dir(src);
    write_file(src + "/keep.txt", "keep\n");
    write_file(src + "/junk.tmp", "junk\n");
    write_file(src + "/.hidden.tmp", "a dotfile matches '*.tmp' too\n");
    make_dir(src + "/sub");
    write_file(src + "/sub/also.tmp", "junk too\n");
    write_file(src + "/sub/keep2.txt", "keep too\n");
    make_dir(src + "/skipdir");
    write_file(src + "/skipdir/x", "skipped by path\n");

    // Repository and keys from the environment this time.
    RunOptions env{r.base_env()};
    env.env["COFFER_REPO"] = r.repo;
    env.env["COFFER_HOST_KEY"] = r.host_key;
    env.env["COFFER_RECOVERY_KEY_FILE"] = r.recovery_key;
    auto coffer = [&](const std::vector<std::string>& args) {
        return run_process(coffer_bin(), args, env);
    };

    RunResult b1 = coffer({"backup", "--json", "--tag", "daily", "--tag", "with space", "--exclude",
                           "*.tmp", "--exclude", src + "/skipdir", src});
    ASSERT_EQ(b1.exit_code, 0) << b1.describe();
    EXPECT_EQ(b1.err, "") << "no progress output or warnings when stderr is not a terminal";
    nlohmann::json j1 = b1.json();
    ASSERT_TRUE(j1.is_object()) << b1.describe();
    EXPECT_TRUE(is_hex_id(j1["snapshot_id"])) << j1.dump();
    EXPECT_EQ(j1["paths"], nlohmann::json::array({src}));
    EXPECT_EQ(j1["tags"], nlohmann::json::array({"daily", "with space"}));
    EXPECT_EQ(j1["incomplete"], false);
    EXPECT_EQ(j1["errors"], nlohmann::json::array());
    for (const char* k : {"files_new", "files_changed", "files_unchanged", "dirs", "errors",
                          "bytes_read", "total_bytes", "data_added", "packed_added", "duration_s"})
        EXPECT_TRUE(j1["summary"].contains(k)) << k;
    EXPECT_EQ(j1["summary"]["files_new"], 2);
    EXPECT_EQ(j1["summary"]["total_bytes"], 5 + 9);
    EXPECT_EQ(j1["summary"]["errors"], 0);
    EXPECT_GT(j1["summary"]["packed_added"].get<uint64_t>(), 0u);

    RunResult b2 = coffer({"backup", "--tag", "weekly", src});
    ASSERT_EQ(b2.exit_code, 0) << b2.describe();
    EXPECT_NE(b2.out.find("Files:"), std::string::npos) << b2.out;
    EXPECT_TRUE(std::regex_search(b2.out, m, std::regex("snapshot ([0-9a-f]{8}) saved"))) << b2.out;

    RunResult snaps = coffer({"snapshots", "--json"});
    ASSERT_EQ(snaps.exit_code, 0) << snaps.describe();
    nlohmann::json list = snaps.json();
    ASSERT_TRUE(list.is_array()) << snaps.describe();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0]["id"], j1["snapshot_id"]);
    EXPECT_EQ(list[1]["short_id"], m[1].str());
    EXPECT_EQ(list[1]["id"].get<std::string>().substr(0, 8), m[1].str());
    EXPECT_EQ(list[0]["tags"], nlohmann::json::array({"daily", "with space"}));
    EXPECT_EQ(list[1]["tags"], nlohmann::json::array({"weekly"}));
    for (const auto& s : list) {
        EXPECT_TRUE(is_hex_id(s["id"])) << s.dump();
        EXPECT_EQ(s["paths"], nlohmann::json::array({src}));
        EXPECT_EQ(s["incomplete"], false);
        EXPECT_TRUE(std::regex_match(s["time"].get<std::string>(),
                                     std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")))
            << s.dump();
    }
    EXPECT_EQ(list[0]["sequence"], 1);
    EXPECT_EQ(list[1]["sequence"], 2);

    RunResult text = coffer({"snapshots"});
    ASSERT_EQ(text.exit_code, 0) << text.describe();
    EXPECT_NE(text.out.find(m[1].str()), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("2 snapshots"), std::string::npos) << text.out;

    // ls: excluded entries are absent, everything else is there.
    RunResult ls = coffer({"ls", j1["snapshot_id"], "--json"});
    ASSERT_EQ(ls.exit_code, 0) << ls.describe();
    nlohmann::json entries = ls.json();
    ASSERT_TRUE(entries.is_array()) << ls.describe();
    std::map<std::string, nlohmann::json> by_path;
    for (const auto& e : entries) by_path[e["path"]] = e;
    for (const auto& [p, e] : by_path) {
        EXPECT_FALSE(p.size() >= 4 && p.substr(p.size() - 4) == ".tmp") << p;
        EXPECT_EQ(p.find("skipdir"), std::string::npos) << p;
    }
    ASSERT_TRUE(by_path.count(src + "/keep.txt")) << ls.out;
    EXPECT_EQ(by_path[src + "/keep.txt"]["type"], "file");
    EXPECT_EQ(by_path[src + "/keep.txt"]["size"], 5);
    EXPECT_EQ(by_path[src + "/keep.txt"]["mode"], 0644);
    ASSERT_TRUE(by_path.count(src + "/sub/keep2.txt")) << ls.out;
    ASSERT_TRUE(by_path.count(src + "/sub")) << ls.out;
    EXPECT_EQ(by_path[src + "/sub"]["type"], "dir");

    // ls below a path, and a path that is not there.
    RunResult sub = coffer({"ls", j1["snapshot_id"], src + "/sub", "--json"});
    ASSERT_EQ(sub.exit_code, 0) << sub.describe();
    nlohmann::json sub_entries = sub.json();
    ASSERT_TRUE(sub_entries.is_array()) << sub.describe();
    std::set<std::string> sub_paths;
    for (const auto& e : sub_entries) sub_paths.insert(e["path"].get<std::string>());
    EXPECT_EQ(sub_paths, (std::set<std::string>{src + "/sub", src + "/sub/keep2.txt"}));
    RunResult missing = coffer({"ls", "latest", src + "/no such file"});
    EXPECT_EQ(missing.exit_code, 4) << missing.describe();
    EXPECT_TRUE(missing.one_line_error()) << missing.describe();

    // A relative backup path is recorded as an absolute one.
    RunOptions in_t = env;
    in_t.cwd = t.path();
    RunResult rel = run_process(coffer_bin(), {"backup", "--json", "src/sub/"}, in_t);
    ASSERT_EQ(rel.exit_code, 0) << rel.describe();
    EXPECT_EQ(rel.json()["paths"], nlohmann::json::array({src + "/sub"})) << rel.out;

    // init --json reports the ids and the recovery key.
    Repo r2(t.path(), "json repo");
    RunResult init2 =
        run_process(coffer_bin(), {"--repo", r2.repo, "--host-key", r2.host_key, "--json", "init"},
                    {r2.base_env()});
    ASSERT_EQ(init2.exit_code, 0) << init2.describe();
    nlohmann::json ij = init2.json();
    ASSERT_TRUE(ij.is_object()) << init2.describe();
    EXPECT_TRUE(is_hex_id(ij["repository_id"])) << ij.dump();
    EXPECT_TRUE(std::regex_match(ij["recovery_key"].get<std::string>(),
                                 std::regex("crk1(-[0-9a-f]{8}){9}")))
        << ij.dump();
}

TEST(Output, ProgressOnlyOnATerminal) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string src = t / "src";
    make_dir(src);
    write_file(src + "/big.bin", prng_bytes(4 << 20, 5));
    RunOptions tty;
    tty.stderr_tty = true;
    RunResult b = r.run({"backup", src}, Keys::host, tty);
    ASSERT_EQ(b.exit_code, 0) << b.describe();
    EXPECT_TRUE(b.err.find("\033[K") != std::string::npos &&
                b.err.find(" files, ") != std::string::npos)
        << "no progress line on a terminal: " << printable(b.err);
    EXPECT_NE(b.out.find("snapshot "), std::string::npos) << b.out;
    for (const char* flag : {"--quiet", "--json"}) {
        RunResult q = r.run({"backup", flag, src}, Keys::host, tty);
        ASSERT_EQ(q.exit_code, 0) << q.describe();
        EXPECT_EQ(q.err.find("\033["), std::string::npos) << flag << ": " << printable(q.err);
        if (std::string(flag) == "--quiet") {
            EXPECT_EQ(q.out, "");
        }
    }
    RunResult res = r.run({"restore", "latest", "--target", t / "target"}, Keys::both, tty);
    ASSERT_EQ(res.exit_code, 0) << res.describe();
    EXPECT_NE(res.out.find("restored snapshot"), std::string::npos) << res.out;
}

}  // namespace
}  // namespace coffer::e2e
