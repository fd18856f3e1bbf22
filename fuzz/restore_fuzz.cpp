// Restore (restore/restore.h) end to end: names from a decoded tree become files on disk.
//
// Byte 0 holds flags, the rest is a tree chunk (repo/tree.h). When it decodes, the target makes
// it a small snapshot in an in-memory repository with the fixed keys: files get contents (their
// own name, in two chunks), directories get a copy of the root listing (one level deep, for short
// listings) or an empty one. Then restore_tree into a scratch directory.
// Flags: bit 0 plant symlinks to a directory outside the target under the first root names and
// restore with overwrite; bit 1 restore only one root entry (--include).
//
// Checks: nothing is ever written outside the target (the outside directory stays empty, the
// scratch directory holds nothing else), no entry is left that the snapshot does not have, and
// every selected entry is there with its type, contents, mode, owner and link target.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "coffer/repo/repository.h"
#include "coffer/restore/restore.h"
#include "coffer/store/mem/mem_store.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::repo;
using coffer::fuzz::Cursor;

namespace {

constexpr size_t k_max_root = 24;

struct Built {
    std::map<Id, Tree> trees;  // the materialized listings, by tree ID
    bool long_names = false;   // a name the file system refuses (ENAMETOOLONG)
};

Bytes contents_of(const Node& n) {
    return to_bytes(n.name);
}

Id build(Repository& repo, const Tree& root, const Tree& listing, int depth, Built& b) {
    Tree t = listing;
    for (Node& n : t.nodes) {
        if (n.name.size() > 255) b.long_names = true;
        switch (n.kind) {
            case NodeKind::file: {
                Bytes data = contents_of(n);
                n.content.clear();
                size_t half = data.size() / 2;
                for (ByteView part :
                     {ByteView(data).subspan(0, half), ByteView(data).subspan(half)}) {
                    if (part.empty()) continue;
                    Id id = repo.keys().chunk_id(ChunkType::data, part);
                    FUZZ_CHECK(repo.store_chunk(ChunkType::data, id, part).ok());
                    n.content.push_back(id);
                }
                n.size = data.size();
                break;
            }
            case NodeKind::dir: {
                Tree child;
                if (depth == 0 && root.nodes.size() <= 6) child = root;
                n.subtree = build(repo, root, child, depth + 1, b);
                break;
            }
            case NodeKind::symlink:
                break;
        }
    }
    Bytes bytes = encode_tree(t);
    Id id = repo.keys().chunk_id(ChunkType::tree, bytes);
    FUZZ_CHECK(repo.store_chunk(ChunkType::tree, id, bytes).ok());
    b.trees[id] = std::move(t);
    return id;
}

std::set<std::string> entries_of(const std::string& dir) {
    std::set<std::string> out;
    DIR* d = opendir(dir.c_str());
    FUZZ_CHECK_MSG(d != nullptr, dir);
    while (struct dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.insert(n);
    }
    closedir(d);
    return out;
}

std::string slurp(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FUZZ_CHECK_MSG(fd >= 0, path);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    close(fd);
    return out;
}

struct Expect {
    const Built& built;
    std::string include;            // a root name, or "" for everything
    std::set<std::string> planted;  // root names that held a symlink before the restore
};

void check_dir(const Expect& x, const std::string& dir, const Id& tree, bool root) {
    const Tree& t = x.built.trees.at(tree);
    std::set<std::string> expected;
    for (const Node& n : t.nodes) {
        std::string path = dir + "/" + n.name;
        bool selected = !root || x.include.empty() || n.name == x.include;
        if (!selected) {
            if (x.planted.count(n.name)) expected.insert(n.name);  // left alone
            continue;
        }
        expected.insert(n.name);
        struct stat st {};
        FUZZ_CHECK_MSG(lstat(path.c_str(), &st) == 0, "not restored: " + path);
        FUZZ_CHECK_MSG((st.st_uid == n.uid && st.st_gid == n.gid), "owner of " + path);
        switch (n.kind) {
            case NodeKind::file:
                FUZZ_CHECK_MSG(S_ISREG(st.st_mode), "not a regular file: " + path);
                FUZZ_CHECK_MSG((st.st_mode & 07777) == n.mode, "mode of " + path);
                FUZZ_CHECK_MSG(slurp(path) == n.name, "contents of " + path);
                break;
            case NodeKind::dir:
                FUZZ_CHECK_MSG(S_ISDIR(st.st_mode), "not a directory: " + path);
                FUZZ_CHECK_MSG((st.st_mode & 07777) == n.mode, "mode of " + path);
                check_dir(x, path, n.subtree, false);
                break;
            case NodeKind::symlink: {
                FUZZ_CHECK_MSG(S_ISLNK(st.st_mode), "not a symlink: " + path);
                std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
                ssize_t len = readlink(path.c_str(), target.data(), target.size());
                FUZZ_CHECK(len >= 0);
                target.resize(static_cast<size_t>(len));
                FUZZ_CHECK_MSG(target == n.link_target, "link target of " + path);
                break;
            }
        }
    }
    std::set<std::string> found = entries_of(dir);
    FUZZ_CHECK_MSG(found == expected, "entries of " + dir + " differ from the snapshot (" +
                                          std::to_string(found.size()) + " found, " +
                                          std::to_string(expected.size()) + " expected)");
}

struct Scratch {
    std::string dir = fuzz::fresh_dir();
    ~Scratch() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    uint8_t flags = in.u8();
    auto decoded = decode_tree(in.rest(), "fuzz");
    if (!decoded.ok()) return 0;
    Tree root = *decoded;
    if (root.nodes.size() > k_max_root) root.nodes.resize(k_max_root);

    auto store = std::make_shared<store::MemStore>();
    FUZZ_CHECK(
        store->put(std::string(k_config_name), as_bytes(fuzz::fixed_config().to_json())).ok());
    FUZZ_CHECK(
        register_host_key(*store, fuzz::fixed_config(), fuzz::fixed_host(), fuzz::fixed_recovery())
            .ok());
    auto repo = Repository::open(store, &fuzz::fixed_host(), &fuzz::fixed_recovery());
    FUZZ_CHECK_MSG(repo.ok(), repo.status().to_string());
    Built built;
    Id root_id = build(**repo, root, root, 0, built);
    FUZZ_CHECK((*repo)->flush().ok());

    Scratch s;
    std::string target = s.dir + "/target", outside = s.dir + "/outside";
    FUZZ_CHECK(mkdir(outside.c_str(), 0755) == 0);
    Expect x{built, "", {}};
    restore::Options opts;
    opts.target = target;
    opts.threads = 1;
    if (flags & 1) {
        FUZZ_CHECK(mkdir(target.c_str(), 0700) == 0);
        for (size_t i = 0; i < root.nodes.size() && i < 4; ++i) {
            const std::string& name = root.nodes[(i * 7 + flags) % root.nodes.size()].name;
            if (name.size() > 255 || x.planted.count(name)) continue;
            FUZZ_CHECK(symlink(outside.c_str(), (target + "/" + name).c_str()) == 0);
            x.planted.insert(name);
        }
        opts.overwrite = true;
    }
    if ((flags & 2) && !root.nodes.empty()) {
        x.include = root.nodes[(flags >> 2) % root.nodes.size()].name;
        opts.includes = {"/" + x.include};
    }

    auto outcome = restore::restore_tree(**repo, root_id, opts);
    FUZZ_CHECK_MSG(entries_of(outside).empty(),
                   "restore wrote through a symlink outside the target");
    std::set<std::string> scratch_entries = entries_of(s.dir);
    FUZZ_CHECK_MSG(scratch_entries == (std::set<std::string>{"target", "outside"}),
                   "restore created something beside the target");
    FUZZ_CHECK_MSG(outcome.ok(), outcome.status().to_string());
    if (built.long_names) return 0;  // ENAMETOOLONG is reported per entry; nothing to compare
    std::string errors;
    for (const auto& e : outcome->errors) errors += "\n  " + e;
    FUZZ_CHECK_MSG(outcome->errors.empty(), "restore reported errors:" + errors);
    check_dir(x, target, root_id, true);
    return 0;
}
