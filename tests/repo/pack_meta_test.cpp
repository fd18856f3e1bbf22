// Packs (PackWriter, trailers, records, data keys) and the metadata envelope.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coffer/repo/meta.h"
#include "coffer/repo/pack.h"
#include "repo/repo_test_util.h"

namespace coffer::repo {
namespace {

using testing::contains;
using testing::KeySet;
using testing::pseudo_random;

struct Chunk {
    ChunkType type;
    Bytes plaintext;
    Id id;
};

class PackTest : public ::testing::Test {
protected:
    KeySet keys = KeySet::make();
    std::shared_ptr<const KeyRing> ring = keys.ring(true);

    Chunk chunk(ChunkType type, Bytes plaintext) {
        Id id = ring->chunk_id(type, plaintext);
        return {type, std::move(plaintext), id};
    }

    FinishedPack write(const std::vector<Chunk>& chunks) {
        auto w = PackWriter::create(ring, 3);
        EXPECT_TRUE(w.ok()) << w.status().to_string();
        if (!w.ok()) return {};
        for (const auto& c : chunks) EXPECT_TRUE(w->add(c.id, c.type, c.plaintext).ok());
        EXPECT_EQ(w->count(), chunks.size());
        auto p = w->finish();
        EXPECT_TRUE(p.ok()) << p.status().to_string();
        EXPECT_EQ(w->count(), 0u);
        return p.ok() ? std::move(p).value() : FinishedPack{};
    }

    SecretBytes data_key(const KeyRing& k, ByteView pack) {
        auto header = parse_pack_header(pack, "p");
        EXPECT_TRUE(header.ok()) << header.status().to_string();
        if (!header.ok()) return {};
        auto key = open_data_key(k, *header, "p");
        EXPECT_TRUE(key.ok()) << key.status().to_string();
        return key.ok() ? std::move(key).value() : SecretBytes{};
    }

    Result<Bytes> open(const FinishedPack& p, const PackEntry& e, const SecretBytes& dkey,
                       ByteView bytes = {}) {
        if (bytes.empty()) bytes = p.bytes;
        ByteView key = e.type == ChunkType::refs ? ring->metadata_key.view() : dkey.view();
        return open_record(*ring, key, e, bytes.subspan(e.offset, e.length));
    }

    std::vector<Chunk> small_chunks() {
        return {chunk(ChunkType::data, to_bytes("hello, pack")), chunk(ChunkType::data, {}),
                chunk(ChunkType::tree, Bytes(300, 'x')),
                chunk(ChunkType::refs, pseudo_random(100, 7))};
    }
};

void expect_same_entries(const std::vector<PackEntry>& a, const std::vector<PackEntry>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].id, b[i].id) << i;
        EXPECT_EQ(a[i].type, b[i].type) << i;
        EXPECT_EQ(a[i].offset, b[i].offset) << i;
        EXPECT_EQ(a[i].length, b[i].length) << i;
        EXPECT_EQ(a[i].raw_length, b[i].raw_length) << i;
    }
}

TEST_F(PackTest, WriteThenReadBackEveryChunk) {
    std::string text;
    while (text.size() < 64 * 1024) text += "the quick brown fox jumps over the lazy dog. ";
    std::vector<Chunk> chunks = small_chunks();
    chunks.push_back(chunk(ChunkType::data, to_bytes(text)));
    chunks.push_back(chunk(ChunkType::data, pseudo_random(64 * 1024, 1)));
    FinishedPack p = write(chunks);

    EXPECT_EQ(p.id, crypto::sha256(p.bytes));
    EXPECT_EQ(as_chars(ByteView(p.bytes).subspan(0, 4)), k_pack_magic);
    ASSERT_EQ(p.entries.size(), chunks.size());
    auto trailer = read_pack_trailer(*ring, p.bytes, "p");
    ASSERT_TRUE(trailer.ok()) << trailer.status().to_string();
    expect_same_entries(*trailer, p.entries);

    SecretBytes dkey = data_key(*ring, p.bytes);
    for (size_t i = 0; i < chunks.size(); ++i) {
        const PackEntry& e = p.entries[i];
        EXPECT_EQ(e.id, chunks[i].id);
        EXPECT_EQ(e.type, chunks[i].type);
        EXPECT_EQ(e.raw_length, chunks[i].plaintext.size());
        auto plain = open(p, e, dkey);
        ASSERT_TRUE(plain.ok()) << i << ": " << plain.status().to_string();
        EXPECT_EQ(*plain, chunks[i].plaintext) << i;
    }
    const PackEntry& compressible = p.entries[chunks.size() - 2];
    const PackEntry& random = p.entries[chunks.size() - 1];
    EXPECT_LT(compressible.length, compressible.raw_length / 4);
    // Not compressed: nonce + flag byte + plaintext + tag.
    EXPECT_EQ(random.length, random.raw_length + 12 + 1 + 16);
}

TEST_F(PackTest, RefsChunksOpenWithTheHostKeyAlone) {
    FinishedPack p = write(small_chunks());
    auto host_only = keys.ring(false);
    ASSERT_FALSE(host_only->can_read_data());
    const PackEntry& refs = p.entries[3];
    ASSERT_EQ(refs.type, ChunkType::refs);
    auto plain = open_record(*host_only, host_only->metadata_key.view(), refs,
                             ByteView(p.bytes).subspan(refs.offset, refs.length));
    ASSERT_TRUE(plain.ok()) << plain.status().to_string();
    EXPECT_EQ(*plain, pseudo_random(100, 7));
    // ... but not the data chunks: that needs the recovery key.
    auto header = parse_pack_header(p.bytes, "p");
    ASSERT_TRUE(header.ok());
    auto key = open_data_key(*host_only, *header, "p");
    EXPECT_EQ(key.status().code(), Code::wrong_key) << key.status().to_string();
    // A trailer needs only the host key.
    EXPECT_TRUE(read_pack_trailer(*host_only, p.bytes, "p").ok());
}

TEST_F(PackTest, OtherKeysCannotOpenThePack) {
    FinishedPack p = write(small_chunks());
    KeySet other = KeySet::make();
    auto other_ring = other.ring(true);
    auto trailer = read_pack_trailer(*other_ring, p.bytes, "p");
    EXPECT_FALSE(trailer.ok());
    auto header = parse_pack_header(p.bytes, "p");
    ASSERT_TRUE(header.ok());
    auto key = open_data_key(*other_ring, *header, "p");
    EXPECT_FALSE(key.ok());
    EXPECT_EQ(key.status().code(), Code::integrity) << key.status().to_string();
}

TEST_F(PackTest, FlippingAnyByteIsDetected) {
    FinishedPack p = write(small_chunks());
    SecretBytes dkey = data_key(*ring, p.bytes);
    const size_t records_end = p.entries.back().offset + p.entries.back().length;
    for (size_t pos = 0; pos < p.bytes.size(); ++pos) {
        Bytes bad = p.bytes;
        bad[pos] ^= 0x20;
        if (pos < k_pack_header_size || pos >= records_end) {
            // Header (bound into the trailer's AAD) or trailer: the trailer fails.
            EXPECT_FALSE(read_pack_trailer(*ring, bad, "p").ok()) << "byte " << pos;
            continue;
        }
        ASSERT_TRUE(read_pack_trailer(*ring, bad, "p").ok()) << "byte " << pos;
        for (const PackEntry& e : p.entries) {
            auto plain = open(p, e, dkey, bad);
            if (pos >= e.offset && pos < e.offset + e.length)
                EXPECT_EQ(plain.status().code(), Code::integrity) << "byte " << pos;
            else
                EXPECT_TRUE(plain.ok()) << "byte " << pos;
        }
    }
    // Damage in the stanza also stops the data key from opening.
    Bytes bad = p.bytes;
    bad[k_pack_header_size - 10] ^= 1;
    auto header = parse_pack_header(bad, "p");
    ASSERT_TRUE(header.ok());
    EXPECT_EQ(open_data_key(*ring, *header, "p").status().code(), Code::integrity);
}

TEST_F(PackTest, LargeRecordsDetectFlipsToo) {
    std::vector<Chunk> chunks = {chunk(ChunkType::data, pseudo_random(200 * 1024, 3)),
                                 chunk(ChunkType::data, Bytes(200 * 1024, 'z'))};
    FinishedPack p = write(chunks);
    SecretBytes dkey = data_key(*ring, p.bytes);
    for (const PackEntry& e : p.entries) {
        for (size_t rel = 0; rel < e.length; rel += rel < 64 || rel + 64 > e.length ? 1 : 997) {
            Bytes bad = p.bytes;
            bad[e.offset + rel] ^= 0x80;
            EXPECT_EQ(open(p, e, dkey, bad).status().code(), Code::integrity) << rel;
        }
    }
}

TEST_F(PackTest, RecordWithWrongEntryMetadataIsRejected) {
    FinishedPack p = write(small_chunks());
    SecretBytes dkey = data_key(*ring, p.bytes);
    PackEntry e = p.entries[0];
    PackEntry wrong_id = e;
    wrong_id.id = p.entries[1].id;
    EXPECT_FALSE(open(p, wrong_id, dkey).ok());
    PackEntry wrong_type = e;
    wrong_type.type = ChunkType::tree;
    EXPECT_FALSE(open(p, wrong_type, dkey).ok());
    PackEntry wrong_raw = e;
    wrong_raw.raw_length += 1;
    EXPECT_FALSE(open(p, wrong_raw, dkey).ok());
    auto short_record =
        open_record(*ring, dkey.view(), e, ByteView(p.bytes).subspan(e.offset, e.length - 1));
    EXPECT_EQ(short_record.status().code(), Code::corruption);
}

TEST_F(PackTest, TruncatedPacksFailCleanly) {
    FinishedPack p = write(small_chunks());
    for (size_t len = 0; len < p.bytes.size(); ++len) {
        auto r = read_pack_trailer(*ring, ByteView(p.bytes).subspan(0, len), "p");
        EXPECT_FALSE(r.ok()) << len;
    }
    EXPECT_FALSE(parse_pack_header(ByteView(p.bytes).subspan(0, k_pack_header_size - 1), "p").ok());
}

TEST_F(PackTest, EmptyWriterFinishesToAValidEmptyPack) {
    FinishedPack p = write({});
    auto trailer = read_pack_trailer(*ring, p.bytes, "p");
    ASSERT_TRUE(trailer.ok()) << trailer.status().to_string();
    EXPECT_TRUE(trailer->empty());
}

// ---- metadata envelope -----------------------------------------------------------------------

class MetaTest : public ::testing::Test {
protected:
    KeySet keys = KeySet::make();
    std::shared_ptr<const KeyRing> ring = keys.ring(false);
    Bytes payload = to_bytes("{\"some\":\"metadata payload\"}");

    Bytes seal(MetaType type = MetaType::index) {
        auto s = seal_meta(*ring, type, payload);
        EXPECT_TRUE(s.ok()) << s.status().to_string();
        return s.ok() ? *s : Bytes{};
    }
};

TEST_F(MetaTest, SealOpenRoundTrip) {
    for (MetaType type : {MetaType::index, MetaType::snapshot}) {
        Bytes obj = seal(type);
        EXPECT_EQ(obj.size(), k_meta_header_size + payload.size() + 16 + 64);
        auto header = parse_meta_header(obj, "o");
        ASSERT_TRUE(header.ok());
        EXPECT_EQ(header->type, type);
        EXPECT_EQ(header->key_id, ring->key_id);
        auto plain = open_meta(*ring, obj, type, "o");
        ASSERT_TRUE(plain.ok()) << plain.status().to_string();
        EXPECT_EQ(*plain, payload);
        MetaType other = type == MetaType::index ? MetaType::snapshot : MetaType::index;
        EXPECT_EQ(open_meta(*ring, obj, other, "o").status().code(), Code::corruption);
    }
    // Sealing twice gives different objects (fresh nonce), both valid.
    EXPECT_NE(seal(), seal());
}

TEST_F(MetaTest, SignatureChecksWithThePublicKeyOnly) {
    Bytes obj = seal();
    const Id& repo = keys.config.id;
    EXPECT_TRUE(verify_meta_signature(obj, ring->signing_public_key, repo, "o").ok());
    KeySet other = KeySet::make();
    Status st = verify_meta_signature(obj, other.host.signing_public_key, repo, "o");
    EXPECT_EQ(st.code(), Code::integrity);
    EXPECT_TRUE(contains(st.message(), "signature")) << st.to_string();
    EXPECT_FALSE(verify_meta_signature(obj, ring->signing_public_key, other.config.id, "o").ok());
}

TEST_F(MetaTest, AnyFlippedByteIsAnError) {
    Bytes obj = seal();
    for (size_t pos = 0; pos < obj.size(); ++pos) {
        for (uint8_t mask : {0x01, 0x80}) {
            Bytes bad = obj;
            bad[pos] ^= mask;
            EXPECT_FALSE(open_meta(*ring, bad, MetaType::index, "o").ok()) << pos;
            EXPECT_FALSE(
                verify_meta_signature(bad, ring->signing_public_key, keys.config.id, "o").ok())
                << pos;
        }
    }
}

TEST_F(MetaTest, TruncatedObjectsFailCleanly) {
    Bytes obj = seal();
    for (size_t len = 0; len < obj.size(); ++len) {
        ByteView cut = ByteView(obj).subspan(0, len);
        EXPECT_FALSE(open_meta(*ring, cut, MetaType::index, "o").ok()) << len;
        EXPECT_FALSE(
            verify_meta_signature(cut, ring->signing_public_key, keys.config.id, "o").ok());
    }
    Bytes longer = obj;
    longer.push_back(0);
    EXPECT_FALSE(open_meta(*ring, longer, MetaType::index, "o").ok());
}

TEST_F(MetaTest, ObjectsAreBoundToTheirRepository) {
    Bytes obj = seal();
    // The very same host secrets and key id, claimed for another repository id.
    HostKey moved = keys.host;
    moved.repository_id = Id::from(crypto::random_bytes(32));
    auto moved_ring = KeyRing::from_host_key(moved, nullptr);
    ASSERT_TRUE(moved_ring.ok());
    auto r = open_meta(**moved_ring, obj, MetaType::index, "o");
    EXPECT_EQ(r.status().code(), Code::integrity) << r.status().to_string();
    // Another repository's keys altogether.
    KeySet other = KeySet::make();
    EXPECT_FALSE(open_meta(*other.ring(false), obj, MetaType::index, "o").ok());
    // And an object of the other repository does not open here.
    auto foreign = seal_meta(*other.ring(false), MetaType::index, payload);
    ASSERT_TRUE(foreign.ok());
    EXPECT_FALSE(open_meta(*ring, *foreign, MetaType::index, "o").ok());
}

}  // namespace
}  // namespace coffer::repo
