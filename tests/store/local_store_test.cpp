// LocalStore specifics beyond the shared contract: on-disk layout, temp files, permissions.
#include "coffer/store/local/local_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/temp_dir.h"

namespace coffer::store {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::unique_ptr<LocalStore> open_store(const std::string& dir) {
    auto r = LocalStore::open(dir);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? std::move(r).value() : nullptr;
}

// Every file under dir whose name starts with ".tmp-", found without going through the store.
std::vector<std::string> temp_files(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (e.path().filename().string().starts_with(".tmp-")) out.push_back(e.path().string());
    }
    return out;
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream f(path, std::ios::binary);
    f << content;
    ASSERT_TRUE(f.good()) << path;
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

TEST(LocalStore, OpenMissingDirectoryIsNotFound) {
    TempDir tmp;
    auto r = LocalStore::open(tmp.path() + "/does-not-exist");
    EXPECT_EQ(r.status().code(), Code::not_found) << r.status().to_string();
    EXPECT_NE(r.status().message().find("does-not-exist"), std::string::npos);
}

TEST(LocalStore, OpenRegularFileFails) {
    TempDir tmp;
    write_file(tmp.path() + "/file", "x");
    auto r = LocalStore::open(tmp.path() + "/file");
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("file"), std::string::npos);
}

TEST(LocalStore, CreateMakesNestedDirectories) {
    TempDir tmp;
    const std::string root = tmp.path() + "/a/b/repo";
    auto r = LocalStore::create(root);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(fs::is_directory(root));
    EXPECT_EQ(mode_of(root) & 0077, 0u);
    EXPECT_EQ((*r)->location(), root);
    // create() on an existing directory just opens it.
    ASSERT_TRUE((*r)->put("config", as_bytes("c")).ok());
    auto again = LocalStore::create(root);
    ASSERT_TRUE(again.ok());
    auto got = (*again)->get("config");
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(as_chars(*got), "c");
}

TEST(LocalStore, TrailingSlashInRoot) {
    TempDir tmp;
    auto store = open_store(tmp.path() + "/");
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->location(), tmp.path());
    ASSERT_TRUE(store->put("packs/ab/x", as_bytes("1")).ok());
    auto listed = store->list("");
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].name, "packs/ab/x");
}

TEST(LocalStore, ObjectsLiveAtTheirNames) {
    TempDir tmp;
    auto store = open_store(tmp.path());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put("packs/ab/abcdef", as_bytes("payload")).ok());
    std::ifstream f(tmp.path() + "/packs/ab/abcdef", std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content, "payload");
    // A second store on the same directory sees it.
    auto other = open_store(tmp.path());
    ASSERT_NE(other, nullptr);
    auto got = other->get("packs/ab/abcdef");
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(as_chars(*got), "payload");
}

TEST(LocalStore, FilesAre0600AndDirectories0700) {
    TempDir tmp;
    auto store = open_store(tmp.path());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put("packs/ab/x", as_bytes("1")).ok());
    ASSERT_TRUE(store->put("keys/k", as_bytes("1"), PutMode::create_only).ok());
    ASSERT_TRUE(store->put("config", as_bytes("1")).ok());
    ASSERT_TRUE(store->put("config", as_bytes("2")).ok());
    EXPECT_EQ(mode_of(tmp.path() + "/packs/ab/x"), 0600u);
    EXPECT_EQ(mode_of(tmp.path() + "/keys/k"), 0600u);
    EXPECT_EQ(mode_of(tmp.path() + "/config"), 0600u);
    EXPECT_EQ(mode_of(tmp.path() + "/packs"), 0700u);
    EXPECT_EQ(mode_of(tmp.path() + "/packs/ab"), 0700u);
}

TEST(LocalStore, NoTempFilesLeftBehind) {
    TempDir tmp;
    auto store = open_store(tmp.path());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put("a", as_bytes("1")).ok());
    ASSERT_TRUE(store->put("a", as_bytes("2")).ok());
    ASSERT_TRUE(store->put("d/b", as_bytes("1"), PutMode::create_only).ok());
    EXPECT_EQ(store->put("d/b", as_bytes("2"), PutMode::create_only).code(), Code::already_exists);
    EXPECT_TRUE(temp_files(tmp.path()).empty());
}

TEST(LocalStore, TempFilesNeverVisibleInList) {
    TempDir tmp;
    auto store = open_store(tmp.path());
    ASSERT_NE(store, nullptr);
    std::atomic<bool> done{false};
    std::atomic<int> bad{0};
    std::thread lister([&] {
        while (!done.load()) {
            auto r = store->list("");
            if (!r.ok()) {
                ++bad;
                continue;
            }
            for (const auto& info : *r) {
                if (info.name.find(".tmp-") != std::string::npos) ++bad;
            }
        }
    });
    const std::string big(256 << 10, 'x');  // large enough that writes take a moment
    for (int i = 0; i < 200; ++i) {
        std::string name = "packs/" + std::to_string(i % 4) + "/obj" + std::to_string(i);
        ASSERT_TRUE(store->put(name, as_bytes(big)).ok());
    }
    done = true;
    lister.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_TRUE(temp_files(tmp.path()).empty());
}

TEST(LocalStore, StaleTempFilesAreIgnored) {
    TempDir tmp;
    auto store = open_store(tmp.path());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put("packs/ab/real", as_bytes("r")).ok());
    write_file(tmp.path() + "/.tmp-xyz", "half-written");
    write_file(tmp.path() + "/packs/ab/.tmp-xyz", "half-written");
    fs::create_directory(tmp.path() + "/packs/.tmp-dir");
    write_file(tmp.path() + "/packs/.tmp-dir/inside", "hidden");

    for (std::string_view prefix : {"", "packs/", "packs/ab/", ".tmp", "packs/ab/.tmp-"}) {
        auto r = store->list(prefix);
        ASSERT_TRUE(r.ok()) << prefix << ": " << r.status().to_string();
        for (const auto& info : *r) EXPECT_EQ(info.name, "packs/ab/real") << prefix;
    }
    // The reserved names cannot be used as object names either.
    EXPECT_EQ(store->put(".tmp-xyz", as_bytes("x")).code(), Code::invalid_argument);
    EXPECT_EQ(store->get("packs/ab/.tmp-xyz").status().code(), Code::invalid_argument);
}

TEST(LocalStore, DirectoriesAreNotObjects) {
    TempDir tmp;
    auto store = open_store(tmp.path());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put("packs/ab/x", as_bytes("1")).ok());
    EXPECT_EQ(store->get("packs").status().code(), Code::not_found);
    EXPECT_EQ(store->get_range("packs/ab", 0, 0).status().code(), Code::not_found);
    EXPECT_EQ(store->stat("packs").status().code(), Code::not_found);
    EXPECT_EQ(store->remove("packs/ab").code(), Code::not_found);
    EXPECT_TRUE(fs::is_directory(tmp.path() + "/packs/ab"));
}

TEST(LocalStore, UnreadableDirectoryFailsList) {
    if (::geteuid() == 0) GTEST_SKIP() << "root bypasses directory permissions";
    TempDir tmp;
    auto store = open_store(tmp.path());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put("packs/ab/x", as_bytes("1")).ok());
    ASSERT_TRUE(store->put("packs/cd/y", as_bytes("1")).ok());
    ASSERT_EQ(::chmod((tmp.path() + "/packs/cd").c_str(), 0), 0);
    auto r = store->list("packs/");
    EXPECT_FALSE(r.ok()) << "returned " << r->size() << " entries";
    if (!r.ok()) {
        EXPECT_NE(r.status().message().find("packs/cd"), std::string::npos);
    }
    ASSERT_EQ(::chmod((tmp.path() + "/packs/cd").c_str(), 0700), 0);
}

TEST(LocalStore, PutIntoReadOnlyDirectoryFailsCleanly) {
    if (::geteuid() == 0) GTEST_SKIP() << "root bypasses directory permissions";
    TempDir tmp;
    auto store = open_store(tmp.path());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->put("packs/ab/existing", as_bytes("1")).ok());
    ASSERT_EQ(::chmod((tmp.path() + "/packs/ab").c_str(), 0500), 0);
    ASSERT_EQ(::chmod(tmp.path().c_str(), 0500), 0);

    Status st = store->put("packs/ab/new", as_bytes("data"));
    EXPECT_EQ(st.code(), Code::permission) << st.to_string();
    EXPECT_NE(st.message().find("packs/ab/new"), std::string::npos) << st.message();
    st = store->put("config", as_bytes("data"), PutMode::create_only);
    EXPECT_EQ(st.code(), Code::permission) << st.to_string();
    EXPECT_NE(st.message().find("config"), std::string::npos) << st.message();
    // A missing directory cannot be created in a read-only parent either.
    st = store->put("index/new", as_bytes("data"));
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("index"), std::string::npos) << st.message();

    ASSERT_EQ(::chmod(tmp.path().c_str(), 0700), 0);
    ASSERT_EQ(::chmod((tmp.path() + "/packs/ab").c_str(), 0700), 0);
    EXPECT_TRUE(temp_files(tmp.path()).empty());
    EXPECT_EQ(store->get("packs/ab/new").status().code(), Code::not_found);
    EXPECT_EQ(store->get("config").status().code(), Code::not_found);
}

TEST(LocalStore, ListOfMissingStoreRootFails) {
    TempDir tmp;
    const std::string root = tmp.path() + "/repo";
    auto r = LocalStore::create(root);
    ASSERT_TRUE(r.ok());
    fs::remove(root);
    // The store itself vanished: that is an error, not an empty repository.
    EXPECT_FALSE((*r)->list("").ok());
    EXPECT_FALSE((*r)->list("packs/").ok());
    // And put() does not silently recreate it.
    EXPECT_FALSE((*r)->put("packs/ab/x", as_bytes("1")).ok());
    EXPECT_FALSE(fs::exists(root));
}

}  // namespace
}  // namespace coffer::store
