// End-to-end: the write-only host property and tamper detection.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

TEST(WriteOnlyHost, HostKeyCannotReadAndRepositoryHoldsNoNamesOrContent) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string marker = random_hex(32);  // 64 hex digits
    const std::string secret_file = "supersecret-filename-7f3a";
    const std::string secret_dir = "supersecret-dirname-b9e1";
    const std::string src = t / "src";
    make_dir(src);
    make_dir(src + "/" + secret_dir);
    write_file(src + "/" + secret_dir + "/" + secret_file,
               "the marker is " + marker + " and that is all\n");
    write_file(src + "/plain marker copy", marker);
    write_file(src + "/filler.bin", prng_bytes(300 << 10, 3));
    r.backup({src});

    // The host key lists snapshots and checks structure...
    RunResult snaps = r.run({"snapshots"});
    EXPECT_EQ(snaps.exit_code, 0) << snaps.describe();
    RunResult verify = r.run({"verify"});
    EXPECT_EQ(verify.exit_code, 0) << verify.describe();
    // ...but reads nothing.
    RunResult ls = r.run({"ls", "latest"});
    EXPECT_EQ(ls.exit_code, 6) << ls.describe();
    EXPECT_TRUE(ls.one_line_error()) << ls.describe();
    EXPECT_TRUE(contains(ls.err, "recovery key")) << ls.describe();
    EXPECT_FALSE(contains(ls.out, secret_file));
    const std::string target = t / "X";
    RunResult restore = r.run({"restore", "latest", "--target", target});
    EXPECT_EQ(restore.exit_code, 6) << restore.describe();
    EXPECT_TRUE(restore.one_line_error()) << restore.describe();
    EXPECT_TRUE(contains(restore.err, "recovery key")) << restore.describe();
    EXPECT_FALSE(exists(target));
    for (const char* flag : {"--read-data", "--read-data-subset=50%"}) {
        RunResult rd = r.run({"verify", flag});
        EXPECT_EQ(rd.exit_code, 6) << flag << ": " << rd.describe();
        EXPECT_TRUE(rd.one_line_error()) << rd.describe();
        EXPECT_TRUE(contains(rd.err, "recovery key")) << rd.describe();
    }
    // An existing, empty target stays empty.
    make_dir(target);
    EXPECT_EQ(r.run({"restore", "latest", "--target", target}).exit_code, 6);
    EXPECT_EQ(count_entries(target), 0);

    // Control: with the recovery key the names are there.
    RunResult full = r.run({"ls", "latest"}, Keys::both);
    ASSERT_EQ(full.exit_code, 0) << full.describe();
    ASSERT_TRUE(contains(full.out, secret_file)) << full.out;

    // No repository file (nor the host's cache) holds a name below the backup path or content.
    const std::vector<std::string> needles = {marker, secret_file, secret_dir,
                                              marker.substr(0, 32)};
    size_t scanned = 0;
    for (const std::string& root : {r.repo, r.cache_dir}) {
        for (const auto& rel : list_files(root)) {
            std::string bytes = read_file(root + "/" + rel);
            ++scanned;
            for (const auto& n : needles)
                EXPECT_FALSE(contains(bytes, n)) << "'" << n << "' found in " << root << "/" << rel;
        }
    }
    EXPECT_GE(scanned, 5u);  // config, keys, a pack, an index, a snapshot
}

// ---- tamper detection ------------------------------------------------------------------------

std::string sha256_hex(const std::string& data) {
    unsigned char md[32];
    unsigned int len = 0;
    EXPECT_EQ(EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr), 1);
    std::string out;
    char buf[3];
    for (unsigned i = 0; i < len; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", md[i]);
        out += buf;
    }
    return out;
}

std::string base_name(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
}

void flip_byte(const std::string& path, off_t offset) {
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    ASSERT_LT(offset, st.st_size) << path;
    ::chmod(path.c_str(), 0600);
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0) << path;
    unsigned char c = 0;
    ASSERT_EQ(::pread(fd, &c, 1, offset), 1);
    c ^= 0x01;
    ASSERT_EQ(::pwrite(fd, &c, 1, offset), 1);
    ::close(fd);
    ::chmod(path.c_str(), st.st_mode & 07777);
}

off_t file_size(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// A pack's records lie between the 133-byte header and the trailer (its length is the last
// four bytes, little-endian). Returns the middle of the records.
off_t middle_of_records(const std::string& pack) {
    std::string bytes = read_file(pack);
    if (bytes.size() < 137) return off_t(bytes.size()) / 2;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + bytes.size() - 4);
    uint32_t trailer = p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t(p[3]) << 24);
    off_t end = off_t(bytes.size()) - 4 - trailer;
    return 133 + (end - 133) / 2;
}

class Tamper : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(repo.init());
        make_dir(src);
        write_file(src + "/big.bin", prng_bytes(3 << 20, 11));
        for (int i = 0; i < 20; ++i)
            write_file(src + "/small" + std::to_string(i), "small file " + std::to_string(i));
        first_id = repo.backup({src})["snapshot_id"];
        write_file(src + "/second.bin", prng_bytes(1 << 20, 12));
        second_id = repo.backup({src})["snapshot_id"];
        for (const auto& rel : list_files(repo.repo)) {
            std::string full = repo.repo + "/" + rel;
            if (rel.rfind("packs/", 0) == 0) packs.push_back(full);
            if (rel.rfind("index/", 0) == 0) indexes.push_back(full);
            if (rel.rfind("snapshots/", 0) == 0) snapshots.push_back(full);
        }
        ASSERT_GE(packs.size(), 2u);
        ASSERT_GE(indexes.size(), 2u);
        ASSERT_EQ(snapshots.size(), 2u);
        std::sort(packs.begin(), packs.end(), [](const std::string& a, const std::string& b) {
            return file_size(a) > file_size(b);
        });
        RunResult clean = repo.run({"verify", "--read-data"}, Keys::both);
        ASSERT_EQ(clean.exit_code, 0) << clean.describe();
    }

    // A copy of the repository (same keys and host cache), and the copy of object.
    Repo copy_with(const std::string& object, std::string& copied_object) {
        Repo c = repo;
        c.repo = dir / ("copy " + std::to_string(++copies));
        copy_tree(repo.repo, c.repo);
        copied_object = c.repo + object.substr(repo.repo.size());
        return c;
    }

    TempDir dir;
    Repo repo{dir.path()};
    std::string src = dir / "src";
    std::string first_id, second_id;
    std::vector<std::string> packs, indexes, snapshots;
    int copies = 0;
};

TEST_F(Tamper, FlippedByteInEachObjectTypeIsNamedByVerify) {
    std::string latest_snapshot = repo.repo + "/snapshots/" + second_id;
    for (const std::string& object : {packs[0], packs.back(), indexes[0], latest_snapshot,
                                      repo.repo + "/snapshots/" + first_id}) {
        SCOPED_TRACE(object.substr(repo.repo.size()));
        std::string target;
        Repo c = copy_with(object, target);
        ASSERT_NO_FATAL_FAILURE(flip_byte(target, file_size(target) / 2));
        std::string hex = base_name(object);
        RunResult v = c.run({"verify"});
        EXPECT_EQ(v.exit_code, 5) << v.describe();
        EXPECT_TRUE(contains(v.out + v.err, hex.substr(0, 8))) << v.describe();
        RunResult j = c.run({"verify", "--json"});
        EXPECT_EQ(j.exit_code, 5) << j.describe();
        nlohmann::json report = j.json();
        ASSERT_TRUE(report.is_object()) << j.describe();
        EXPECT_EQ(report["ok"], false);
        EXPECT_TRUE(contains(report["problems"].dump(), hex.substr(0, 8))) << j.describe();
    }
}

TEST_F(Tamper, DeletedObjectsAreNamedByVerify) {
    struct Case {
        std::string object;
        std::vector<std::string> acceptable;  // ids any of which the output must name
    };
    std::vector<Case> cases = {{packs[0], {base_name(packs[0])}},
                               {repo.repo + "/snapshots/" + second_id, {second_id}}};
    Case index_case{indexes[0], {base_name(indexes[0]), first_id, second_id}};
    for (const auto& p : packs) index_case.acceptable.push_back(base_name(p));
    cases.push_back(index_case);
    for (const auto& c : cases) {
        SCOPED_TRACE(c.object.substr(repo.repo.size()));
        std::string target;
        Repo copy = copy_with(c.object, target);
        ASSERT_EQ(::unlink(target.c_str()), 0);
        RunResult v = copy.run({"verify"});
        EXPECT_NE(v.exit_code, 0) << v.describe();
        EXPECT_EQ(v.exit_code, 5) << v.describe();
        bool named = std::any_of(c.acceptable.begin(), c.acceptable.end(), [&](const auto& id) {
            return contains(v.out + v.err, id.substr(0, 8));
        });
        EXPECT_TRUE(named) << v.describe();
    }
}

TEST_F(Tamper, RestoreFromADamagedPackFailsAndWritesNoBadFile) {
    std::string target_pack;
    Repo c = copy_with(packs[0], target_pack);
    ASSERT_NO_FATAL_FAILURE(flip_byte(target_pack, middle_of_records(target_pack)));
    const std::string target = dir / "restored";
    RunResult res = c.run({"restore", "latest", "--target", target}, Keys::both);
    EXPECT_NE(res.exit_code, 0) << res.describe();
    EXPECT_TRUE(contains(res.err, base_name(packs[0]).substr(0, 8))) << res.describe();
    // Whatever was written is intact: a damaged file is never left looking restored.
    std::string root = restored(target, src);
    for (const auto& rel : list_files(root))
        EXPECT_EQ(read_file(root + "/" + rel), read_file(src + "/" + rel)) << rel;
    EXPECT_LT(list_files(root).size(), list_files(src).size()) << "a damaged file was restored";
    RunResult rd = c.run({"verify", "--read-data"}, Keys::both);
    EXPECT_EQ(rd.exit_code, 5) << rd.describe();
}

TEST_F(Tamper, RenamedTamperedSnapshotFailsItsSignature) {
    std::string target;
    Repo c = copy_with(repo.repo + "/snapshots/" + second_id, target);
    // Flip a ciphertext byte, then give the object its new content hash as a name.
    ASSERT_NO_FATAL_FAILURE(flip_byte(target, 60));
    std::string forged_hex = sha256_hex(read_file(target));
    std::string forged = c.repo + "/snapshots/" + forged_hex;
    ASSERT_EQ(::rename(target.c_str(), forged.c_str()), 0);
    RunResult v = c.run({"verify"});
    EXPECT_EQ(v.exit_code, 5) << v.describe();
    EXPECT_TRUE(contains(v.out, forged_hex.substr(0, 8))) << v.describe();
    RunResult list = c.run({"snapshots"});
    EXPECT_NE(list.exit_code, 0) << list.describe();
    EXPECT_TRUE(list.one_line_error()) << list.describe();
}

TEST_F(Tamper, SnapshotFromAnotherRepositoryIsRejected) {
    Repo other(dir.path(), "other");
    ASSERT_NO_FATAL_FAILURE(other.init());
    std::string foreign = other.backup({src})["snapshot_id"];
    std::string unused;
    Repo c = copy_with(repo.repo + "/snapshots/" + second_id, unused);
    copy_tree(other.repo + "/snapshots/" + foreign, c.repo + "/snapshots/" + foreign);
    RunResult v = c.run({"verify"});
    EXPECT_EQ(v.exit_code, 5) << v.describe();
    EXPECT_TRUE(contains(v.out, foreign.substr(0, 8))) << v.describe();
    // The foreign manifest is never mistaken for one of ours.
    RunResult list = c.run({"snapshots", "--json"});
    ASSERT_EQ(list.exit_code, 0) << list.describe();
    EXPECT_FALSE(contains(list.out, foreign)) << list.out;
}

TEST_F(Tamper, ConfigWithAnotherRecoveryKeyIsRefused) {
    Repo other(dir.path(), "other");
    ASSERT_NO_FATAL_FAILURE(other.init());
    std::string config;
    Repo c = copy_with(repo.repo + "/config", config);
    // A swapped config must not redirect new packs to someone else's recovery key.
    nlohmann::json j = nlohmann::json::parse(read_file(config));
    j["recovery_public_key"] =
        nlohmann::json::parse(read_file(other.repo + "/config"))["recovery_public_key"];
    ASSERT_EQ(::unlink(config.c_str()), 0);
    write_file(config, j.dump(2) + "\n", 0644);
    const auto before = data_file_sizes(c.repo);
    write_file(src + "/new.txt", "would go to the wrong key\n");
    RunResult b = c.run({"backup", src});
    EXPECT_EQ(b.exit_code, 5) << b.describe();
    EXPECT_TRUE(b.one_line_error()) << b.describe();
    EXPECT_TRUE(contains(b.err, "recovery public key")) << b.describe();
    EXPECT_EQ(data_file_sizes(c.repo), before);
    EXPECT_EQ(c.run({"verify"}).exit_code, 5);
}

TEST(RestoreSafety, OverwriteNeverFollowsSymlinksInTheTarget) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string src = t / "src";
    make_dir(src);
    write_file(src + "/f.txt", "file\n");
    make_dir(src + "/d");
    write_file(src + "/d/g.txt", "nested\n");
    r.backup({src});
    const std::string outside = t / "outside";
    make_dir(outside);

    // A symlink where the first directory of the restored path goes...
    const std::string target = t / "target";
    make_dir(target);
    const std::string first = src.substr(1, src.find('/', 1) - 1);
    ASSERT_EQ(::symlink(outside.c_str(), (target + "/" + first).c_str()), 0);
    RunResult res = r.run({"restore", "latest", "--target", target, "--overwrite"}, Keys::both);
    EXPECT_EQ(count_entries(outside), 0) << res.describe();
    EXPECT_EQ(res.exit_code, 0) << res.describe();

    // ...and symlinks in place of a restored directory and a restored file.
    const std::string out = restored(target, src);
    force_remove_all(out + "/d");
    ASSERT_EQ(::symlink(outside.c_str(), (out + "/d").c_str()), 0);
    ASSERT_EQ(::unlink((out + "/f.txt").c_str()), 0);
    ASSERT_EQ(::symlink((outside + "/f.txt").c_str(), (out + "/f.txt").c_str()), 0);
    res = r.run({"restore", "latest", "--target", target, "--overwrite"}, Keys::both);
    EXPECT_EQ(count_entries(outside), 0) << res.describe();
    EXPECT_EQ(res.exit_code, 0) << res.describe();
    EXPECT_EQ(diff_manifests(scan_tree(src), scan_tree(out)), "");
}

}  // namespace
}  // namespace coffer::e2e
