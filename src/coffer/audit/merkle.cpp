#include "coffer/audit/merkle.h"

#include <bit>
#include <cstring>
#include <string>

#include "coffer/crypto/crypto.h"

namespace coffer::audit {
namespace {

constexpr uint8_t k_leaf_prefix = 0x00;
constexpr uint8_t k_node_prefix = 0x01;

// The split point of RFC 9162 §2.1.1: the largest power of two smaller than n (n >= 2).
size_t split(size_t n) {
    return std::bit_floor(n - 1);
}

// PATH(m, D[n]) of RFC 9162 §2.1.3.1, appended bottom-up.
void path(std::span<const Id> d, uint64_t m, std::vector<Id>& out) {
    if (d.size() <= 1) return;
    const size_t k = split(d.size());
    if (m < k) {
        path(d.first(k), m, out);
        out.push_back(root(d.subspan(k)));
    } else {
        path(d.subspan(k), m - k, out);
        out.push_back(root(d.first(k)));
    }
}

// SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1.
void subproof(std::span<const Id> d, uint64_t m, bool complete, std::vector<Id>& out) {
    if (m == d.size()) {
        if (!complete) out.push_back(root(d));
        return;
    }
    const size_t k = split(d.size());
    if (m <= k) {
        subproof(d.first(k), m, complete, out);
        out.push_back(root(d.subspan(k)));
    } else {
        subproof(d.subspan(k), m - k, false, out);
        out.push_back(root(d.first(k)));
    }
}

// "Right-shift both fn and sn equally until either LSB(fn) is set or fn is 0."
void shift_to_set_bit(uint64_t& fn, uint64_t& sn) {
    while (fn != 0 && (fn & 1) == 0) {
        fn >>= 1;
        sn >>= 1;
    }
}

}  // namespace

Id leaf_hash(ByteView leaf) {
    crypto::Sha256 h;
    h.update(ByteView(&k_leaf_prefix, 1));
    h.update(leaf);
    return h.finish();
}

Id node_hash(const Id& left, const Id& right) {
    uint8_t buf[1 + 2 * 32];
    buf[0] = k_node_prefix;
    std::memcpy(buf + 1, left.bytes.data(), 32);
    std::memcpy(buf + 33, right.bytes.data(), 32);
    return crypto::sha256(buf);
}

Id empty_root() {
    return crypto::sha256({});
}

Id root(std::span<const Id> leaf_hashes) {
    if (leaf_hashes.empty()) return empty_root();
    if (leaf_hashes.size() == 1) return leaf_hashes[0];
    const size_t k = split(leaf_hashes.size());
    return node_hash(root(leaf_hashes.first(k)), root(leaf_hashes.subspan(k)));
}

Result<std::vector<Id>> inclusion_proof(std::span<const Id> leaf_hashes, uint64_t index) {
    if (index >= leaf_hashes.size())
        return invalid_argument("inclusion proof: leaf " + std::to_string(index) +
                                " is not in a tree of size " + std::to_string(leaf_hashes.size()));
    std::vector<Id> out;
    path(leaf_hashes, index, out);
    return out;
}

Status verify_inclusion(uint64_t index, uint64_t tree_size, const Id& leaf_hash,
                        std::span<const Id> proof, const Id& root) {
    // RFC 9162 §2.1.3.2, step by step.
    if (index >= tree_size)
        return invalid_argument("inclusion proof: leaf " + std::to_string(index) +
                                " is not in a tree of size " + std::to_string(tree_size));
    uint64_t fn = index;
    uint64_t sn = tree_size - 1;
    Id r = leaf_hash;
    for (const Id& p : proof) {
        if (sn == 0) return integrity_error("inclusion proof is too long");
        if ((fn & 1) != 0 || fn == sn) {
            r = node_hash(p, r);
            if ((fn & 1) == 0) shift_to_set_bit(fn, sn);
        } else {
            r = node_hash(r, p);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) return integrity_error("inclusion proof is too short");
    if (!ct_equal(r.view(), root.view()))
        return integrity_error("inclusion proof does not lead to the expected root");
    return ok_status();
}

Result<std::vector<Id>> consistency_proof(std::span<const Id> leaf_hashes, uint64_t old_size) {
    if (old_size > leaf_hashes.size())
        return invalid_argument("consistency proof: old size " + std::to_string(old_size) +
                                " exceeds the tree size " + std::to_string(leaf_hashes.size()));
    std::vector<Id> out;
    if (old_size != 0 && old_size != leaf_hashes.size()) subproof(leaf_hashes, old_size, true, out);
    return out;
}

Status verify_consistency(uint64_t old_size, uint64_t new_size, const Id& old_root,
                          const Id& new_root, std::span<const Id> proof) {
    if (old_size > new_size)
        return invalid_argument("consistency proof: old size " + std::to_string(old_size) +
                                " exceeds the new size " + std::to_string(new_size));
    if (old_size == new_size) {
        if (!proof.empty())
            return integrity_error("consistency proof between equal sizes is not empty");
        if (!ct_equal(old_root.view(), new_root.view()))
            return integrity_error("trees of equal size have different roots");
        return ok_status();
    }
    if (old_size == 0) {
        if (!proof.empty())
            return integrity_error("consistency proof from the empty tree is not empty");
        return ok_status();
    }
    if (proof.empty()) return integrity_error("consistency proof is empty");

    // RFC 9162 §2.1.4.2. When old_size is a power of two the old tree is a complete subtree of the
    // new one and its root is the proof's implicit first element.
    std::vector<Id> path;
    path.reserve(proof.size() + 1);
    if (std::has_single_bit(old_size)) path.push_back(old_root);
    path.insert(path.end(), proof.begin(), proof.end());

    uint64_t fn = old_size - 1;
    uint64_t sn = new_size - 1;
    while ((fn & 1) != 0) {
        fn >>= 1;
        sn >>= 1;
    }
    Id fr = path[0];
    Id sr = path[0];
    for (size_t i = 1; i < path.size(); ++i) {
        const Id& c = path[i];
        if (sn == 0) return integrity_error("consistency proof is too long");
        if ((fn & 1) != 0 || fn == sn) {
            fr = node_hash(c, fr);
            sr = node_hash(c, sr);
            if ((fn & 1) == 0) shift_to_set_bit(fn, sn);
        } else {
            sr = node_hash(sr, c);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) return integrity_error("consistency proof is too short");
    if (!ct_equal(fr.view(), old_root.view()))
        return integrity_error("consistency proof does not lead to the old root");
    if (!ct_equal(sr.view(), new_root.view()))
        return integrity_error("consistency proof does not lead to the new root");
    return ok_status();
}

// ---- CompactTree ----

Result<CompactTree> CompactTree::restore(uint64_t size, std::vector<Id> hashes) {
    if (static_cast<size_t>(std::popcount(size)) != hashes.size())
        return invalid_argument("compact tree of size " + std::to_string(size) + " needs " +
                                std::to_string(std::popcount(size)) + " subtree hashes, got " +
                                std::to_string(hashes.size()));
    CompactTree t;
    t.m_size = size;
    t.m_hashes = std::move(hashes);
    return t;
}

void CompactTree::append(const Id& leaf_hash) {
    // Each trailing one bit of the old size is a perfect subtree of the same height as the one
    // being carried up: merge them, as adding one to a binary counter does.
    Id carry = leaf_hash;
    for (uint64_t s = m_size; (s & 1) != 0; s >>= 1) {
        carry = node_hash(m_hashes.back(), carry);
        m_hashes.pop_back();
    }
    m_hashes.push_back(carry);
    ++m_size;
}

Id CompactTree::root() const {
    if (m_hashes.empty()) return empty_root();
    // MTH splits off the largest perfect subtree on the left, then recurses on the rest: folding
    // from the right reproduces it.
    Id r = m_hashes.back();
    for (size_t i = m_hashes.size() - 1; i-- > 0;) r = node_hash(m_hashes[i], r);
    return r;
}

}  // namespace coffer::audit
