// End-to-end: coffer export writes one snapshot as a single backup file that verify --file and
// restore --file read on a host that has never seen the repository (no host key, no cache, the
// repository deleted): it restores byte-identical with the recovery key or two shares, and a
// flipped byte anywhere in it, a truncated file or a wrong key is refused in one line with
// nothing written to the target.
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <filesystem>
#include <fstream>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

class Export : public ::testing::Test {
protected:
    void SetUp() override {
        repo.init();
        make_dir(data);
        make_dir(data + "/conf");
        write_file(data + "/conf/app.env", "DB_PASSWORD=hunter2\n", 0600);
        write_file(data + "/big.bin", prng_bytes(3 << 20, 21));
        write_file(data + "/small.txt", "hello\n");
    }
    // A host with nothing of this repository: its own HOME and cache, no host key.
    RunResult fresh_host(std::vector<std::string> args, bool recovery = true) const {
        std::vector<std::string> full;
        if (recovery) full = {"--recovery-key-file", recovery_copy};
        full.insert(full.end(), args.begin(), args.end());
        return run_process(coffer_bin(), full,
                           {{{"HOME", fresh.path()}, {"COFFER_CACHE_DIR", fresh / "cache"}}});
    }

    TempDir dir, fresh;
    Repo repo{dir.path()};
    std::string data = dir / "data";
    std::string file = dir / "vault/db1.coffer";
    std::string recovery_copy = fresh / "recovery.key";
};

TEST_F(Export, ABackupFileRestoresByteIdenticalOnAHostThatNeverSawTheRepository) {
    std::string first = repo.backup({data})["snapshot_id"];
    write_file(data + "/small.txt", "changed\n");
    write_file(data + "/other.bin", prng_bytes(2 << 20, 22));
    std::string second = repo.backup({data})["snapshot_id"];
    const Manifest want = scan_tree(data);
    make_dir(dir / "vault");

    RunResult ex = repo.run({"--json", "export", second, file});
    ASSERT_EQ(ex.exit_code, 0) << ex.describe();
    auto j = nlohmann::json::parse(ex.out);
    EXPECT_EQ(j["snapshot_id"], second);
    // Only this snapshot's chunks: the first snapshot's old small.txt is not in it, and the
    // file is about the size of the data (3 + 2 MiB of random bytes), not of the repository.
    uint64_t size = std::filesystem::file_size(file);
    EXPECT_GT(size, uint64_t(5) << 20);
    EXPECT_LT(size, uint64_t(5) << 20 | 200000);
    EXPECT_FALSE(contains(read_file(file), "hunter2")) << "the file holds plaintext";
    RunResult again = repo.run({"export", second, file});
    EXPECT_EQ(again.exit_code, 7) << again.describe();
    EXPECT_TRUE(again.one_line_error()) << again.describe();

    // The repository and this host's state are gone; the file and the recovery key remain.
    std::filesystem::copy_file(repo.recovery_key, recovery_copy);
    force_remove_all(repo.repo);
    force_remove_all(repo.cache_dir);

    RunResult v = fresh_host({"verify", "--file", file}, /*recovery=*/false);
    EXPECT_EQ(v.exit_code, 0) << v.describe();
    RunResult vr = fresh_host({"verify", "--read-data", "--file", file});
    EXPECT_EQ(vr.exit_code, 0) << vr.describe();
    EXPECT_TRUE(contains(vr.out, "no problems found")) << vr.describe();
    RunResult ls = fresh_host({"ls", "latest", "--file", file});
    EXPECT_EQ(ls.exit_code, 0) << ls.describe();
    EXPECT_TRUE(contains(ls.out, "other.bin")) << ls.describe();

    std::string target = fresh / "restored";
    RunResult r = fresh_host({"restore", "--file", file, "--target", target});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(diff_manifests(want, scan_tree(restored(target, data))), "");
    // By id too; the first snapshot is not in the file.
    RunResult by_id =
        fresh_host({"restore", second.substr(0, 8), "--file", file, "--target", fresh / "by-id"});
    EXPECT_EQ(by_id.exit_code, 0) << by_id.describe();
    RunResult other = fresh_host({"restore", first, "--file", file, "--target", fresh / "x"});
    EXPECT_EQ(other.exit_code, 4) << other.describe();
    EXPECT_FALSE(exists(fresh / "x"));

    // Restoring needs the recovery key; without it nothing is written.
    RunResult no_key =
        fresh_host({"restore", "--file", file, "--target", fresh / "nokey"}, /*recovery=*/false);
    EXPECT_EQ(no_key.exit_code, 6) << no_key.describe();
    EXPECT_TRUE(no_key.one_line_error()) << no_key.describe();
    EXPECT_FALSE(exists(fresh / "nokey"));
}

TEST_F(Export, AFlippedByteATruncatedFileOrAnotherKeyIsRefused) {
    std::string id = repo.backup({data})["snapshot_id"];
    make_dir(dir / "vault");
    ASSERT_EQ(repo.run({"export", id, file}).exit_code, 0);
    std::filesystem::copy_file(repo.recovery_key, recovery_copy);
    const std::string good = read_file(file);

    // One byte at a time, across the file: header, config, keys, packs, index, manifest, end.
    for (size_t at : {size_t(5), size_t(80), size_t(400), good.size() / 3, good.size() / 2,
                      good.size() - 2000, good.size() - 40, good.size() - 1}) {
        std::string bad = good;
        bad[at] ^= 0x01;
        write_file(file, bad);
        RunResult v = fresh_host({"verify", "--file", file}, /*recovery=*/false);
        EXPECT_EQ(v.exit_code, 5) << "byte " << at << ": " << v.describe();
        EXPECT_TRUE(v.one_line_error()) << v.describe();
        RunResult r = fresh_host({"restore", "--file", file, "--target", fresh / "t"});
        EXPECT_NE(r.exit_code, 0) << "byte " << at << ": " << r.describe();
        EXPECT_TRUE(contains(r.err, "damaged")) << "byte " << at << ": " << r.describe();
        EXPECT_FALSE(exists(fresh / "t")) << "byte " << at;
    }
    // A forger who also recomputes the file's checksum still meets each object's own checks:
    // a pack whose bytes no longer match its name.
    {
        std::string bad = good;
        bad[good.size() / 2] ^= 0x01;
        unsigned char digest[SHA256_DIGEST_LENGTH];
        SHA256(reinterpret_cast<const unsigned char*>(bad.data()), bad.size() - 32, digest);
        bad.replace(bad.size() - 32, 32, reinterpret_cast<const char*>(digest), 32);
        write_file(file, bad);
        RunResult v = fresh_host({"verify", "--file", file}, /*recovery=*/false);
        EXPECT_EQ(v.exit_code, 5) << v.describe();
        EXPECT_TRUE(contains(v.out, "does not match its name")) << v.describe();
        RunResult r = fresh_host({"restore", "--file", file, "--target", fresh / "t"});
        EXPECT_NE(r.exit_code, 0) << r.describe();
        EXPECT_FALSE(exists(fresh / "t"));
    }
    write_file(file, good.substr(0, good.size() - 100));
    RunResult cut = fresh_host({"verify", "--file", file}, /*recovery=*/false);
    EXPECT_EQ(cut.exit_code, 5) << cut.describe();
    EXPECT_TRUE(contains(cut.err, "damaged or truncated")) << cut.describe();
    write_file(dir / "not-a-backup", "hello world, this is not a coffer backup file at all....\n");
    RunResult junk = fresh_host({"verify", "--file", dir / "not-a-backup"}, false);
    EXPECT_EQ(junk.exit_code, 2) << junk.describe();
    EXPECT_TRUE(contains(junk.err, "is not a coffer backup file")) << junk.describe();

    // Another repository's recovery key opens nothing.
    write_file(file, good);
    Repo other(dir.path(), "other");
    other.init();
    std::filesystem::remove(recovery_copy);
    std::filesystem::copy_file(other.recovery_key, recovery_copy);
    RunResult wrong = fresh_host({"restore", "--file", file, "--target", fresh / "w"});
    EXPECT_EQ(wrong.exit_code, 6) << wrong.describe();
    EXPECT_TRUE(wrong.one_line_error()) << wrong.describe();
    EXPECT_FALSE(exists(fresh / "w"));
}

}  // namespace
}  // namespace coffer::e2e
