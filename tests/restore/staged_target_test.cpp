// All-or-nothing restores: a target appears complete or not at all, whatever kills the restore.
#include "coffer/restore/staged_target.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "coffer/util/staging.h"

namespace coffer::restore {
namespace {

namespace fs = std::filesystem;

std::set<std::string> names_in(const std::string& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
    return out;
}

bool has_prefix(const std::set<std::string>& names, const std::string& prefix) {
    for (const auto& n : names)
        if (n.rfind(prefix, 0) == 0) return true;
    return false;
}

// Writes a small tree into the staging directory, as the restorer would.
Result<Outcome> write_tree(const std::string& staging) {
    fs::create_directories(staging + "/etc/app");
    std::ofstream(staging + "/etc/app/config") << "restored\n";
    std::ofstream(staging + "/top") << "top\n";
    Outcome o;
    o.files = 2;
    return o;
}

class StagedTargetTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/coffer-staged-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
        target = dir + "/target";
    }
    void TearDown() override { fs::remove_all(dir); }

    void expect_restored() {
        std::ifstream in(target + "/etc/app/config");
        std::string line;
        std::getline(in, line);
        EXPECT_EQ(line, "restored");
        EXPECT_EQ(names_in(target), (std::set<std::string>{"etc", "top"}));
    }

    // Runs a restore in a child process that is SIGKILLed once half of the tree is written.
    void kill_part_way() {
        int pipefd[2];
        ASSERT_EQ(pipe(pipefd), 0);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            auto r = restore_staged(target, [&](const std::string& staging) -> Result<Outcome> {
                std::ofstream(staging + "/top") << "top\n";
                (void)!write(pipefd[1], "x", 1);
                pause();
                return Outcome{};
            });
            _exit(r.ok() ? 0 : 1);
        }
        char c;
        ASSERT_EQ(read(pipefd[0], &c, 1), 1);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFSIGNALED(status));
        close(pipefd[0]);
        close(pipefd[1]);
    }

    std::string dir, target;
};

TEST_F(StagedTargetTest, ANewTargetAppearsOnlyWhenComplete) {
    auto out = restore_staged(target, [&](const std::string& staging) {
        EXPECT_FALSE(fs::exists(target)) << "the target exists before the restore is done";
        EXPECT_EQ(fs::path(staging).parent_path(), fs::path(dir));
        return write_tree(staging);
    });
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(out->files, 2u);
    expect_restored();
    EXPECT_EQ(names_in(dir), std::set<std::string>{"target"});
}

TEST_F(StagedTargetTest, MissingParentsAreCreatedAndATrailingSlashIsTheSameTarget) {
    target = dir + "/a/b/target";
    auto out = restore_staged(target + "/", write_tree);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    expect_restored();
    EXPECT_EQ(names_in(dir + "/a/b"), std::set<std::string>{"target"});
}

TEST_F(StagedTargetTest, AFailedRestoreLeavesNothing) {
    for (bool existing : {false, true}) {
        if (existing) fs::create_directories(target);
        auto out = restore_staged(target, [&](const std::string& staging) -> Result<Outcome> {
            TRY(write_tree(staging).status());
            return corruption("tree abc is damaged");
        });
        EXPECT_EQ(out.status().code(), Code::corruption);
        if (existing)
            EXPECT_TRUE(fs::is_empty(target));
        else
            EXPECT_FALSE(fs::exists(target));
        EXPECT_EQ(names_in(dir),
                  existing ? std::set<std::string>{"target"} : std::set<std::string>{});
    }
}

TEST_F(StagedTargetTest, AnEmptyTargetIsSwappedForTheRestoredTreeAndKeepsItsMode) {
    fs::create_directories(target);
    ASSERT_EQ(::chmod(target.c_str(), 0751), 0);
    auto out = restore_staged(target, [&](const std::string& staging) {
        EXPECT_EQ(fs::path(staging).parent_path(), fs::path(dir)) << "staged beside the target";
        EXPECT_TRUE(fs::is_empty(target)) << "the target changed before the restore was done";
        return write_tree(staging);
    });
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    expect_restored();
    struct stat st {};
    ASSERT_EQ(::stat(target.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0751u);
    EXPECT_EQ(names_in(dir), std::set<std::string>{"target"}) << "the old directory is left";
}

// A target that is a mount point (a fresh volume) cannot trade places with a directory of its
// parent's filesystem: the tree is staged inside it and moves up.
TEST_F(StagedTargetTest, AMountPointIsFilledFromInside) {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
    fs::create_directories(target);
    if (::mount("tmpfs", target.c_str(), "tmpfs", 0, "size=4m") != 0)
        GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    struct Unmount {
        std::string at;
        ~Unmount() { ::umount2(at.c_str(), MNT_DETACH); }
    } unmount{target};
    auto out = restore_staged(target, [&](const std::string& staging) {
        EXPECT_EQ(fs::path(staging).parent_path(), fs::path(target)) << "staged inside";
        return write_tree(staging);
    });
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    expect_restored();
}

TEST_F(StagedTargetTest, ARestoreKilledPartWayLeavesNoTargetAndTheNextOneCleansUp) {
    ASSERT_NO_FATAL_FAILURE(kill_part_way());
    EXPECT_FALSE(fs::exists(target)) << "a killed restore left a target that looks restored";
    EXPECT_TRUE(has_prefix(names_in(dir), ".target.coffer-partial-"));
    auto out = restore_staged(target, write_tree);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    expect_restored();
    EXPECT_EQ(names_in(dir), std::set<std::string>{"target"});
}

TEST_F(StagedTargetTest, AnEmptyTargetKilledPartWayStaysEmptyUntilTheNextRestore) {
    fs::create_directories(target);
    ASSERT_NO_FATAL_FAILURE(kill_part_way());
    EXPECT_TRUE(fs::is_empty(target)) << "a killed restore left part of its tree in the target";
    EXPECT_TRUE(has_prefix(names_in(dir), ".target.coffer-partial-"));
    auto out = restore_staged(target, write_tree);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    expect_restored();
    EXPECT_EQ(names_in(dir), std::set<std::string>{"target"});
}

TEST_F(StagedTargetTest, ARunningRestoresStagingMakesTheTargetBusy) {
    fs::create_directories(target);
    auto running = StagingDir::create(target, ".coffer-partial-");
    ASSERT_TRUE(running.ok());
    auto out = restore_staged(target, write_tree);
    EXPECT_EQ(out.status().code(), Code::invalid_argument);
    EXPECT_NE(out.status().message().find("not empty"), std::string::npos);
    EXPECT_TRUE(fs::exists(running->path()));
}

TEST_F(StagedTargetTest, OneRestoreAtATimeIntoATarget) {
    fs::create_directories(target);
    int fd = ::open(target.c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX), 0);  // as a running restore holds it
    auto out = restore_staged(target, write_tree);
    EXPECT_EQ(out.status().code(), Code::lock_held) << out.status().to_string();
    EXPECT_TRUE(fs::is_empty(target));
    ::close(fd);
    out = restore_staged(target, write_tree);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    expect_restored();
}

TEST_F(StagedTargetTest, ASymlinkToNothingIsRefusedBeforeAnythingIsRestored) {
    fs::create_symlink(dir + "/nowhere", target);
    bool ran = false;
    auto out = restore_staged(target, [&](const std::string& s) {
        ran = true;
        return write_tree(s);
    });
    EXPECT_EQ(out.status().code(), Code::invalid_argument);
    EXPECT_NE(out.status().message().find("symlink to nothing"), std::string::npos);
    EXPECT_FALSE(ran);
    EXPECT_EQ(names_in(dir), std::set<std::string>{"target"});
}

TEST_F(StagedTargetTest, TargetsThatAreNotEmptyDirectoriesAreRefused) {
    fs::create_directories(target);
    std::ofstream(target + "/existing") << "keep me";
    auto out = restore_staged(target, write_tree);
    EXPECT_EQ(out.status().code(), Code::invalid_argument);
    EXPECT_EQ(names_in(target), std::set<std::string>{"existing"});
    std::string file = dir + "/file";
    std::ofstream(file) << "a file";
    out = restore_staged(file, write_tree);
    EXPECT_EQ(out.status().code(), Code::invalid_argument);
    EXPECT_NE(out.status().message().find("not a directory"), std::string::npos);
}

}  // namespace
}  // namespace coffer::restore
