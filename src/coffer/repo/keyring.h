// KeyRing: the keys one open repository works with, derived once from the host key (and, when
// given, the recovery key). Owned by Repository, shared read-only with pack writers and readers
// on every thread (all members are const after construction).
#pragma once

#include <memory>
#include <optional>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/keys.h"

namespace coffer::repo {

struct KeyRing {
    Id repo_id;
    Bytes key_id;
    Bytes recovery_public_key;
    SecretBytes metadata_key;  // host secret; refs chunks are keyed from it
    SecretBytes meta_enc_key;  // HKDF(metadata_key): index and snapshot envelopes
    SecretBytes trailer_key;   // HKDF(metadata_key): pack trailers
    SecretBytes chunk_id_key;
    std::unique_ptr<crypto::HmacSha256> chunk_mac;
    SecretBytes signing_seed;
    Bytes signing_public_key;
    std::optional<SecretBytes> recovery_private_key;  // only when the recovery key was given

    // rotated_out: recovery is a key a rotation replaced (repo/rotation.h), checked by the
    // caller; it opens the packs still sealed to it, not the host's recorded one.
    static Result<std::shared_ptr<const KeyRing>> from_host_key(const HostKey& host,
                                                                const RecoveryKey* recovery,
                                                                bool rotated_out = false);

    // Chunk ID = HMAC-SHA256(chunk_id_key, type || plaintext).
    Id chunk_id(ChunkType type, ByteView plaintext) const;
    bool can_read_data() const { return recovery_private_key.has_value(); }
};

}  // namespace coffer::repo
