// Packs: the files that hold encrypted chunks.
//
//   header  = "CFRP" | version(1) | key_id(16) | stanza(112)       (the data key, sealed to the
//             recovery public key; stanza context = "coffer pack stanza v1" || repo_id)
//   records = per chunk: nonce(12) | AES-256-GCM(chunk_key, nonce, aad, payload) | tag(16)
//             payload   = compression(1: 0 none, 1 zstd) || bytes
//             chunk_key = HKDF(data_key, or metadata_key for refs chunks; salt = repo_id,
//                              info = "coffer chunk v1" || type || id)
//             aad       = "CFRC" || type || id
//   trailer = nonce(12) | AES-256-GCM(trailer_key, nonce, aad = header, entry list) | tag(16)
//             | u32le length of the trailer so far
// A pack's name is the SHA-256 of all its bytes. PackWriter is thread-compatible (one writer
// per thread); the free functions are thread-safe.
#pragma once

#include <vector>

#include "coffer/repo/keyring.h"

namespace coffer::repo {

struct PackEntry {
    Id id;
    ChunkType type = ChunkType::data;
    uint32_t offset = 0;      // of the record within the pack
    uint32_t length = 0;      // of the record (nonce + ciphertext + tag)
    uint32_t raw_length = 0;  // of the chunk's plaintext
};

struct FinishedPack {
    Id id;
    Bytes bytes;
    std::vector<PackEntry> entries;
};

class PackWriter {
public:
    // buffer: a finished pack's bytes to reuse (its capacity, not its contents); expected_size:
    // how large the pack will grow, reserved up front.
    static Result<PackWriter> create(std::shared_ptr<const KeyRing> keys, int zstd_level,
                                     Bytes buffer = {}, size_t expected_size = 0);

    // Compresses (kept only if it saves at least 1/16), encrypts and appends one chunk.
    Status add(const Id& id, ChunkType type, ByteView plaintext);
    size_t size() const { return m_bytes.size(); }
    size_t count() const { return m_entries.size(); }
    // Appends the trailer and names the pack. The writer is empty afterwards.
    Result<FinishedPack> finish();

private:
    PackWriter() = default;
    std::shared_ptr<const KeyRing> m_keys;
    int m_zstd_level = 3;
    SecretBytes m_data_key;
    Bytes m_bytes;
    std::vector<PackEntry> m_entries;
};

// For prune: a smaller copy of a pack holding only some of its records. It keeps the pack's
// header, and with it the data key sealed to the recovery key, and copies each record byte for
// byte (a record's key and AAD depend on its chunk ID, not its offset), then seals a new
// trailer. Needs only the metadata key: nothing is decrypted or encrypted again, so the host
// can repack without being able to read. header is the old pack's first k_pack_header_size
// bytes; each record must be exactly entry.length bytes. Offsets in the result are new.
Result<FinishedPack> rewrite_pack(const KeyRing& keys, ByteView header,
                                  const std::vector<std::pair<PackEntry, ByteView>>& records);

// rewrite_pack() of the whole pack `bytes` (named pack), keeping the records of entries (from
// the index). Copied records are never decrypted, so the pack's hash and its trailer are what
// prove them and their places: Code::integrity, saying that `who` ("prune", "export") copies
// nothing, when the bytes do not match the name or an entry disagrees with the trailer.
// With new_header (rewrap), the copy carries that header instead of the pack's own.
Result<FinishedPack> repack_entries(const KeyRing& keys, const Id& pack, ByteView bytes,
                                    const std::vector<PackEntry>& entries, std::string_view who,
                                    ByteView new_header = {});

struct PackHeader {
    Bytes key_id;
    Bytes stanza;
};
Result<PackHeader> parse_pack_header(ByteView header, const std::string& pack_label);
// Unwraps the pack's data key with the recovery private key.
Result<SecretBytes> open_data_key(const KeyRing& keys, const PackHeader& header,
                                  const std::string& pack_label);
// The same with a given X25519 private key (a recovery key rotated out, during rewrap).
Result<SecretBytes> open_data_key_with(ByteView recovery_private, const Id& repo_id,
                                       const PackHeader& header, const std::string& pack_label);
// For rewrap: the header with the pack's data key unwrapped with old_private and wrapped
// again to new_public; records and trailer key stay as they are.
Result<Bytes> rewrap_pack_header(ByteView header, ByteView old_private, ByteView new_public,
                                 const Id& repo_id, const std::string& pack_label);
// Decrypts one record. key is the pack's data key, or the metadata key for refs chunks.
// Checks the plaintext length. Does NOT recompute the chunk ID: the caller does (it has the MAC).
Result<Bytes> open_record(const KeyRing& keys, ByteView key, const PackEntry& entry,
                          ByteView record);
// Reads a whole pack's trailer (needs the metadata key of the writer, i.e. keys.key_id must
// equal the pack's key_id). Code::corruption naming the pack on any inconsistency.
Result<std::vector<PackEntry>> read_pack_trailer(const KeyRing& keys, ByteView pack,
                                                 const std::string& pack_label);
// The same from the pack's first k_pack_header_size bytes and a tail of its last bytes (at
// least the trailer and its length), for callers that do not hold the whole pack.
Result<std::vector<PackEntry>> read_pack_trailer(const KeyRing& keys, ByteView header,
                                                 ByteView tail, uint64_t pack_size,
                                                 const std::string& pack_label);

}  // namespace coffer::repo
