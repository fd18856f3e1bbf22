// Restoring crafted (hostile) snapshots and into hostile targets: nothing may ever be written
// outside the target directory.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backup/backup_test_util.h"
#include "coffer/restore/restore.h"

namespace coffer::restore {
namespace {

using coffer::testing::read_file;
using coffer::testing::TestRepo;
using repo::ChunkType;
using repo::Node;
using repo::NodeKind;
namespace fs = std::filesystem;

// A directory written into a repository by hand: its tree and refs chunk IDs.
struct Dir {
    Id tree;
    Id refs;
};

Id put_chunk(repo::Repository& r, ChunkType type, const Bytes& bytes) {
    Id id = r.keys().chunk_id(type, bytes);
    auto st = r.store_chunk(type, id, bytes);
    EXPECT_TRUE(st.ok()) << st.status().to_string();
    return id;
}

Node file_node(repo::Repository& r, std::string name, const std::string& content) {
    Node n;
    n.name = std::move(name);
    n.kind = NodeKind::file;
    n.mode = 0644;
    n.mtime_ns = 1600000000000000000;
    n.size = content.size();
    if (!content.empty()) n.content = {put_chunk(r, ChunkType::data, to_bytes(content))};
    return n;
}

Node symlink_node(std::string name, std::string target) {
    Node n;
    n.name = std::move(name);
    n.kind = NodeKind::symlink;
    n.mode = 0777;
    n.link_target = std::move(target);
    return n;
}

// Stores a directory listing as-is (sorted by name bytes, as a writer would).
Dir put_dir(repo::Repository& r, std::vector<Node> nodes, const std::vector<Dir>& children = {}) {
    std::sort(nodes.begin(), nodes.end(),
              [](const Node& a, const Node& b) { return a.name < b.name; });
    repo::Refs refs;
    refs.tree = put_chunk(r, ChunkType::tree, repo::encode_tree({nodes}));
    for (const Node& n : nodes)
        refs.data.insert(refs.data.end(), n.content.begin(), n.content.end());
    for (const Dir& c : children) refs.children.push_back(c.refs);
    return {refs.tree, put_chunk(r, ChunkType::refs, repo::encode_refs(refs))};
}

Node dir_node(std::string name, const Dir& d) {
    Node n;
    n.name = std::move(name);
    n.kind = NodeKind::dir;
    n.mode = 0755;
    n.mtime_ns = 1600000000000000000;
    n.subtree = d.tree;
    return n;
}

repo::Snapshot save(repo::Repository& r, const Dir& root) {
    EXPECT_TRUE(r.flush().ok());
    repo::Snapshot s;
    s.time_ns = repo::now_unix_ns();
    s.paths = {"/crafted"};
    s.tree = root.tree;
    s.refs = root.refs;
    auto id = r.save_snapshot(s);
    EXPECT_TRUE(id.ok()) << id.status().to_string();
    return s;
}

// Every entry (recursively) under dir with its content or link target, without following links.
std::set<std::string> contents(const std::string& dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        std::string rel = it->path().lexically_relative(dir).string();
        if (it->is_symlink())
            out.insert(rel + " -> " + fs::read_symlink(it->path()).string());
        else if (it->is_regular_file())
            out.insert(rel + " = " + read_file(it->path()));
        else
            out.insert(rel + "/");
    }
    return out;
}

class HostileRestoreTest : public ::testing::Test {
protected:
    TestRepo repo;
    repo::Repository& r = *repo.repository;
    std::string base = repo.tmp.path();
    std::string outside = base + "/outside";
    std::string target = base + "/target";
    std::set<std::string> base_before, outside_before;

    void SetUp() override {
        fs::create_directories(outside + "/sub");
        coffer::testing::write_file(outside + "/sentinel", "do not touch");
        fs::create_directories(target);
        base_before = names(base);
        outside_before = contents(outside);
    }

    static std::set<std::string> names(const std::string& dir) {
        std::set<std::string> out;
        for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename());
        return out;
    }

    Result<Outcome> restore_into(const repo::Snapshot& s, const std::string& dir, bool overwrite) {
        Options o;
        o.target = dir;
        o.overwrite = overwrite;
        o.threads = 2;
        return restore(r, s, o);
    }

    // Nothing appeared next to the target, and the outside directory is exactly as it was.
    void expect_nothing_outside() {
        EXPECT_EQ(names(base), base_before);
        EXPECT_EQ(contents(outside), outside_before);
        EXPECT_FALSE(fs::exists(base + "/escape"));
        EXPECT_FALSE(fs::exists(base + "/abs"));
    }
};

TEST_F(HostileRestoreTest, EscapingNamesAreRefused) {
    // "../escape", an absolute name, and a symlink pointing outside, in the root tree ...
    std::vector<Node> hostile = {file_node(r, "../escape", "escaped!"),
                                 file_node(r, base + "/abs", "absolute!"),
                                 symlink_node("link", outside)};
    repo::Snapshot at_root = save(r, put_dir(r, hostile));
    auto out = restore_into(at_root, target, false);
    EXPECT_TRUE(!out.ok() || !out->errors.empty()) << "hostile names restored without complaint";
    expect_nothing_outside();

    // ... and one level down, below a harmless directory.
    Dir inner = put_dir(r, hostile);
    repo::Snapshot nested = save(r, put_dir(r, {dir_node("ok", inner)}, {inner}));
    std::string target2 = base + "/target2";
    fs::create_directories(target2);
    base_before.insert("target2");
    auto out2 = restore_into(nested, target2, false);
    EXPECT_TRUE(!out2.ok() || !out2->errors.empty());
    expect_nothing_outside();
    EXPECT_FALSE(fs::exists(target2 + "/escape"));
}

TEST_F(HostileRestoreTest, SnapshotSymlinkThenDirectoryOfTheSameName) {
    repo::Snapshot with_link = save(r, put_dir(r, {symlink_node("link", outside)}));
    Dir inner = put_dir(r, {file_node(r, "file", "payload")});
    repo::Snapshot with_dir = save(r, put_dir(r, {dir_node("link", inner)}, {inner}));

    // The symlink itself is a legitimate entry and is restored as a symlink.
    auto first = restore_into(with_link, target, false);
    ASSERT_TRUE(first.ok()) << first.status().to_string();
    EXPECT_TRUE(first->errors.empty());
    ASSERT_TRUE(fs::is_symlink(target + "/link"));
    EXPECT_EQ(fs::read_symlink(target + "/link"), outside);

    // Without overwrite the second restore refuses the non-empty target.
    auto refused = restore_into(with_dir, target, false);
    EXPECT_FALSE(refused.ok());
    expect_nothing_outside();
    EXPECT_TRUE(fs::is_symlink(target + "/link"));

    // With overwrite the symlink is replaced by a real directory; the file lands inside.
    auto second = restore_into(with_dir, target, true);
    ASSERT_TRUE(second.ok()) << second.status().to_string();
    expect_nothing_outside();
    EXPECT_FALSE(fs::is_symlink(target + "/link"));
    EXPECT_TRUE(fs::is_directory(fs::symlink_status(target + "/link")));
    EXPECT_EQ(read_file(target + "/link/file"), "payload");
}

TEST_F(HostileRestoreTest, SymlinksAlreadyInTheTargetAreNotFollowed) {
    // Target entries that point outside: a directory link, a file link, and a link inside a
    // real directory.
    fs::create_directory_symlink(outside, target + "/d");
    fs::create_symlink(outside + "/sentinel", target + "/f");
    fs::create_directories(target + "/a");
    fs::create_directory_symlink(outside + "/sub", target + "/a/b");

    Dir d = put_dir(r, {file_node(r, "file", "in d")});
    Dir b = put_dir(r, {file_node(r, "c", "in a/b")});
    Dir a = put_dir(r, {dir_node("b", b)}, {b});
    repo::Snapshot s = save(r, put_dir(r,
                                       {dir_node("a", a), dir_node("d", d),
                                        file_node(r, "f", "replaced the link, not its target")},
                                       {a, d}));

    auto refused = restore_into(s, target, false);
    EXPECT_FALSE(refused.ok());
    expect_nothing_outside();

    auto out = restore_into(s, target, true);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_TRUE(out->errors.empty()) << out->errors.front();
    expect_nothing_outside();
    EXPECT_TRUE(fs::is_directory(fs::symlink_status(target + "/d")));
    EXPECT_EQ(read_file(target + "/d/file"), "in d");
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(target + "/f")));
    EXPECT_EQ(read_file(target + "/f"), "replaced the link, not its target");
    EXPECT_TRUE(fs::is_directory(fs::symlink_status(target + "/a/b")));
    EXPECT_EQ(read_file(target + "/a/b/c"), "in a/b");
    EXPECT_EQ(read_file(outside + "/sentinel"), "do not touch");
}

TEST_F(HostileRestoreTest, TargetItselfMayBeReachedThroughASymlink) {
    // The target path is the user's choice: a symlink to a directory is followed once, at the
    // top, and everything still lands inside that directory.
    std::string real = base + "/real";
    fs::create_directories(real);
    fs::create_directory_symlink(real, base + "/via-link");
    base_before = names(base);
    repo::Snapshot s = save(r, put_dir(r, {file_node(r, "x", "x")}));
    auto out = restore_into(s, base + "/via-link", false);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(read_file(real + "/x"), "x");
    expect_nothing_outside();
}

// A tree that claims an entry kind the format does not have (a device, a FIFO, a hard link:
// backup stores hard links as files and skips the rest) or lists a name twice is refused as
// corrupt, naming the tree; nothing is written anywhere.
TEST_F(HostileRestoreTest, UnknownKindsAndDuplicateNamesAreRefused) {
    Node device = file_node(r, "dev", "");
    device.kind = static_cast<NodeKind>(4);
    Node a1 = file_node(r, "same", "first");
    Node a2 = symlink_node("same", outside + "/sentinel");
    for (const auto& nodes : std::vector<std::vector<Node>>{{device}, {a1, a2}}) {
        repo::Refs refs;
        refs.tree = put_chunk(r, ChunkType::tree, repo::encode_tree({nodes}));
        for (const Node& n : nodes)
            refs.data.insert(refs.data.end(), n.content.begin(), n.content.end());
        Dir d{refs.tree, put_chunk(r, ChunkType::refs, repo::encode_refs(refs))};
        auto out = restore_into(save(r, d), target, true);
        EXPECT_TRUE(!out.ok() || !out->errors.empty()) << "a corrupt tree restored without error";
        std::string said = out.ok() ? out->errors.front() : out.status().to_string();
        EXPECT_NE(said.find(refs.tree.short_hex()), std::string::npos) << said;
        expect_nothing_outside();
        EXPECT_TRUE(fs::is_empty(target)) << "wrote part of a corrupt tree";
    }
}

// Setuid and setgid bits and a foreign owner stay inside the target: the file lands there with
// the recorded bits (set after chown, as tar -p does), never anywhere else.
TEST_F(HostileRestoreTest, SetuidFilesStayInsideTheTarget) {
    Node suid = file_node(r, "suid", "#!/bin/sh\n");
    suid.mode = 06755;
    suid.uid = 0;
    suid.gid = 0;
    auto out = restore_into(save(r, put_dir(r, {suid})), target, false);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    expect_nothing_outside();
    struct stat st {};
    ASSERT_EQ(::lstat((target + "/suid").c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    // As root the recorded owner is restored and the bits with it; otherwise the file belongs
    // to the restoring user, for whom setuid grants nothing new.
    if (::geteuid() == 0) {
        EXPECT_EQ(st.st_mode & 07777, 06755u);
        EXPECT_EQ(st.st_uid, 0u);
    } else {
        EXPECT_EQ(st.st_uid, ::geteuid());
    }
}

// A tree nested as deep as a backup can make restores; a deeper one, which only a crafted
// snapshot has, is refused with an error, without running off the stack and without writing
// outside the target.
TEST_F(HostileRestoreTest, VeryDeepTreesRestoreUpToTheLimitAndAreRefusedBeyond) {
    for (size_t depth : {size_t{1000}, repo::k_max_tree_depth + 50}) {
        SCOPED_TRACE(depth);
        Dir d = put_dir(r, {file_node(r, "bottom", "deep")});
        for (size_t i = 0; i < depth; ++i) d = put_dir(r, {dir_node("d", d)}, {d});
        std::string into = base + "/deep" + std::to_string(depth);
        fs::create_directories(into);
        base_before.insert(fs::path(into).filename());
        auto out = restore_into(save(r, d), into, false);
        ASSERT_TRUE(out.ok()) << out.status().to_string();
        if (depth <= repo::k_max_tree_depth) {
            EXPECT_TRUE(out->errors.empty()) << out->errors.front();
            int fd = ::open(into.c_str(), O_RDONLY | O_DIRECTORY);
            for (size_t i = 0; i < depth && fd >= 0; ++i) {
                int next = ::openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
                ::close(fd);
                fd = next;
            }
            ASSERT_GE(fd, 0) << "the restored tree is not as deep as the snapshot";
            EXPECT_EQ(::faccessat(fd, "bottom", F_OK, 0), 0);
            ::close(fd);
        } else {
            ASSERT_FALSE(out->errors.empty());
            EXPECT_NE(out->errors.front().find("nested deeper than"), std::string::npos)
                << out->errors.front();
        }
        expect_nothing_outside();
    }
}

}  // namespace
}  // namespace coffer::restore
