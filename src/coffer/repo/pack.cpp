#include "coffer/repo/pack.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "coffer/util/compress.h"
#include "coffer/util/encoding.h"

namespace coffer::repo {

namespace {

constexpr size_t k_record_overhead = crypto::k_gcm_nonce_size + crypto::k_gcm_tag_size;

Bytes stanza_context(const Id& repo_id) {
    Bytes c = to_bytes(info::pack_stanza);
    append(c, repo_id.view());
    return c;
}

Bytes record_aad(ChunkType type, const Id& id) {
    Bytes aad = to_bytes("CFRC");
    aad.push_back(static_cast<uint8_t>(type));
    append(aad, id.view());
    return aad;
}

SecretBytes chunk_key(const KeyRing& keys, ByteView base_key, ChunkType type, const Id& id) {
    Bytes info_bytes = to_bytes(info::chunk);
    info_bytes.push_back(static_cast<uint8_t>(type));
    append(info_bytes, id.view());
    return crypto::hkdf_sha256(base_key, keys.repo_id.view(), info_bytes, 32);
}

}  // namespace

Result<PackWriter> PackWriter::create(std::shared_ptr<const KeyRing> keys, int zstd_level,
                                      Bytes buffer, size_t expected_size) {
    PackWriter w;
    // A buffer of the last pack, already faulted in: growing a fresh one by doubling to 16 MiB
    // costs more in page faults and copies than the crypto and compression of its contents.
    w.m_bytes = std::move(buffer);
    w.m_bytes.clear();
    w.m_bytes.reserve(std::max<size_t>(expected_size, 1 << 20));
    w.m_keys = std::move(keys);
    w.m_zstd_level = zstd_level;
    w.m_data_key = crypto::random_secret(32);
    TRY_ASSIGN(Bytes stanza, crypto::wrap_key(w.m_keys->recovery_public_key, w.m_data_key.view(),
                                              stanza_context(w.m_keys->repo_id)));
    append(w.m_bytes, as_bytes(k_pack_magic));
    w.m_bytes.push_back(k_object_version);
    append(w.m_bytes, w.m_keys->key_id);
    append(w.m_bytes, stanza);
    return w;
}

Status PackWriter::add(const Id& id, ChunkType type, ByteView plaintext) {
    // The record (nonce, flag byte, body, tag) is built where it ends up: the body is
    // compressed, or copied, straight into the pack after its nonce and flag, then encrypted
    // in place. A buffer per chunk and two copies of it cost more than AES-GCM does.
    const size_t offset = m_bytes.size();
    const size_t payload_at = offset + crypto::k_gcm_nonce_size;
    const size_t body_at = payload_at + 1;
    const bool try_zstd = m_zstd_level > 0 && plaintext.size() >= 64;
    const size_t room = try_zstd ? std::max(zstd_compress_bound(plaintext.size()), plaintext.size())
                                 : plaintext.size();
    m_bytes.resize(body_at + room + crypto::k_gcm_tag_size);

    size_t body_size = plaintext.size();
    bool use_zstd = false;
    if (try_zstd) {
        size_t n = zstd_compress_into(plaintext, m_zstd_level,
                                      std::span<uint8_t>(m_bytes.data() + body_at, room));
        // Stored compressed only when that saves more than a sixteenth.
        if (n > 0 && n <= plaintext.size() - plaintext.size() / 16) {
            use_zstd = true;
            body_size = n;
        }
    }
    if (!use_zstd && !plaintext.empty())
        std::memcpy(m_bytes.data() + body_at, plaintext.data(), plaintext.size());
    m_bytes[payload_at] = use_zstd ? 1 : 0;

    ByteView base = type == ChunkType::refs ? m_keys->metadata_key.view() : m_data_key.view();
    SecretBytes key = chunk_key(*m_keys, base, type, id);
    std::span<uint8_t> nonce(m_bytes.data() + offset, crypto::k_gcm_nonce_size);
    crypto::random_bytes(nonce);
    std::span<uint8_t> sealed(m_bytes.data() + payload_at, 1 + body_size + crypto::k_gcm_tag_size);
    Status st = crypto::aes_gcm_seal_into(key.view(), nonce, record_aad(type, id),
                                          ByteView(sealed.data(), 1 + body_size), sealed);
    if (!st.ok()) {
        m_bytes.resize(offset);
        return st;
    }
    m_bytes.resize(payload_at + sealed.size());
    m_entries.push_back({id, type, static_cast<uint32_t>(offset),
                         static_cast<uint32_t>(m_bytes.size() - offset),
                         static_cast<uint32_t>(plaintext.size())});
    return ok_status();
}

namespace {

// Appends the sealed trailer for entries (and its length) to a pack that holds its header and
// records, and names it.
Result<FinishedPack> seal_pack(const KeyRing& keys, Bytes bytes, std::vector<PackEntry> entries) {
    Writer w;
    w.varint(entries.size());
    for (const auto& e : entries) {
        w.id(e.id);
        w.u8(static_cast<uint8_t>(e.type));
        w.varint(e.offset);
        w.varint(e.length);
        w.varint(e.raw_length);
    }
    Bytes nonce = crypto::random_bytes(crypto::k_gcm_nonce_size);
    ByteView header(bytes.data(), k_pack_header_size);
    TRY_ASSIGN(Bytes sealed, crypto::aes_gcm_seal(keys.trailer_key.view(), nonce, header, w.out()));
    size_t trailer_len = nonce.size() + sealed.size();
    append(bytes, nonce);
    append(bytes, sealed);
    uint8_t len[4];
    store_le32(len, static_cast<uint32_t>(trailer_len));
    append(bytes, ByteView(len, 4));

    FinishedPack out;
    out.id = crypto::sha256(bytes);
    out.bytes = std::move(bytes);
    out.entries = std::move(entries);
    return out;
}

}  // namespace

Result<FinishedPack> PackWriter::finish() {
    Bytes bytes = std::move(m_bytes);
    std::vector<PackEntry> entries = std::move(m_entries);
    m_bytes.clear();
    m_entries.clear();
    m_data_key.wipe();
    return seal_pack(*m_keys, std::move(bytes), std::move(entries));
}

Result<FinishedPack> rewrite_pack(const KeyRing& keys, ByteView header,
                                  const std::vector<std::pair<PackEntry, ByteView>>& records) {
    if (header.size() != k_pack_header_size)
        return invalid_argument("rewrite_pack: header is not " +
                                std::to_string(k_pack_header_size) + " bytes");
    Bytes bytes(header.begin(), header.end());
    std::vector<PackEntry> entries;
    entries.reserve(records.size());
    for (const auto& [entry, record] : records) {
        if (record.size() != entry.length)
            return invalid_argument("rewrite_pack: record of chunk " + entry.id.short_hex() +
                                    " does not have its indexed length");
        PackEntry moved = entry;
        moved.offset = static_cast<uint32_t>(bytes.size());
        append(bytes, record);
        entries.push_back(moved);
    }
    return seal_pack(keys, std::move(bytes), std::move(entries));
}

Result<PackHeader> parse_pack_header(ByteView header, const std::string& pack_label) {
    if (header.size() < k_pack_header_size || as_chars(header.subspan(0, 4)) != k_pack_magic)
        return corruption("pack " + pack_label + " has no valid header");
    if (header[4] != k_object_version)
        return corruption("pack " + pack_label + " has unknown version " +
                          std::to_string(header[4]));
    PackHeader h;
    h.key_id.assign(header.begin() + 5, header.begin() + 5 + k_key_id_size);
    h.stanza.assign(header.begin() + 5 + k_key_id_size, header.begin() + k_pack_header_size);
    return h;
}

Result<SecretBytes> open_data_key(const KeyRing& keys, const PackHeader& header,
                                  const std::string& pack_label) {
    if (!keys.recovery_private_key)
        return wrong_key(
            "reading file contents needs the recovery key: pass --recovery-key-file "
            "or set COFFER_RECOVERY_KEY_FILE");
    return open_data_key_with(keys.recovery_private_key->view(), keys.repo_id, header, pack_label);
}

Result<SecretBytes> open_data_key_with(ByteView recovery_private, const Id& repo_id,
                                       const PackHeader& header, const std::string& pack_label) {
    auto key = crypto::unwrap_key(recovery_private, header.stanza, stanza_context(repo_id));
    if (!key.ok()) {
        if (key.status().code() == Code::wrong_key)
            return integrity_error("pack " + pack_label +
                                   ": data key does not open with the recovery key (damaged "
                                   "header or a pack from another repository)");
        return key.status().with_context("pack " + pack_label);
    }
    return key;
}

Result<Bytes> rewrap_pack_header(ByteView header, ByteView old_private, ByteView new_public,
                                 const Id& repo_id, const std::string& pack_label) {
    TRY_ASSIGN(PackHeader parsed, parse_pack_header(header, pack_label));
    TRY_ASSIGN(SecretBytes data_key, open_data_key_with(old_private, repo_id, parsed, pack_label));
    TRY_ASSIGN(Bytes stanza,
               crypto::wrap_key(new_public, data_key.view(), stanza_context(repo_id)));
    constexpr size_t stanza_at = k_pack_header_size - crypto::k_stanza_size;
    Bytes out(header.begin(), header.begin() + stanza_at);
    append(out, stanza);
    return out;
}

Result<Bytes> open_record(const KeyRing& keys, ByteView key, const PackEntry& e, ByteView record) {
    std::string label = chunk_type_name(e.type).data() + std::string(" chunk ") + e.id.short_hex();
    if (record.size() < k_record_overhead + 1 || record.size() != e.length)
        return corruption(label + " has the wrong stored length");
    SecretBytes ck = chunk_key(keys, key, e.type, e.id);
    ByteView nonce = record.subspan(0, crypto::k_gcm_nonce_size);
    ByteView body = record.subspan(crypto::k_gcm_nonce_size);
    Bytes payload(body.size() - crypto::k_gcm_tag_size);
    Status st =
        crypto::aes_gcm_open_into(ck.view(), nonce, record_aad(e.type, e.id), body, payload);
    if (!st.ok()) return integrity_error(label + " failed authentication");
    if (payload[0] == 0) {
        if (payload.size() - 1 != e.raw_length)
            return corruption(label + " has the wrong plaintext length");
        payload.erase(payload.begin());
        return payload;
    }
    if (payload[0] != 1)
        return corruption(label + " has unknown compression " + std::to_string(payload[0]));
    auto out = zstd_decompress(ByteView(payload).subspan(1), e.raw_length);
    if (!out.ok()) return out.status().with_context(label);
    return out;
}

Result<std::vector<PackEntry>> read_pack_trailer(const KeyRing& keys, ByteView pack,
                                                 const std::string& label) {
    if (pack.size() < k_pack_header_size + 4) return corruption("pack " + label + " is truncated");
    return read_pack_trailer(keys, pack.subspan(0, k_pack_header_size), pack, pack.size(), label);
}

Result<std::vector<PackEntry>> read_pack_trailer(const KeyRing& keys, ByteView header_bytes,
                                                 ByteView tail, uint64_t pack_size,
                                                 const std::string& label) {
    TRY_ASSIGN(PackHeader header, parse_pack_header(header_bytes, label));
    if (!ct_equal(header.key_id, keys.key_id))
        return not_found("pack " + label + " was written by another host key (" +
                         to_hex(header.key_id) + ")");
    if (pack_size < k_pack_header_size + 4 || tail.size() < 4 || tail.size() > pack_size)
        return corruption("pack " + label + " is truncated");
    uint32_t trailer_len = load_le32(tail.data() + tail.size() - 4);
    if (trailer_len < k_record_overhead || trailer_len > pack_size - 4 - k_pack_header_size ||
        trailer_len > tail.size() - 4)
        return corruption("pack " + label + " has an invalid trailer length");
    uint64_t trailer_off = pack_size - 4 - trailer_len;
    ByteView trailer = tail.subspan(tail.size() - 4 - trailer_len, trailer_len);
    ByteView nonce = trailer.subspan(0, crypto::k_gcm_nonce_size);
    ByteView sealed = trailer.subspan(crypto::k_gcm_nonce_size);
    auto plain = crypto::aes_gcm_open(keys.trailer_key.view(), nonce,
                                      header_bytes.subspan(0, k_pack_header_size), sealed);
    if (!plain.ok()) return integrity_error("pack " + label + " trailer failed authentication");
    Reader r(*plain);
    uint64_t n;
    if (!r.varint(n) || n > plain->size() / 36)
        return corruption("pack " + label + " trailer is malformed");
    std::vector<PackEntry> entries(n);
    uint64_t expect_offset = k_pack_header_size;
    for (auto& e : entries) {
        uint8_t type;
        uint64_t off, len, raw;
        if (!r.id(e.id) || !r.u8(type) || !valid_chunk_type(type) || !r.varint(off) ||
            !r.varint(len) || !r.varint(raw) || off != expect_offset || len > trailer_off - off ||
            raw > (64u << 20))
            return corruption("pack " + label + " trailer is malformed");
        e.type = static_cast<ChunkType>(type);
        e.offset = static_cast<uint32_t>(off);
        e.length = static_cast<uint32_t>(len);
        e.raw_length = static_cast<uint32_t>(raw);
        expect_offset = off + len;
    }
    if (!r.done() || expect_offset != trailer_off)
        return corruption("pack " + label + " records do not tile the pack");
    return entries;
}

Result<FinishedPack> repack_entries(const KeyRing& keys, const Id& pack, ByteView bytes,
                                    const std::vector<PackEntry>& entries, std::string_view who,
                                    ByteView new_header) {
    if (crypto::sha256(bytes) != pack)
        return integrity_error("pack " + pack.short_hex() +
                               " does not match its name: " + std::string(who) +
                               " copies nothing from a damaged pack; run 'coffer verify'");
    // An index entry that disagrees with the trailer would otherwise copy the wrong bytes.
    TRY_ASSIGN(auto trailer, read_pack_trailer(keys, bytes, pack.short_hex()));
    std::unordered_map<Id, PackEntry, IdHash> in_pack;
    for (const auto& e : trailer) in_pack[e.id] = e;
    std::vector<std::pair<PackEntry, ByteView>> records;
    for (const auto& e : entries) {
        auto t = in_pack.find(e.id);
        if (t == in_pack.end() || t->second.offset != e.offset || t->second.length != e.length ||
            t->second.type != e.type || t->second.raw_length != e.raw_length)
            return integrity_error("index entry for chunk " + e.id.short_hex() +
                                   " disagrees with pack " + pack.short_hex() + ": " +
                                   std::string(who) + " copies nothing; run 'coffer verify'");
        records.emplace_back(e, ByteView(bytes.data() + e.offset, e.length));
    }
    return rewrite_pack(
        keys, new_header.empty() ? ByteView(bytes.data(), k_pack_header_size) : new_header,
        records);
}

}  // namespace coffer::repo
