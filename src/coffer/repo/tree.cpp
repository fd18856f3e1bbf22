#include "coffer/repo/tree.h"

#include <algorithm>

#include "coffer/util/encoding.h"

namespace coffer::repo {

bool valid_node_name(std::string_view name) {
    return !name.empty() && name != "." && name != ".." &&
           name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

Bytes encode_tree(const Tree& tree) {
    Writer w;
    w.u8(1);
    w.varint(tree.nodes.size());
    for (const Node& n : tree.nodes) {
        w.str(n.name);
        w.u8(static_cast<uint8_t>(n.kind));
        w.varint(n.mode);
        w.varint(n.uid);
        w.varint(n.gid);
        w.svarint(n.mtime_ns);
        w.varint(n.size);
        switch (n.kind) {
            case NodeKind::file:
                w.varint(n.content.size());
                for (const Id& id : n.content) w.id(id);
                break;
            case NodeKind::dir:
                w.id(n.subtree);
                break;
            case NodeKind::symlink:
                w.str(n.link_target);
                break;
        }
    }
    return w.take();
}

Result<Tree> decode_tree(ByteView bytes, const std::string& label) {
    auto bad = [&](std::string why) { return corruption("tree " + label + " " + why); };
    Reader r(bytes);
    uint8_t version;
    uint64_t count;
    if (!r.u8(version) || version != 1 || !r.varint(count) || count > bytes.size())
        return bad("is malformed");
    Tree t;
    // Grown as entries decode, not sized from the count: a short chunk claiming millions of
    // entries must not allocate for them (each takes at least 8 encoded bytes).
    t.nodes.reserve(std::min<uint64_t>(count, bytes.size() / 8));
    for (uint64_t i = 0; i < count; ++i) {
        Node& n = t.nodes.emplace_back();
        uint8_t kind;
        uint64_t mode, uid, gid, size;
        if (!r.str(n.name) || !r.u8(kind) || !r.varint(mode) || !r.varint(uid) || !r.varint(gid) ||
            !r.svarint(n.mtime_ns) || !r.varint(size) || mode > 07777 || uid > UINT32_MAX ||
            gid > UINT32_MAX)
            return bad("is malformed");
        if (!valid_node_name(n.name))
            return bad("contains an invalid entry name (empty, '.', '..', or with '/' or NUL)");
        n.mode = static_cast<uint32_t>(mode);
        n.uid = static_cast<uint32_t>(uid);
        n.gid = static_cast<uint32_t>(gid);
        n.size = size;
        n.kind = static_cast<NodeKind>(kind);
        if (kind == static_cast<uint8_t>(NodeKind::file)) {
            uint64_t nchunks;
            if (!r.varint(nchunks) || nchunks > r.remaining() / 32) return bad("is malformed");
            n.content.resize(nchunks);
            for (Id& id : n.content)
                if (!r.id(id)) return bad("is malformed");
        } else if (kind == static_cast<uint8_t>(NodeKind::dir)) {
            if (!r.id(n.subtree)) return bad("is malformed");
        } else if (kind == static_cast<uint8_t>(NodeKind::symlink)) {
            if (!r.str(n.link_target) || n.link_target.empty() ||
                n.link_target.find('\0') != std::string::npos)
                return bad("has a malformed symlink");
        } else {
            return bad("has an unknown node kind " + std::to_string(kind));
        }
    }
    if (!r.done()) return bad("has trailing bytes");
    for (size_t i = 1; i < t.nodes.size(); ++i)
        if (!(t.nodes[i - 1].name < t.nodes[i].name)) return bad("has unsorted or duplicate names");
    return t;
}

Bytes encode_refs(const Refs& refs) {
    Writer w;
    w.u8(1);
    w.id(refs.tree);
    w.varint(refs.data.size());
    for (const Id& id : refs.data) w.id(id);
    w.varint(refs.children.size());
    for (const Id& id : refs.children) w.id(id);
    return w.take();
}

Result<Refs> decode_refs(ByteView bytes, const std::string& label) {
    auto bad = [&] { return corruption("refs " + label + " is malformed"); };
    Reader r(bytes);
    uint8_t version;
    Refs out;
    uint64_t n;
    if (!r.u8(version) || version != 1 || !r.id(out.tree) || !r.varint(n) || n > r.remaining() / 32)
        return bad();
    out.data.resize(n);
    for (Id& id : out.data)
        if (!r.id(id)) return bad();
    if (!r.varint(n) || n > r.remaining() / 32) return bad();
    out.children.resize(n);
    for (Id& id : out.children)
        if (!r.id(id)) return bad();
    if (!r.done()) return bad();
    return out;
}

}  // namespace coffer::repo
