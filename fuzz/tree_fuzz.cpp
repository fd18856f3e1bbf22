// Tree and refs chunks (repo/tree.h): the directory listings restore walks.
//
// Byte 0 picks a mode (mod 2): 0 decode_tree, 1 decode_refs. Whatever decodes must re-encode to
// something no longer that decodes to the same value, and a decoded tree must hold only what
// restore may create: single-component names (repo::valid_node_name, the check restore repeats),
// strictly sorted, modes within 07777, known kinds, non-empty symlink targets without NUL.
#include "coffer/repo/tree.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::repo;
using coffer::fuzz::Cursor;

namespace {

bool same(const Node& a, const Node& b) {
    return a.name == b.name && a.kind == b.kind && a.mode == b.mode && a.uid == b.uid &&
           a.gid == b.gid && a.mtime_ns == b.mtime_ns && a.size == b.size &&
           a.content == b.content && a.subtree == b.subtree && a.link_target == b.link_target;
}

// What restore relies on, stated independently of valid_node_name.
bool single_component(const std::string& name) {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
           name.find('\0') == std::string::npos;
}

void tree(ByteView bytes) {
    auto t = decode_tree(bytes, "fuzz");
    if (!t.ok()) {
        FUZZ_CHECK(t.status().code() == Code::corruption);
        return;
    }
    for (size_t i = 0; i < t->nodes.size(); ++i) {
        const Node& n = t->nodes[i];
        FUZZ_CHECK_MSG(single_component(n.name), "decode_tree accepted the name '" + n.name + "'");
        FUZZ_CHECK(valid_node_name(n.name));
        FUZZ_CHECK(n.mode <= 07777);
        FUZZ_CHECK(n.kind == NodeKind::file || n.kind == NodeKind::dir ||
                   n.kind == NodeKind::symlink);
        if (n.kind == NodeKind::symlink)
            FUZZ_CHECK(!n.link_target.empty() && n.link_target.find('\0') == std::string::npos);
        if (n.kind != NodeKind::file) FUZZ_CHECK(n.content.empty());
        if (i > 0) FUZZ_CHECK_MSG(t->nodes[i - 1].name < n.name, "names not strictly sorted");
    }
    Bytes again = encode_tree(*t);
    FUZZ_CHECK_MSG(again.size() <= bytes.size(), "re-encoding grew the tree");
    auto back = decode_tree(again, "fuzz");
    FUZZ_CHECK_MSG(back.ok(), back.status().to_string());
    FUZZ_CHECK(back->nodes.size() == t->nodes.size());
    for (size_t i = 0; i < t->nodes.size(); ++i) FUZZ_CHECK(same(back->nodes[i], t->nodes[i]));
    FUZZ_CHECK(encode_tree(*back) == again);
}

void refs(ByteView bytes) {
    auto r = decode_refs(bytes, "fuzz");
    if (!r.ok()) {
        FUZZ_CHECK(r.status().code() == Code::corruption);
        return;
    }
    Bytes again = encode_refs(*r);
    FUZZ_CHECK(again.size() <= bytes.size());
    auto back = decode_refs(again, "fuzz");
    FUZZ_CHECK_MSG(back.ok(), back.status().to_string());
    FUZZ_CHECK(back->tree == r->tree && back->data == r->data && back->children == r->children);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    if (in.u8() % 2 == 0)
        tree(in.rest());
    else
        refs(in.rest());
    return 0;
}
