// Packs (repo/pack.h): header, sealed trailer, records.
//
// Byte 0 picks a mode (mod 4); the rest is its input:
//   0 raw pack file: parse_pack_header, read_pack_trailer (both overloads), open_data_key and
//     open_record for every entry. Seeds are packs sealed with the fixed keys, so mutations of
//     their records (which the trailer does not cover) reach open_record.
//   1 trailer plaintext: varint records length | records | trailer entry list. The target seals
//     the entry list with the fixed trailer key, so the fuzzer drives the trailer parser itself.
//     Checks: both overloads agree, records tile the pack, rewrite_pack reproduces the entries.
//   2 record plaintext: type | varint raw_length | payload (compression byte, body). The target
//     encrypts the payload as PackWriter does; open_record must return the body (or its zstd
//     decompression) exactly, and reject a wrong length or a flipped bit.
//   3 writer round trip: zstd level | per chunk: type | varint length | bytes. PackWriter, then
//     everything must read back: trailer, data key, every record, chunk IDs, rewrite_pack.
#include <zstd.h>

#include <cstdint>
#include <vector>

#include "coffer/repo/pack.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::repo;
using coffer::fuzz::Cursor;

namespace {

constexpr size_t k_overhead = crypto::k_gcm_nonce_size + crypto::k_gcm_tag_size;

const SecretBytes& fixed_data_key() {
    static const SecretBytes key(fuzz::fixed_bytes("pack data key", 32));
    return key;
}

Bytes stanza_context() {
    Bytes c = to_bytes(info::pack_stanza);
    append(c, fuzz::fixed_keys()->repo_id.view());
    return c;
}

// A pack header whose stanza wraps fixed_data_key() for the fixed recovery key.
const Bytes& fixed_header() {
    static const Bytes header = [] {
        const KeyRing& keys = *fuzz::fixed_keys();
        Bytes h = to_bytes(k_pack_magic);
        h.push_back(k_object_version);
        append(h, keys.key_id);
        auto stanza =
            crypto::wrap_key(keys.recovery_public_key, fixed_data_key().view(), stanza_context());
        FUZZ_CHECK(stanza.ok());
        append(h, *stanza);
        FUZZ_CHECK(h.size() == k_pack_header_size);
        return h;
    }();
    return header;
}

// pack.cpp's chunk key and AAD, rebuilt from the format description.
SecretBytes chunk_key(ByteView base, ChunkType type, const Id& id) {
    Bytes info_bytes = to_bytes(info::chunk);
    info_bytes.push_back(static_cast<uint8_t>(type));
    append(info_bytes, id.view());
    return crypto::hkdf_sha256(base, fuzz::fixed_keys()->repo_id.view(), info_bytes, 32);
}
Bytes record_aad(ChunkType type, const Id& id) {
    Bytes aad = to_bytes("CFRC");
    aad.push_back(static_cast<uint8_t>(type));
    append(aad, id.view());
    return aad;
}

bool same_entry(const PackEntry& a, const PackEntry& b) {
    return a.id == b.id && a.type == b.type && a.offset == b.offset && a.length == b.length &&
           a.raw_length == b.raw_length;
}
bool same_entries(const std::vector<PackEntry>& a, const std::vector<PackEntry>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (!same_entry(a[i], b[i])) return false;
    return true;
}

// What every successfully read trailer must satisfy, and what the other overload must agree on.
void check_trailer(const KeyRing& keys, ByteView pack, const std::vector<PackEntry>& entries) {
    FUZZ_CHECK(pack.size() >= k_pack_header_size + 4);
    uint32_t trailer_len = load_le32(pack.data() + pack.size() - 4);
    FUZZ_CHECK(trailer_len >= k_overhead && trailer_len <= pack.size() - 4 - k_pack_header_size);
    uint64_t trailer_off = pack.size() - 4 - trailer_len;
    uint64_t expect = k_pack_header_size;
    for (const auto& e : entries) {
        FUZZ_CHECK(valid_chunk_type(static_cast<uint8_t>(e.type)));
        FUZZ_CHECK_MSG(e.offset == expect, "records do not tile the pack");
        FUZZ_CHECK(e.raw_length <= (64u << 20));
        expect += e.length;
    }
    FUZZ_CHECK_MSG(expect == trailer_off, "records do not end at the trailer");

    // The header + tail overload, with the smallest tail and with the whole pack.
    ByteView header = pack.subspan(0, k_pack_header_size);
    ByteView min_tail = pack.subspan(pack.size() - 4 - trailer_len);
    auto from_tail = read_pack_trailer(keys, header, min_tail, pack.size(), "fuzz");
    FUZZ_CHECK_MSG(from_tail.ok(), from_tail.status().to_string());
    FUZZ_CHECK(same_entries(*from_tail, entries));
    auto from_all = read_pack_trailer(keys, header, pack, pack.size(), "fuzz");
    FUZZ_CHECK_MSG(from_all.ok(), from_all.status().to_string());
    FUZZ_CHECK(same_entries(*from_all, entries));
    // A tail one byte too short cannot hold the trailer.
    auto short_tail = read_pack_trailer(keys, header, min_tail.subspan(1), pack.size(), "fuzz");
    FUZZ_CHECK(!short_tail.ok());

    // rewrite_pack keeps header and records byte for byte and seals an equivalent trailer.
    std::vector<std::pair<PackEntry, ByteView>> records;
    for (const auto& e : entries) records.emplace_back(e, pack.subspan(e.offset, e.length));
    auto rewritten = rewrite_pack(keys, header, records);
    FUZZ_CHECK_MSG(rewritten.ok(), rewritten.status().to_string());
    FUZZ_CHECK(rewritten->id == crypto::sha256(rewritten->bytes));
    FUZZ_CHECK(same_entries(rewritten->entries, entries));
    FUZZ_CHECK(rewritten->bytes.size() >= trailer_off &&
               std::equal(pack.begin(), pack.begin() + static_cast<std::ptrdiff_t>(trailer_off),
                          rewritten->bytes.begin()));
    auto reread = read_pack_trailer(keys, rewritten->bytes, "fuzz");
    FUZZ_CHECK_MSG(reread.ok(), reread.status().to_string());
    FUZZ_CHECK(same_entries(*reread, entries));
}

void raw_pack(ByteView pack) {
    const KeyRing& keys = *fuzz::fixed_keys();
    auto header = parse_pack_header(pack, "fuzz");
    if (header.ok()) {
        FUZZ_CHECK(header->key_id.size() == k_key_id_size);
        FUZZ_CHECK(header->stanza.size() == crypto::k_stanza_size);
        FUZZ_CHECK(std::equal(header->key_id.begin(), header->key_id.end(), pack.begin() + 5));
    } else {
        FUZZ_CHECK(header.status().code() == Code::corruption);
    }
    auto entries = read_pack_trailer(keys, pack, "fuzz");
    if (!entries.ok()) return;
    FUZZ_CHECK(header.ok());
    check_trailer(keys, pack, *entries);

    auto data_key = open_data_key(keys, *header, "fuzz");
    for (const auto& e : *entries) {
        ByteView key = e.type == ChunkType::refs ? keys.metadata_key.view()
                                                 : (data_key.ok() ? data_key->view() : ByteView());
        if (key.empty()) continue;
        auto plain = open_record(keys, key, e, pack.subspan(e.offset, e.length));
        if (plain.ok()) FUZZ_CHECK(plain->size() == e.raw_length);
    }
}

void trailer_plaintext(Cursor& in) {
    const KeyRing& keys = *fuzz::fixed_keys();
    ByteView records = in.chunk();
    ByteView plain = in.rest();
    Bytes pack = fixed_header();
    append(pack, records);
    Bytes nonce = fuzz::fixed_bytes("trailer nonce", crypto::k_gcm_nonce_size);
    auto sealed = crypto::aes_gcm_seal(keys.trailer_key.view(), nonce, fixed_header(), plain);
    FUZZ_CHECK(sealed.ok());
    append(pack, nonce);
    append(pack, *sealed);
    uint8_t len[4];
    store_le32(len, static_cast<uint32_t>(nonce.size() + sealed->size()));
    append(pack, ByteView(len, 4));

    auto entries = read_pack_trailer(keys, pack, "fuzz");
    auto from_tail =
        read_pack_trailer(keys, ByteView(pack).subspan(0, k_pack_header_size),
                          ByteView(pack).subspan(k_pack_header_size), pack.size(), "fuzz");
    FUZZ_CHECK(entries.ok() == from_tail.ok());
    if (!entries.ok()) {
        FUZZ_CHECK_MSG(entries.status().code() == Code::corruption, entries.status().to_string());
        return;
    }
    check_trailer(keys, pack, *entries);
    // Records the trailer describes are the bytes between header and trailer, in order.
    size_t total = 0;
    for (const auto& e : *entries) total += e.length;
    FUZZ_CHECK(total == records.size());
}

void record_plaintext(Cursor& in) {
    const KeyRing& keys = *fuzz::fixed_keys();
    auto type = static_cast<ChunkType>(in.u8() % 3 + 1);
    auto raw_length = static_cast<uint32_t>(in.varint());
    ByteView payload = in.rest();
    Id id = Id::from(fuzz::fixed_bytes("record id", 32));
    ByteView base = type == ChunkType::refs ? keys.metadata_key.view() : fixed_data_key().view();
    SecretBytes ck = chunk_key(base, type, id);
    Bytes record = fuzz::fixed_bytes("record nonce", crypto::k_gcm_nonce_size);
    auto sealed = crypto::aes_gcm_seal(ck.view(), record, record_aad(type, id), payload);
    FUZZ_CHECK(sealed.ok());
    append(record, *sealed);

    PackEntry e{id, type, static_cast<uint32_t>(k_pack_header_size),
                static_cast<uint32_t>(record.size()), raw_length};
    auto plain = open_record(keys, base, e, record);

    // What the payload should decode to, worked out independently.
    bool expect_ok = false;
    Bytes expect;
    if (!payload.empty() && payload[0] == 0) {
        expect_ok = payload.size() - 1 == raw_length;
        expect.assign(payload.begin() + 1, payload.end());
    } else if (!payload.empty() && payload[0] == 1 && raw_length <= (64u << 20)) {
        ByteView frame = payload.subspan(1);
        if (ZSTD_getFrameContentSize(frame.data(), frame.size()) == raw_length) {
            expect.resize(raw_length);
            size_t n = ZSTD_decompress(expect.data(), expect.size(), frame.data(), frame.size());
            expect_ok = !ZSTD_isError(n) && n == raw_length;
        }
    }
    FUZZ_CHECK_MSG(plain.ok() == expect_ok, "open_record: " + plain.status().to_string() +
                                                ", expected " +
                                                (expect_ok ? "success" : "failure"));
    if (plain.ok()) {
        FUZZ_CHECK(plain->size() == raw_length);
        FUZZ_CHECK(*plain == expect);
    }

    // A wrong stored length, another ID or type, or any flipped bit must be refused.
    PackEntry longer = e;
    longer.length += 1;
    FUZZ_CHECK(!open_record(keys, base, longer, record).ok());
    PackEntry other = e;
    other.id.bytes[0] ^= 1;
    FUZZ_CHECK(!open_record(keys, base, other, record).ok());
    Bytes flipped = record;
    flipped[raw_length % flipped.size()] ^= static_cast<uint8_t>(1u << (raw_length % 8));
    FUZZ_CHECK(!open_record(keys, base, e, flipped).ok());
}

void writer_round_trip(Cursor& in) {
    auto keys = fuzz::fixed_keys();
    int level = in.u8() % 4;  // 0: never compress
    auto writer = PackWriter::create(keys, level);
    FUZZ_CHECK(writer.ok());
    std::vector<Bytes> plain;
    for (int i = 0; i < 16 && !in.empty(); ++i) {
        auto type = static_cast<ChunkType>(in.u8() % 3 + 1);
        ByteView data = in.chunk();
        Id id = keys->chunk_id(type, data);
        FUZZ_CHECK(writer->add(id, type, data).ok());
        plain.emplace_back(data.begin(), data.end());
    }
    FUZZ_CHECK(writer->count() == plain.size());
    auto pack = writer->finish();
    FUZZ_CHECK(pack.ok());
    FUZZ_CHECK(writer->count() == 0);
    FUZZ_CHECK(pack->id == crypto::sha256(pack->bytes));
    FUZZ_CHECK(pack->entries.size() == plain.size());

    auto entries = read_pack_trailer(*keys, pack->bytes, "fuzz");
    FUZZ_CHECK_MSG(entries.ok(), entries.status().to_string());
    FUZZ_CHECK(same_entries(*entries, pack->entries));
    check_trailer(*keys, pack->bytes, *entries);

    auto header = parse_pack_header(pack->bytes, "fuzz");
    FUZZ_CHECK(header.ok());
    FUZZ_CHECK(header->key_id == keys->key_id);
    auto data_key = open_data_key(*keys, *header, "fuzz");
    FUZZ_CHECK_MSG(data_key.ok(), data_key.status().to_string());
    for (size_t i = 0; i < plain.size(); ++i) {
        const PackEntry& e = (*entries)[i];
        FUZZ_CHECK(e.raw_length == plain[i].size());
        ByteView key = e.type == ChunkType::refs ? keys->metadata_key.view() : data_key->view();
        auto got = open_record(*keys, key, e, ByteView(pack->bytes).subspan(e.offset, e.length));
        FUZZ_CHECK_MSG(got.ok(), got.status().to_string());
        FUZZ_CHECK(*got == plain[i]);
        FUZZ_CHECK(keys->chunk_id(e.type, *got) == e.id);
    }

    // Prune's repack of every other record: offsets change, contents must not.
    std::vector<std::pair<PackEntry, ByteView>> kept;
    std::vector<size_t> kept_index;
    for (size_t i = 0; i < entries->size(); i += 2) {
        const PackEntry& e = (*entries)[i];
        kept.emplace_back(e, ByteView(pack->bytes).subspan(e.offset, e.length));
        kept_index.push_back(i);
    }
    auto smaller = rewrite_pack(*keys, ByteView(pack->bytes).subspan(0, k_pack_header_size), kept);
    FUZZ_CHECK(smaller.ok());
    auto smaller_entries = read_pack_trailer(*keys, smaller->bytes, "fuzz");
    FUZZ_CHECK_MSG(smaller_entries.ok(), smaller_entries.status().to_string());
    FUZZ_CHECK(same_entries(*smaller_entries, smaller->entries));
    FUZZ_CHECK(smaller_entries->size() == kept.size());
    for (size_t k = 0; k < kept.size(); ++k) {
        const PackEntry& e = (*smaller_entries)[k];
        FUZZ_CHECK(e.id == kept[k].first.id && e.type == kept[k].first.type);
        ByteView key = e.type == ChunkType::refs ? keys->metadata_key.view() : data_key->view();
        auto got = open_record(*keys, key, e, ByteView(smaller->bytes).subspan(e.offset, e.length));
        FUZZ_CHECK_MSG(got.ok(), got.status().to_string());
        FUZZ_CHECK(*got == plain[kept_index[k]]);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    switch (in.u8() % 4) {
        case 0:
            raw_pack(in.rest());
            break;
        case 1:
            trailer_plaintext(in);
            break;
        case 2:
            record_plaintext(in);
            break;
        case 3:
            writer_round_trip(in);
            break;
    }
    return 0;
}
