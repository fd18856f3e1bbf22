// The RFC 6962 / RFC 9162 Merkle tree over SHA-256 that the audit log is built on.
//
// Leaves and inner nodes are hashed with distinct one-byte prefixes (0x00 and 0x01), so a leaf can
// never be passed off as a subtree. root() is the Merkle Tree Hash (MTH) of RFC 9162 §2.1.1 over
// already-hashed leaves; the empty tree's root is SHA-256 of the empty string. Proof generation
// follows §2.1.3.1 and §2.1.4.1, verification §2.1.3.2 and §2.1.4.2, so proofs interoperate with
// Certificate Transparency and transparency-dev tooling.
//
// Generation costs O(n) hashing (it recomputes subtree roots); verification O(log n). Verifiers
// return ok or Code::integrity naming what did not match, and Code::invalid_argument for sizes
// that cannot describe a proof. Free functions are thread-safe; CompactTree is thread-compatible.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::audit {

// SHA-256(0x00 || leaf).
Id leaf_hash(ByteView leaf);
// SHA-256(0x01 || left || right).
Id node_hash(const Id& left, const Id& right);
// SHA-256("") — the root of the tree with no leaves.
Id empty_root();

// MTH over leaf hashes (already passed through leaf_hash).
Id root(std::span<const Id> leaf_hashes);

// The audit path for leaf `index` in the tree of all of leaf_hashes (RFC 9162 PATH), ordered from
// the leaf's sibling up to the root's child. invalid_argument unless index < leaf_hashes.size().
Result<std::vector<Id>> inclusion_proof(std::span<const Id> leaf_hashes, uint64_t index);
Status verify_inclusion(uint64_t index, uint64_t tree_size, const Id& leaf_hash,
                        std::span<const Id> proof, const Id& root);

// The proof that the first old_size leaves are a prefix of the tree of all of leaf_hashes (RFC
// 9162 PROOF). Empty when old_size is 0 or the full size; invalid_argument if old_size > size.
Result<std::vector<Id>> consistency_proof(std::span<const Id> leaf_hashes, uint64_t old_size);
// Accepts an empty proof for old_size == 0 (every tree extends the empty one) and for
// old_size == new_size when the roots are equal, as transparency-dev/merkle does.
Status verify_consistency(uint64_t old_size, uint64_t new_size, const Id& old_root,
                          const Id& new_root, std::span<const Id> proof);

// An append-only Merkle tree that keeps only the roots of its maximal perfect subtrees (one per
// set bit of size(), largest first), so appending to a log of n leaves costs O(log n) hashing and
// memory whatever n is. root() equals audit::root() over every leaf appended so far.
class CompactTree {
public:
    CompactTree() = default;
    // Resumes a tree from size() and hashes() saved earlier. invalid_argument unless
    // hashes.size() equals the number of set bits in size.
    static Result<CompactTree> restore(uint64_t size, std::vector<Id> hashes);

    void append(const Id& leaf_hash);
    uint64_t size() const { return m_size; }
    Id root() const;
    // The perfect subtree roots, left to right (largest subtree first).
    const std::vector<Id>& hashes() const { return m_hashes; }

private:
    uint64_t m_size = 0;
    std::vector<Id> m_hashes;
};

}  // namespace coffer::audit
