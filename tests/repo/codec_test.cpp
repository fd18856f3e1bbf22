// Binary codecs of index payloads, trees and refs, and the snapshot manifest JSON.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coffer/repo/index.h"
#include "coffer/repo/snapshot.h"
#include "coffer/repo/tree.h"
#include "coffer/util/encoding.h"
#include "repo/repo_test_util.h"

namespace coffer::repo {
namespace {

using testing::contains;
using testing::pseudo_random;

Id id_of(uint64_t seed) {
    return Id::from(pseudo_random(32, seed));
}

// ---- index -----------------------------------------------------------------------------------

std::vector<IndexedPack> sample_index() {
    std::vector<IndexedPack> packs(3);
    uint64_t seed = 100;
    for (size_t p = 0; p < packs.size(); ++p) {
        packs[p].pack = id_of(seed++);
        for (size_t i = 0; i < p * 2; ++i) {
            uint32_t off = static_cast<uint32_t>(k_pack_header_size + i * 1000);
            packs[p].entries.push_back({id_of(seed++), static_cast<ChunkType>(1 + i % 3), off, 1000,
                                        static_cast<uint32_t>(i * 70000 + 1)});
        }
    }
    packs[2].entries.push_back({id_of(seed), ChunkType::data, UINT32_MAX, UINT32_MAX, UINT32_MAX});
    return packs;
}

TEST(IndexCodec, RoundTrip) {
    auto packs = sample_index();
    Bytes bytes = encode_index_payload(packs);
    auto decoded = decode_index_payload(bytes, "index x");
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    ASSERT_EQ(decoded->size(), packs.size());
    for (size_t p = 0; p < packs.size(); ++p) {
        EXPECT_EQ((*decoded)[p].pack, packs[p].pack);
        ASSERT_EQ((*decoded)[p].entries.size(), packs[p].entries.size());
        for (size_t i = 0; i < packs[p].entries.size(); ++i) {
            const PackEntry& a = packs[p].entries[i];
            const PackEntry& b = (*decoded)[p].entries[i];
            EXPECT_EQ(a.id, b.id);
            EXPECT_EQ(a.type, b.type);
            EXPECT_EQ(a.offset, b.offset);
            EXPECT_EQ(a.length, b.length);
            EXPECT_EQ(a.raw_length, b.raw_length);
        }
    }
    auto empty = decode_index_payload(encode_index_payload({}), "index e");
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->empty());
}

TEST(IndexCodec, TruncatedOrExtendedInputFails) {
    Bytes bytes = encode_index_payload(sample_index());
    for (size_t len = 0; len < bytes.size(); ++len) {
        auto r = decode_index_payload(ByteView(bytes).subspan(0, len), "index t");
        EXPECT_EQ(r.status().code(), Code::corruption) << len;
    }
    Bytes longer = bytes;
    longer.push_back(0);
    EXPECT_FALSE(decode_index_payload(longer, "index t").ok());
    Bytes bad_version = bytes;
    bad_version[0] = 2;
    EXPECT_FALSE(decode_index_payload(bad_version, "index t").ok());
    // A huge claimed count must not allocate or crash.
    Writer w;
    w.u8(1);
    w.varint(uint64_t(1) << 60);
    EXPECT_FALSE(decode_index_payload(w.out(), "index t").ok());
    // An unknown chunk type.
    std::vector<IndexedPack> one(1);
    one[0].pack = id_of(1);
    one[0].entries.push_back({id_of(2), ChunkType::data, 133, 40, 10});
    Bytes typed = encode_index_payload(one);
    typed[1 + 1 + 32 + 1 + 32] = 9;
    auto r = decode_index_payload(typed, "index t");
    EXPECT_EQ(r.status().code(), Code::corruption);
    EXPECT_TRUE(contains(r.status().message(), "index t")) << r.status().to_string();
}

TEST(Index, AddAndFind) {
    Index index;
    Id pack_a = id_of(1), pack_b = id_of(2);
    index.add(pack_a, {id_of(10), ChunkType::data, 133, 50, 20});
    index.add(pack_b, {id_of(11), ChunkType::tree, 200, 60, 30});
    index.add(pack_b, {id_of(10), ChunkType::data, 999, 1, 1});  // duplicate: first one wins
    EXPECT_EQ(index.size(), 2u);
    EXPECT_EQ(index.packs().size(), 2u);
    const Location* l = index.find(id_of(10));
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(index.pack_id(l->pack), pack_a);
    EXPECT_EQ(l->offset, 133u);
    EXPECT_EQ(index.entry_of(id_of(10), *l).raw_length, 20u);
    EXPECT_TRUE(index.contains(id_of(11)));
    EXPECT_EQ(index.find(id_of(12)), nullptr);
}

// ---- trees -----------------------------------------------------------------------------------

Tree sample_tree() {
    Tree t;
    Node dir;
    dir.name = "a dir";
    dir.kind = NodeKind::dir;
    dir.mode = 0750;
    dir.uid = 1000;
    dir.gid = 100;
    dir.mtime_ns = 1795448760123456789;
    dir.subtree = id_of(5);
    Node file;
    file.name = "file\nwith newline \xc3\xbc";
    file.mode = 04755;
    file.uid = UINT32_MAX;
    file.gid = 0;
    file.mtime_ns = -1234567890;  // before 1970
    file.size = 3 << 20;
    file.content = {id_of(6), id_of(7), id_of(6)};
    Node empty;
    empty.name = "z-empty";
    empty.mode = 0600;
    Node link;
    link.name = "link";
    link.kind = NodeKind::symlink;
    link.mode = 0777;
    link.link_target = "../../somewhere else";
    t.nodes = {dir, file, link, empty};
    return t;
}

TEST(TreeCodec, RoundTrip) {
    Tree t = sample_tree();
    auto decoded = decode_tree(encode_tree(t), "t");
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    ASSERT_EQ(decoded->nodes.size(), t.nodes.size());
    for (size_t i = 0; i < t.nodes.size(); ++i) {
        const Node& a = t.nodes[i];
        const Node& b = decoded->nodes[i];
        EXPECT_EQ(a.name, b.name);
        EXPECT_EQ(a.kind, b.kind);
        EXPECT_EQ(a.mode, b.mode);
        EXPECT_EQ(a.uid, b.uid);
        EXPECT_EQ(a.gid, b.gid);
        EXPECT_EQ(a.mtime_ns, b.mtime_ns);
        EXPECT_EQ(a.size, b.size);
        EXPECT_EQ(a.content, b.content);
        if (a.kind == NodeKind::dir) {
            EXPECT_EQ(a.subtree, b.subtree);
        }
        EXPECT_EQ(a.link_target, b.link_target);
    }
    auto empty = decode_tree(encode_tree({}), "e");
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->nodes.empty());
}

TEST(TreeCodec, TruncatedOrExtendedInputFails) {
    Bytes bytes = encode_tree(sample_tree());
    for (size_t len = 0; len < bytes.size(); ++len) {
        auto r = decode_tree(ByteView(bytes).subspan(0, len), "t");
        EXPECT_EQ(r.status().code(), Code::corruption) << len;
    }
    Bytes longer = bytes;
    longer.push_back(0);
    EXPECT_EQ(decode_tree(longer, "t").status().code(), Code::corruption);
    Writer w;
    w.u8(1);
    w.varint(uint64_t(1) << 62);
    EXPECT_FALSE(decode_tree(w.out(), "t").ok());
}

TEST(TreeCodec, RejectsInvalidNames) {
    EXPECT_TRUE(valid_node_name("a"));
    EXPECT_TRUE(valid_node_name("..."));
    EXPECT_TRUE(valid_node_name(".hidden"));
    EXPECT_TRUE(valid_node_name("a\\b"));
    for (std::string bad : {std::string(""), std::string("."), std::string(".."),
                            std::string("a/b"), std::string("/abs"), std::string("../escape"),
                            std::string("trailing/"), std::string("a\0b", 3)}) {
        EXPECT_FALSE(valid_node_name(bad)) << bad;
        Tree t;
        Node n;
        n.name = bad;
        t.nodes.push_back(n);
        auto r = decode_tree(encode_tree(t), "t1234");
        EXPECT_EQ(r.status().code(), Code::corruption) << bad;
        EXPECT_TRUE(contains(r.status().message(), "t1234")) << r.status().to_string();
    }
}

TEST(TreeCodec, RejectsUnsortedAndDuplicateNames) {
    auto with_names = [](std::vector<std::string> names) {
        Tree t;
        for (auto& n : names) {
            Node node;
            node.name = n;
            t.nodes.push_back(node);
        }
        return decode_tree(encode_tree(t), "t");
    };
    EXPECT_TRUE(with_names({"A", "B", "a", "b", "\xc3\xbc"}).ok());  // byte order
    EXPECT_EQ(with_names({"b", "a"}).status().code(), Code::corruption);
    EXPECT_EQ(with_names({"a", "a"}).status().code(), Code::corruption);
    EXPECT_EQ(with_names({"a", "b", "b"}).status().code(), Code::corruption);
    EXPECT_EQ(with_names({"a", "c", "b"}).status().code(), Code::corruption);
}

TEST(TreeCodec, RejectsBadKindsModesAndSymlinks) {
    Tree t;
    Node n;
    n.name = "x";
    t.nodes.push_back(n);
    Bytes good = encode_tree(t);
    // Layout: version, count, name length, name, kind, mode...
    Bytes bad_kind = good;
    bad_kind[4] = 4;
    EXPECT_EQ(decode_tree(bad_kind, "t").status().code(), Code::corruption);
    Tree big_mode = t;
    big_mode.nodes[0].mode = 010000;
    EXPECT_EQ(decode_tree(encode_tree(big_mode), "t").status().code(), Code::corruption);
    Tree empty_link = t;
    empty_link.nodes[0].kind = NodeKind::symlink;
    EXPECT_EQ(decode_tree(encode_tree(empty_link), "t").status().code(), Code::corruption);
    Tree nul_link = empty_link;
    nul_link.nodes[0].link_target = std::string("a\0b", 3);
    EXPECT_EQ(decode_tree(encode_tree(nul_link), "t").status().code(), Code::corruption);
}

// ---- refs ------------------------------------------------------------------------------------

TEST(RefsCodec, RoundTripAndTruncation) {
    Refs refs{id_of(1), {id_of(2), id_of(3), id_of(4)}, {id_of(5), id_of(6)}};
    Bytes bytes = encode_refs(refs);
    auto decoded = decode_refs(bytes, "r");
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->tree, refs.tree);
    EXPECT_EQ(decoded->data, refs.data);
    EXPECT_EQ(decoded->children, refs.children);
    for (size_t len = 0; len < bytes.size(); ++len)
        EXPECT_EQ(decode_refs(ByteView(bytes).subspan(0, len), "r").status().code(),
                  Code::corruption)
            << len;
    Bytes longer = bytes;
    longer.push_back(1);
    EXPECT_FALSE(decode_refs(longer, "r").ok());
    auto empty = decode_refs(encode_refs({id_of(9), {}, {}}), "r");
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->data.empty() && empty->children.empty());
}

// ---- snapshot manifest -----------------------------------------------------------------------

TEST(SnapshotJson, RoundTripAndRejects) {
    Snapshot s;
    s.key_id = "00112233445566778899aabbccddeeff";
    s.time_ns = 1795448760123456789;
    s.hostname = "h\u00f6st";
    s.paths = {"/home/a", "/etc"};
    s.tags = {"daily"};
    s.tree = id_of(1);
    s.refs = id_of(2);
    s.sequence = 42;
    s.previous = id_of(3).hex();
    s.incomplete = true;
    s.summary.files_new = 5;
    s.summary.data_added = 1234;
    s.summary.duration_s = 1.5;
    auto back = Snapshot::parse(as_bytes(s.to_json()), "snapshot x");
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(back->key_id, s.key_id);
    EXPECT_EQ(back->time_ns, s.time_ns);
    EXPECT_EQ(back->hostname, s.hostname);
    EXPECT_EQ(back->paths, s.paths);
    EXPECT_EQ(back->tags, s.tags);
    EXPECT_EQ(back->tree, s.tree);
    EXPECT_EQ(back->refs, s.refs);
    EXPECT_EQ(back->sequence, 42u);
    EXPECT_EQ(back->previous, s.previous);
    EXPECT_TRUE(back->incomplete);
    EXPECT_EQ(back->summary.files_new, 5u);
    EXPECT_EQ(back->summary.data_added, 1234u);
    EXPECT_DOUBLE_EQ(back->summary.duration_s, 1.5);

    std::string json = s.to_json();
    std::string bad_tree = json;
    bad_tree.replace(bad_tree.find(s.tree.hex()), 2, "zz");
    std::string bad_version = json;
    bad_version.replace(bad_version.find("\"version\":1"), 11, "\"version\":2");
    for (const std::string& bad :
         {std::string("nope"), std::string("{}"), std::string("[1]"),
          json.substr(0, json.size() - 1), bad_tree, bad_version,
          std::string("{\"version\":\"1\"}"),
          // Found by fuzzing: a float where an integer is read.
          std::string("{\"version\":1,\"time_ns\":1e30}"), std::string("{\"version\":1e20}")}) {
        auto r = Snapshot::parse(as_bytes(bad), "snapshot x");
        EXPECT_EQ(r.status().code(), Code::corruption) << bad;
    }
}

}  // namespace
}  // namespace coffer::repo
