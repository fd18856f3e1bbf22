// Staging directories: locked while their owner lives, swept once it died, never otherwise.
#include "coffer/util/staging.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace coffer {
namespace {

namespace fs = std::filesystem;

class StagingTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/coffer-staging-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
    }
    void TearDown() override { fs::remove_all(dir); }
    std::string dir;
};

TEST_F(StagingTest, ALiveOwnersDirectoryIsNeverSwept) {
    auto staging = StagingDir::create(dir, ".work-");
    ASSERT_TRUE(staging.ok()) << staging.status().to_string();
    EXPECT_EQ(fs::path(staging->path()).parent_path(), fs::path(dir));
    EXPECT_EQ(fs::status(staging->path()).permissions() & fs::perms::all, fs::perms::owner_all);
    std::ofstream(staging->path() + "/file") << "in progress";
    auto swept = sweep_staging(dir, ".work-");
    ASSERT_TRUE(swept.ok());
    EXPECT_EQ(*swept, 0);
    EXPECT_TRUE(fs::exists(staging->path() + "/file"));
    staging->release();  // as a killed owner would
    swept = sweep_staging(dir, ".work-");
    ASSERT_TRUE(swept.ok());
    EXPECT_EQ(*swept, 1);
    EXPECT_FALSE(fs::exists(staging->path()));
}

TEST_F(StagingTest, AKilledProcesssDirectoryIsSwept) {
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        auto staging = StagingDir::create(dir, ".work-");
        if (!staging.ok()) _exit(1);
        std::ofstream(staging->path() + "/half") << "half written";
        (void)!write(pipefd[1], "x", 1);
        pause();  // killed here, holding the lock
        _exit(0);
    }
    char c;
    ASSERT_EQ(read(pipefd[0], &c, 1), 1);
    auto swept = sweep_staging(dir, ".work-");
    ASSERT_TRUE(swept.ok());
    EXPECT_EQ(*swept, 0) << "the owner is still alive";
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    swept = sweep_staging(dir, ".work-");
    ASSERT_TRUE(swept.ok());
    EXPECT_EQ(*swept, 1);
    EXPECT_TRUE(fs::is_empty(dir));
    close(pipefd[0]);
    close(pipefd[1]);
}

TEST_F(StagingTest, OnlyDirectoriesWithThePrefixAreSwept) {
    fs::create_directories(dir + "/.work-old");
    fs::create_directories(dir + "/other");
    fs::create_directories(dir + "/elsewhere/keep");
    std::ofstream(dir + "/.work-file") << "a file, not a directory of ours";
    fs::create_directory_symlink(dir + "/elsewhere", dir + "/.work-link");
    auto swept = sweep_staging(dir, ".work-");
    ASSERT_TRUE(swept.ok());
    EXPECT_EQ(*swept, 1);
    EXPECT_FALSE(fs::exists(dir + "/.work-old"));
    EXPECT_TRUE(fs::exists(dir + "/other"));
    EXPECT_TRUE(fs::exists(dir + "/.work-file"));
    EXPECT_TRUE(fs::is_symlink(dir + "/.work-link"));
    EXPECT_TRUE(fs::exists(dir + "/elsewhere/keep")) << "a symlink was followed";
    // The prefix alone is not a staging directory's name.
    fs::create_directories(dir + "/.work-");
    EXPECT_EQ(*sweep_staging(dir, ".work-"), 0);
    EXPECT_EQ(*sweep_staging(dir + "/missing", ".work-"), 0);
}

// A killed restore run as an ordinary user can leave read-only directories in its staging
// (restored as they were backed up); the sweep still removes them. Run as that user: root
// ignores permissions.
TEST_F(StagingTest, ReadOnlyDirectoriesInsideAreSweptToo) {
    ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0) << "needs root to become nobody";
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
        auto staging = StagingDir::create(dir, ".work-");
        if (!staging.ok()) _exit(11);
        std::error_code ec;
        fs::create_directories(staging->path() + "/ro/deeper", ec);
        std::ofstream(staging->path() + "/ro/deeper/file") << "x";
        ::chmod((staging->path() + "/ro/deeper").c_str(), 0555);
        ::chmod((staging->path() + "/ro").c_str(), 0555);
        staging->release();  // its owner was killed
        auto swept = sweep_staging(dir, ".work-");
        if (!swept.ok()) _exit(12);
        _exit(*swept == 1 && fs::is_empty(dir) ? 0 : 13);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setuid, 11: create, 12: sweep, 13: left behind";
}

TEST_F(StagingTest, RemoveDeletesTheTreeAndAFailedCreateNamesTheParent) {
    auto staging = StagingDir::create(dir, ".work-");
    ASSERT_TRUE(staging.ok());
    fs::create_directories(staging->path() + "/a/b");
    std::string path = staging->path();
    staging->remove();
    EXPECT_FALSE(fs::exists(path));
    auto bad = StagingDir::create(dir + "/missing", ".work-");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find(dir + "/missing"), std::string::npos);
}

}  // namespace
}  // namespace coffer
