// POSIX faults under the real binary: system calls made to fail through libfiu's fiu-run (EIO,
// ENOSPC, random errors from open, read, write, fsync), and a real full disk on a small tmpfs.
// Every run must end in success with a correct repository, or in a loud failure (non-zero exit)
// with a repository that still verifies; an fsync error is never taken for success.
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

const char* k_fiu_run = "/usr/bin/fiu-run";

std::string made(const std::string& path) {
    make_dir(path);
    return path;
}

class PosixFaults : public ::testing::Test {
protected:
    void SetUp() override {
#if defined(__SANITIZE_ADDRESS__)
        // fiu's preloaded wrappers and the ASan runtime do not mix: even `coffer --version`
        // crashes under fiu-run. The plain build's run covers these tests.
        GTEST_SKIP() << "fiu-run cannot run an AddressSanitizer build";
#endif
        if (::access(k_fiu_run, X_OK) != 0) {
            if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true")
                FAIL() << "fiu-run is missing: scripts/install-deps.sh installs fiu-utils";
            GTEST_SKIP() << "fiu-run is not installed (apt-get install fiu-utils)";
        }
        ASSERT_NO_FATAL_FAILURE(base.init());
        data = dir / "data";
        make_dir(data);
        write_file(data + "/big.bin", prng_bytes(2 << 20, 5));
        for (int i = 0; i < 30; ++i)
            write_file(data + "/f" + std::to_string(i), prng_bytes(900, i));
        base.backup({data});
        write_file(data + "/f3", "changed\n");
        write_file(data + "/new.bin", prng_bytes(400000, 6));
        tree = scan_tree(data);
    }

    // coffer ARGS on repository r under fiu-run with the given failure points.
    RunResult under_fiu(const Repo& r, const std::string& points,
                        const std::vector<std::string>& args, Keys keys = Keys::host) const {
        std::vector<std::string> all = {"-x"};
        for (size_t pos = 0; pos < points.size();) {
            size_t end = points.find(';', pos);
            if (end == std::string::npos) end = points.size();
            all.insert(all.end(), {"-c", points.substr(pos, end - pos)});
            pos = end + 1;
        }
        all.push_back(coffer_bin());
        all.insert(all.end(), {"--repo", r.repo, "--host-key", r.host_key});
        if (keys == Keys::both) all.insert(all.end(), {"--recovery-key-file", r.recovery_key});
        all.insert(all.end(), args.begin(), args.end());
        RunOptions o;
        o.env = r.base_env();
        return run_process(k_fiu_run, all, o);
    }

    // Empty when r verifies and, after a backup that exited 0, its new snapshot restores to the
    // tree. (Exit 3 is a snapshot that says it is incomplete: a file could not be read.)
    std::string sound(const Repo& r, bool new_snapshot_expected) const {
        RunResult v = r.run({"verify", "--read-data"}, Keys::both);
        if (v.exit_code != 0) return "verify --read-data: " + v.describe();
        RunResult s = r.run({"snapshots", "--json"});
        if (s.exit_code != 0) return "snapshots: " + s.describe();
        const nlohmann::json list = s.json();
        if (new_snapshot_expected && list.size() != 2)
            return "exit 0 but " + std::to_string(list.size()) + " snapshots";
        if (!new_snapshot_expected) return "";
        std::string id = list.back()["id"];
        std::string target = r.base + "/restored";
        RunResult res = r.run({"restore", id, "--target", target}, Keys::both);
        if (res.exit_code != 0) return "restore: " + res.describe();
        std::string diff = diff_manifests(tree, scan_tree(restored(target, data)));
        force_remove_all(target);
        return diff.empty() ? "" : "the new snapshot restores wrong:\n" + diff;
    }

    TempDir dir;
    Repo base{made(dir / "base")};
    std::string data;
    Manifest tree;
};

// A failing fsync or fdatasync of any file fails the backup: durability is never assumed.
TEST_F(PosixFaults, AFailingFsyncFailsTheBackup) {
    for (const char* point : {"posix/io/sync/fsync", "posix/io/sync/fdatasync"}) {
        SCOPED_TRACE(point);
        std::string copy = dir / "copy";
        force_remove_all(copy);
        copy_tree(base.base, copy);
        Repo r(copy);
        RunResult b =
            under_fiu(r, std::string("enable name=") + point + ",failinfo=5", {"backup", data});
        if (std::string(point) == "posix/io/sync/fsync") {
            EXPECT_NE(b.exit_code, 0) << b.describe();
            EXPECT_TRUE(contains(b.err, "Input/output error")) << b.describe();
        }
        EXPECT_EQ(sound(r, b.exit_code == 0), "");
    }
}

// readdir() failing everywhere: the repository's own listings fail first, and the backup fails
// loudly without a snapshot. (A source directory's listing cut short by an error now makes the
// snapshot incomplete, exit 3, instead of silently lacking files with exit 0: the random test
// below found that bug, and fiu cannot aim at the source directory alone.)
TEST_F(PosixFaults, AFailingReaddirFailsLoudly) {
    std::string copy = dir / "copy";
    copy_tree(base.base, copy);
    Repo r(copy);
    RunResult b = under_fiu(r, "enable name=posix/io/dir/readdir,failinfo=5", {"backup", data});
    EXPECT_NE(b.exit_code, 0) << b.describe();
    EXPECT_TRUE(contains(b.err, "Input/output error")) << b.describe();
    EXPECT_EQ(sound(r, false), "");
}

// Random failures of open, read, write and fsync: whatever the run's exit code, the
// repository verifies; exit 0 means the snapshot is whole; a clean rerun succeeds.
TEST_F(PosixFaults, RandomSystemCallFailuresNeverEndInSuccessWithDamage) {
    const char* sets[] = {
        "enable_random name=posix/io/rw/*,probability=0.02,failinfo=28",  // ENOSPC on writes
        "enable_random name=posix/io/rw/*,probability=0.02,failinfo=5",   // EIO on I/O
        "enable_random name=posix/io/sync/*,probability=0.2,failinfo=5",  // EIO on fsync
        "enable_random name=posix/io/oc/open,probability=0.03",           // open fails
        "enable_random name=posix/io/*,probability=0.01",                 // anything
    };
    int trials = 0, failed_loudly = 0, succeeded = 0;
    for (int round = 0; round < 6; ++round)
        for (const char* points : sets) {
            SCOPED_TRACE(std::string(points) + " round " + std::to_string(round));
            std::string copy = dir / "copy";
            force_remove_all(copy);
            copy_tree(base.base, copy);
            Repo r(copy);
            RunResult b = under_fiu(r, points, {"backup", data});
            trials++;
            (b.exit_code == 0 ? succeeded : failed_loudly)++;
            EXPECT_NE(b.exit_code, 139) << "crashed: " << b.describe();
            EXPECT_EQ(sound(r, b.exit_code == 0), "") << b.describe();
            RunResult again = r.run({"backup", data});
            EXPECT_EQ(again.exit_code, 0) << "the rerun fails: " << again.describe();
        }
    std::printf("posix faults: %d trials, %d succeeded, %d failed loudly\n", trials, succeeded,
                failed_loudly);
    EXPECT_GT(failed_loudly, 0) << "no fault was ever injected";
}

// A real full disk: the repository on a 1 MiB tmpfs, a backup of more than that. The backup
// fails naming the cause, leaves no temporary file, and the repository still verifies; with
// room again the same backup succeeds.
TEST_F(PosixFaults, AFullDiskFailsLoudlyAndLeavesARepositoryThatVerifies) {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
    std::string mnt = dir / "small";
    make_dir(mnt);
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0)
        GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    struct Unmount {
        std::string at;
        ~Unmount() { ::umount2(at.c_str(), MNT_DETACH); }
    } unmount{mnt};
    // A fresh repository on the small disk; its keys and the host's cache stay on the big one.
    Repo r(made(dir / "small-host"));
    r.repo = mnt + "/repo";
    ASSERT_NO_FATAL_FAILURE(r.init());
    RunResult full = r.run({"backup", data});
    EXPECT_NE(full.exit_code, 0) << full.describe();
    EXPECT_TRUE(full.one_line_error()) << full.describe();
    EXPECT_TRUE(contains(full.err, "No space left on device")) << full.describe();
    for (const auto& f : list_files(r.repo))
        EXPECT_FALSE(contains(f, ".tmp-")) << "a temporary file was left: " << f;
    RunResult v = r.run({"verify", "--read-data"}, Keys::both);
    EXPECT_EQ(v.exit_code, 0) << v.describe();
    RunResult snaps = r.run({"snapshots", "--json"});
    EXPECT_EQ(snaps.json().size(), 0u);

    ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0)
        << std::strerror(errno);
    RunResult roomy = r.run({"backup", data});
    EXPECT_EQ(roomy.exit_code, 0) << roomy.describe();
    RunResult v2 = r.run({"verify", "--read-data"}, Keys::both);
    EXPECT_EQ(v2.exit_code, 0) << v2.describe();
}

}  // namespace
}  // namespace coffer::e2e
