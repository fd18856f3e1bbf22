// RFC 6962 / RFC 9162 Merkle tree. The known answers are the test vectors every Certificate
// Transparency implementation shares, copied from github.com/transparency-dev/merkle
// proof/verify_test.go (inclusionProofs, consistencyProofs, roots, leaves) and
// github.com/google/trillian merkle/testonly/constants.go (NodeHashes, RootHashes, CompactTrees).
// The property tests then cover every tree size up to 64.
#include "coffer/audit/merkle.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coffer/crypto/crypto.h"

namespace coffer::audit {
namespace {

Id H(const char* hex) {
    auto id = Id::parse_hex(hex);
    EXPECT_TRUE(id.has_value()) << hex;
    return id.value_or(Id{});
}

std::vector<Id> Hs(std::initializer_list<const char*> hexes) {
    std::vector<Id> out;
    for (const char* h : hexes) out.push_back(H(h));
    return out;
}

// The eight leaf inputs of the RFC 6962 test vectors.
std::vector<Id> vector_leaf_hashes() {
    std::vector<Id> out;
    for (const char* hex : {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                            "606162636465666768696a6b6c6d6e6f"})
        out.push_back(leaf_hash(from_hex(hex).value()));
    return out;
}

// Roots of the trees of the first 1..8 leaves (transparency-dev/merkle `roots`).
const char* const k_roots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
const char* const k_empty_root = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Merkle, LeafHashesMatchTrillianNodeHashes) {
    const auto leaves = vector_leaf_hashes();
    const auto want = Hs({"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                          "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                          "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
                          "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
                          "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                          "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
                          "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                          "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"});
    EXPECT_EQ(leaves, want);
    // Level 1 of trillian's NodeHashes.
    EXPECT_EQ(node_hash(leaves[0], leaves[1]).hex(),
              "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125");
    EXPECT_EQ(node_hash(leaves[6], leaves[7]).hex(),
              "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0");
}

TEST(Merkle, RootsForSizesZeroToEight) {
    const auto leaves = vector_leaf_hashes();
    EXPECT_EQ(root({}).hex(), k_empty_root);
    EXPECT_EQ(empty_root().hex(), k_empty_root);
    for (size_t n = 1; n <= 8; ++n)
        EXPECT_EQ(root(std::span(leaves).first(n)).hex(), k_roots[n - 1]) << n;
}

TEST(Merkle, CompactTreeMatchesTrillianCompactTrees) {
    const auto leaves = vector_leaf_hashes();
    // trillian CompactTrees(): the perfect subtree roots after each append (nh = NodeHashes).
    const Id nh00 = H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    const Id nh02 = H("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7");
    const Id nh04 = H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b");
    const Id nh06 = H("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f");
    const Id nh10 = H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125");
    const Id nh12 = H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a");
    const Id nh20 = H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7");
    const Id nh30 = H("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
    const std::vector<std::vector<Id>> want = {
        {nh00},       {nh10},       {nh10, nh02},       {nh20},
        {nh20, nh04}, {nh20, nh12}, {nh20, nh12, nh06}, {nh30},
    };
    CompactTree t;
    EXPECT_EQ(t.root().hex(), k_empty_root);
    for (size_t n = 1; n <= 8; ++n) {
        t.append(leaves[n - 1]);
        EXPECT_EQ(t.size(), n);
        EXPECT_EQ(t.hashes(), want[n - 1]) << n;
        EXPECT_EQ(t.root().hex(), k_roots[n - 1]) << n;
    }
}

TEST(Merkle, PublishedInclusionProofs) {
    const auto leaves = vector_leaf_hashes();
    struct Case {
        uint64_t index, size;  // transparency-dev lists 1-based leaf numbers; these are 0-based
        std::vector<Id> proof;
    };
    const Case cases[] = {
        {0, 1, {}},
        {0, 8,
         Hs({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"})},
        {5, 8,
         Hs({"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
        {2, 3, Hs({"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"})},
        {1, 5,
         Hs({"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"})},
    };
    for (const Case& c : cases) {
        const auto tree = std::span(leaves).first(c.size);
        auto proof = inclusion_proof(tree, c.index);
        ASSERT_TRUE(proof.ok());
        EXPECT_EQ(*proof, c.proof) << c.index << "/" << c.size;
        const Id r = H(k_roots[c.size - 1]);
        EXPECT_TRUE(verify_inclusion(c.index, c.size, leaves[c.index], c.proof, r).ok());
        // transparency-dev's corruptInclusionProof probes.
        EXPECT_FALSE(verify_inclusion(c.index - 1, c.size, leaves[c.index], c.proof, r).ok());
        EXPECT_FALSE(verify_inclusion(c.index + 1, c.size, leaves[c.index], c.proof, r).ok());
        EXPECT_FALSE(verify_inclusion(c.index ^ 2, c.size, leaves[c.index], c.proof, r).ok());
        EXPECT_FALSE(verify_inclusion(c.index, c.size * 2, leaves[c.index], c.proof, r).ok());
        EXPECT_FALSE(verify_inclusion(c.index, c.size / 2, leaves[c.index], c.proof, r).ok());
        EXPECT_FALSE(
            verify_inclusion(c.index, c.size, leaf_hash(as_bytes("WrongLeaf")), c.proof, r).ok());
        EXPECT_FALSE(
            verify_inclusion(c.index, c.size, leaves[c.index], c.proof, empty_root()).ok());
        auto longer = c.proof;
        longer.push_back(r);
        EXPECT_FALSE(verify_inclusion(c.index, c.size, leaves[c.index], longer, r).ok());
        longer.insert(longer.begin(), r);
        longer.pop_back();
        EXPECT_FALSE(verify_inclusion(c.index, c.size, leaves[c.index], longer, r).ok());
    }
    EXPECT_FALSE(verify_inclusion(0, 0, leaves[0], {}, empty_root()).ok());
    EXPECT_EQ(inclusion_proof(leaves, 8).status().code(), Code::invalid_argument);
}

TEST(Merkle, PublishedConsistencyProofs) {
    const auto leaves = vector_leaf_hashes();
    struct Case {
        uint64_t old_size, new_size;
        std::vector<Id> proof;
    };
    const Case cases[] = {
        {1, 1, {}},
        {1, 8,
         Hs({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"})},
        {6, 8,
         Hs({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
        {2, 5,
         Hs({"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"})},
        {6, 7,
         Hs({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
    };
    for (const Case& c : cases) {
        auto proof = consistency_proof(std::span(leaves).first(c.new_size), c.old_size);
        ASSERT_TRUE(proof.ok());
        EXPECT_EQ(*proof, c.proof) << c.old_size << "->" << c.new_size;
        const Id r1 = H(k_roots[c.old_size - 1]);
        const Id r2 = H(k_roots[c.new_size - 1]);
        EXPECT_TRUE(verify_consistency(c.old_size, c.new_size, r1, r2, c.proof).ok());
        if (c.proof.empty()) continue;
        // transparency-dev's corruptConsistencyProof probes.
        EXPECT_FALSE(verify_consistency(c.old_size - 1, c.new_size, r1, r2, c.proof).ok());
        EXPECT_FALSE(verify_consistency(c.old_size + 1, c.new_size, r1, r2, c.proof).ok());
        EXPECT_FALSE(verify_consistency(c.old_size ^ 2, c.new_size, r1, r2, c.proof).ok());
        EXPECT_FALSE(verify_consistency(c.old_size, c.new_size * 2, r1, r2, c.proof).ok());
        EXPECT_FALSE(verify_consistency(c.old_size, c.new_size / 2, r1, r2, c.proof).ok());
        EXPECT_FALSE(verify_consistency(c.old_size, c.new_size, r2, r1, c.proof).ok());
        EXPECT_FALSE(verify_consistency(c.old_size, c.new_size, r1, r2, {}).ok());
        for (const Id& extra : {r1, r2, c.proof[0]}) {
            auto longer = c.proof;
            longer.push_back(extra);
            EXPECT_FALSE(verify_consistency(c.old_size, c.new_size, r1, r2, longer).ok());
            longer.pop_back();
            longer.insert(longer.begin(), extra);
            EXPECT_FALSE(verify_consistency(c.old_size, c.new_size, r1, r2, longer).ok());
        }
        EXPECT_FALSE(verify_consistency(c.old_size, c.new_size, r1, r2,
                                        std::span(c.proof).first(c.proof.size() - 1))
                         .ok());
    }
}

// transparency-dev TestVerifyConsistency's edge cases.
TEST(Merkle, ConsistencyEdgeCases) {
    const Id a = leaf_hash(as_bytes("don't care 1"));
    const Id b = leaf_hash(as_bytes("don't care 2"));
    const std::vector<Id> none;
    const std::vector<Id> one = {empty_root()};
    EXPECT_FALSE(verify_consistency(0, 0, a, b, none).ok());
    EXPECT_FALSE(verify_consistency(1, 1, a, b, none).ok());
    EXPECT_TRUE(verify_consistency(0, 0, a, a, none).ok());
    EXPECT_TRUE(verify_consistency(0, 1, a, b, none).ok());
    EXPECT_TRUE(verify_consistency(1, 1, b, b, none).ok());
    EXPECT_FALSE(verify_consistency(1, 0, a, b, none).ok());
    EXPECT_FALSE(verify_consistency(2, 1, a, b, none).ok());
    EXPECT_FALSE(verify_consistency(1, 2, a, b, none).ok());
    EXPECT_FALSE(verify_consistency(0, 0, empty_root(), empty_root(), one).ok());
    EXPECT_FALSE(verify_consistency(0, 1, empty_root(), empty_root(), one).ok());
    EXPECT_FALSE(verify_consistency(1, 1, empty_root(), empty_root(), one).ok());
    EXPECT_EQ(consistency_proof(vector_leaf_hashes(), 9).status().code(), Code::invalid_argument);
}

// A proof checks a leaf against a root for a given tree size; it does not prove the size. Leaf 0's
// path in the tree of 8 has the same shape as in a tree of 7, so it verifies with either size,
// in every RFC 9162 implementation. Checkpoints sign size and root together, which is what binds
// them.
TEST(Merkle, TreeSizeIsBoundByTheSignatureNotTheProof) {
    const auto leaves = vector_leaf_hashes();
    auto proof = inclusion_proof(leaves, 0);
    ASSERT_TRUE(proof.ok());
    const Id r8 = H(k_roots[7]);
    EXPECT_TRUE(verify_inclusion(0, 8, leaves[0], *proof, r8).ok());
    EXPECT_TRUE(verify_inclusion(0, 7, leaves[0], *proof, r8).ok());
    EXPECT_FALSE(verify_inclusion(0, 4, leaves[0], *proof, r8).ok());
}

std::vector<Id> synthetic_leaves(size_t n) {
    std::vector<Id> out;
    for (size_t i = 0; i < n; ++i) out.push_back(leaf_hash(as_bytes("leaf " + std::to_string(i))));
    return out;
}

Id flip(Id id, size_t byte) {
    id.bytes[byte % 32] ^= 0x01;
    return id;
}

TEST(MerkleProperty, CompactTreeAgreesWithRootAndRestores) {
    const auto leaves = synthetic_leaves(200);
    CompactTree t;
    for (size_t n = 1; n <= leaves.size(); ++n) {
        t.append(leaves[n - 1]);
        ASSERT_EQ(t.root(), root(std::span(leaves).first(n))) << n;
        ASSERT_EQ(t.hashes().size(), static_cast<size_t>(std::popcount(n)));
    }
    auto restored = CompactTree::restore(t.size(), t.hashes());
    ASSERT_TRUE(restored.ok());
    restored->append(leaves[0]);
    t.append(leaves[0]);
    EXPECT_EQ(restored->root(), t.root());
    EXPECT_EQ(CompactTree::restore(3, {leaves[0]}).status().code(), Code::invalid_argument);
}

TEST(MerkleProperty, EveryInclusionProofUpTo64) {
    const auto all = synthetic_leaves(64);
    for (uint64_t n = 1; n <= 64; ++n) {
        const auto tree = std::span(all).first(n);
        const Id r = root(tree);
        for (uint64_t i = 0; i < n; ++i) {
            auto proof = inclusion_proof(tree, i);
            ASSERT_TRUE(proof.ok());
            ASSERT_TRUE(verify_inclusion(i, n, tree[i], *proof, r).ok()) << i << "/" << n;
            EXPECT_FALSE(verify_inclusion(i, n, flip(tree[i], i), *proof, r).ok());
            EXPECT_FALSE(verify_inclusion(i, n, tree[i], *proof, flip(r, i)).ok());
            for (size_t k = 0; k < proof->size(); ++k) {
                auto bad = *proof;
                bad[k] = flip(bad[k], k + i);
                EXPECT_FALSE(verify_inclusion(i, n, tree[i], bad, r).ok()) << i << "/" << n;
            }
            for (uint64_t j = 0; j < n; ++j) {
                if (j != i) {
                    EXPECT_FALSE(verify_inclusion(j, n, tree[i], *proof, r).ok());
                }
            }
            // Only sizes that change the shape of the path can be caught: the size is bound to
            // the root by the checkpoint's signature, not by the proof (see the next test).
            for (uint64_t m : {n / 2, 2 * n}) {
                if (m != n) {
                    EXPECT_FALSE(verify_inclusion(i, m, tree[i], *proof, r).ok());
                }
            }
        }
    }
}

TEST(MerkleProperty, EveryConsistencyProofUpTo64) {
    const auto all = synthetic_leaves(64);
    for (uint64_t n = 1; n <= 64; ++n) {
        const auto tree = std::span(all).first(n);
        const Id r2 = root(tree);
        for (uint64_t m = 0; m <= n; ++m) {
            const Id r1 = root(tree.first(m));
            auto proof = consistency_proof(tree, m);
            ASSERT_TRUE(proof.ok());
            ASSERT_TRUE(verify_consistency(m, n, r1, r2, *proof).ok()) << m << "->" << n;
            if (m == 0) continue;  // anything is consistent with the empty tree
            EXPECT_FALSE(verify_consistency(m, n, flip(r1, m), r2, *proof).ok());
            EXPECT_FALSE(verify_consistency(m, n, r1, flip(r2, m), *proof).ok());
            for (size_t k = 0; k < proof->size(); ++k) {
                auto bad = *proof;
                bad[k] = flip(bad[k], k + m);
                EXPECT_FALSE(verify_consistency(m, n, r1, r2, bad).ok()) << m << "->" << n;
            }
            for (uint64_t m2 = 1; m2 <= n; ++m2) {
                if (m2 != m) {
                    EXPECT_FALSE(verify_consistency(m2, n, r1, r2, *proof).ok());
                }
            }
            for (uint64_t n2 : {n / 2, 2 * n}) {
                if (n2 != n && n2 >= m) {
                    EXPECT_FALSE(verify_consistency(m, n2, r1, r2, *proof).ok()) << m << "->" << n2;
                }
            }
        }
    }
}

}  // namespace
}  // namespace coffer::audit
