// Helpers shared by the backup, restore and verify tests: a generated source tree, a repository
// in a temporary directory, and a walk over a snapshot's trees.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/repository.h"
#include "coffer/repo/tree.h"
#include "coffer/store/fault/fault_store.h"
#include "coffer/store/local/local_store.h"
#include "store/temp_dir.h"

namespace coffer::testing {

namespace fs = std::filesystem;

class CryptoEnvironment : public ::testing::Environment {
public:
    void SetUp() override { ASSERT_TRUE(crypto::init().ok()); }
};

inline std::string random_content(size_t n, uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::string out(n, '\0');
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(gen() >> 56);
    return out;
}

inline void write_file(const std::string& path, const std::string& content) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << content;
    f.close();
    ASSERT_TRUE(f.good()) << path;
}

inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void set_mtime(const std::string& path, int64_t ns, bool follow = false) {
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = ns / 1000000000;
    ts[0].tv_nsec = ts[1].tv_nsec = ns % 1000000000;
    ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), ts, follow ? 0 : AT_SYMLINK_NOFOLLOW), 0) << path;
}

// A name with spaces, non-ASCII and a newline.
inline const std::string k_weird_name = "name with spaces \xc3\xbc\xe2\x82\xac\nnewline.txt";

// The source tree every test backs up (paths relative to its root):
//   a.txt, empty_file, empty_dir/, big.bin (3 MiB random), <k_weird_name>,
//   nested/note.tmp, nested/deeper/deep.txt, nested/deeper/cache/junk.bin,
//   link -> a.txt, nested/up -> ../a.txt
struct SourceTree {
    std::string root;
    std::vector<std::string> files;  // regular files, relative
    uint64_t total_bytes = 0;
};

inline SourceTree make_source_tree(const std::string& root) {
    SourceTree t;
    t.root = root;
    fs::create_directories(root + "/empty_dir");
    fs::create_directories(root + "/nested/deeper/cache");
    std::string deep;
    while (deep.size() < 20000) deep += "a deep line of compressible text\n";
    std::map<std::string, std::string> files = {
        {"a.txt", "hello, coffer\n"},
        {"empty_file", ""},
        {"big.bin", random_content(3 << 20, 42)},
        {k_weird_name, "weird\n"},
        {"nested/note.tmp", "scratch"},
        {"nested/deeper/deep.txt", deep},
        {"nested/deeper/cache/junk.bin", random_content(5000, 43)},
    };
    for (const auto& [rel, content] : files) {
        write_file(root + "/" + rel, content);
        t.files.push_back(rel);
        t.total_bytes += content.size();
    }
    fs::create_symlink("a.txt", root + "/link");
    fs::create_symlink("../a.txt", root + "/nested/up");
    // Files written within the current timestamp tick are "racy" and never cached (see
    // backup.cpp); real data sets are older than that, so let one tick pass.
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    return t;
}

// A LocalStore repository in a fresh temporary directory: <tmp>/repo. With faults, the
// repository works through a FaultStore over the LocalStore (rules added by the test).
struct TestRepo {
    store::testing::TempDir tmp;
    std::string dir;
    std::shared_ptr<store::Store> local;       // the directory itself
    std::shared_ptr<store::FaultStore> fault;  // set when created with faults
    std::shared_ptr<store::Store> store;       // what the repository writes through
    repo::HostKey host_key;
    repo::RecoveryKey recovery_key;
    std::unique_ptr<repo::Repository> repository;  // opened with both keys

    explicit TestRepo(bool with_faults = false) {
        dir = tmp.path() + "/repo";
        auto created = store::LocalStore::create(dir);
        EXPECT_TRUE(created.ok()) << created.status().to_string();
        local = std::shared_ptr<store::Store>(std::move(created).value());
        store = local;
        if (with_faults) store = fault = std::make_shared<store::FaultStore>(local);
        init(store);
    }

    void init(std::shared_ptr<store::Store> s) {
        repo::InitOptions o;
        o.host = "test-host";
        o.chunk_avg_size = 1 << 16;
        o.pack_size = 1 << 20;
        auto c = repo::Repository::init(std::move(s), o);
        EXPECT_TRUE(c.ok()) << c.status().to_string();
        if (!c.ok()) return;
        host_key = std::move(c->host_key);
        recovery_key = std::move(c->recovery_key);
        repository = std::move(c->repository);
    }

    // A fresh Repository on a fresh LocalStore over the same directory.
    std::unique_ptr<repo::Repository> reopen(bool with_host = true, bool with_recovery = true) {
        auto local = store::LocalStore::open(dir);
        EXPECT_TRUE(local.ok());
        auto r = repo::Repository::open(std::shared_ptr<store::Store>(std::move(local).value()),
                                        with_host ? &host_key : nullptr,
                                        with_recovery ? &recovery_key : nullptr);
        EXPECT_TRUE(r.ok()) << r.status().to_string();
        return r.ok() ? std::move(r).value() : nullptr;
    }

    std::vector<std::string> objects(std::string_view prefix) {
        auto l = local->list(prefix);
        EXPECT_TRUE(l.ok()) << l.status().to_string();
        std::vector<std::string> out;
        if (l.ok())
            for (const auto& o : *l) out.push_back(o.name);
        std::sort(out.begin(), out.end());
        return out;
    }
};

// Every node of a snapshot, by absolute snapshot path ("/tmp/x/a.txt").
inline Status walk_snapshot(repo::Repository& repo, const Id& tree, const std::string& prefix,
                            std::map<std::string, repo::Node>& out) {
    TRY_ASSIGN(Bytes bytes, repo.load_chunk(tree, repo::ChunkType::tree));
    TRY_ASSIGN(repo::Tree t, repo::decode_tree(bytes, tree.short_hex()));
    for (const auto& n : t.nodes) {
        std::string path = prefix + "/" + n.name;
        out[path] = n;
        if (n.kind == repo::NodeKind::dir) TRY(walk_snapshot(repo, n.subtree, path, out));
    }
    return ok_status();
}

inline std::map<std::string, repo::Node> snapshot_nodes(repo::Repository& repo,
                                                        const repo::Snapshot& s) {
    std::map<std::string, repo::Node> out;
    Status st = walk_snapshot(repo, s.tree, "", out);
    EXPECT_TRUE(st.ok()) << st.to_string();
    return out;
}

inline std::string file_content(repo::Repository& repo, const repo::Node& node) {
    std::string out;
    for (const Id& id : node.content) {
        auto data = repo.load_chunk(id, repo::ChunkType::data);
        EXPECT_TRUE(data.ok()) << data.status().to_string();
        if (data.ok()) out += as_chars(*data);
    }
    return out;
}

}  // namespace coffer::testing
