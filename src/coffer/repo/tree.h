// Trees and refs: how a snapshot's directory structure is stored.
//
// A directory is two chunks:
// - a tree chunk (sealed to the recovery key) listing its entries sorted by name bytes:
//     version(1)=1 | varint n | per node: bytes name | kind(1) | varint mode | varint uid |
//     varint gid | svarint mtime_ns | varint size | kind-specific:
//       file: varint n, n chunk IDs   dir: subtree ID   symlink: bytes target
// - a refs chunk (readable with the host key) with what the directory references:
//     version(1)=1 | tree ID | varint n, n data chunk IDs | varint m, m child refs IDs
// The refs DAG lets the host walk every chunk a snapshot uses (verify, prune) without learning
// a single name. Names are arbitrary bytes except '/' and NUL; "." and ".." and "" are invalid.
#pragma once

#include <string>
#include <vector>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::repo {

enum class NodeKind : uint8_t { file = 1, dir = 2, symlink = 3 };

struct Node {
    std::string name;
    NodeKind kind = NodeKind::file;
    uint32_t mode = 0;  // permission and setuid/setgid/sticky bits (st_mode & 07777)
    uint32_t uid = 0;
    uint32_t gid = 0;
    int64_t mtime_ns = 0;
    uint64_t size = 0;
    std::vector<Id> content;  // file
    Id subtree;               // dir
    std::string link_target;  // symlink
};

struct Tree {
    std::vector<Node> nodes;  // sorted by name
};

struct Refs {
    Id tree;
    std::vector<Id> data;
    std::vector<Id> children;
};

// How deep directories may nest in a tree that is read recursively (restore, ls, diff). A
// backup cannot make deeper ones: every level adds at least two bytes to a path, and paths end
// at PATH_MAX (4096). Deeper trees are crafted and refused, not followed off the stack.
constexpr size_t k_max_tree_depth = 2048;

// False for "", ".", "..", and names containing '/' or NUL.
bool valid_node_name(std::string_view name);

Bytes encode_tree(const Tree& tree);
// Rejects malformed trees and invalid names (Code::corruption, naming the tree by label).
Result<Tree> decode_tree(ByteView bytes, const std::string& label);
Bytes encode_refs(const Refs& refs);
Result<Refs> decode_refs(ByteView bytes, const std::string& label);

}  // namespace coffer::repo
