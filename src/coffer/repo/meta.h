// The envelope of metadata objects (index files and snapshot manifests):
//
//   "CFRM" | version(1) | type(1) | key_id(16) | nonce(12) | AES-256-GCM(meta_enc_key, nonce,
//   aad = header || repo_id, payload) | tag(16) | Ed25519 signature(64)
//
// The signature covers "coffer metadata signature v1" || repo_id || every byte before it, with
// the writing host's signing key, so anyone holding the public key registry can check who wrote
// an object without any secret, and an object cannot be moved to another repository.
// Thread-safe free functions.
#pragma once

#include "coffer/repo/keyring.h"

namespace coffer::repo {

constexpr size_t k_meta_header_size = 4 + 1 + 1 + k_key_id_size + 12;

struct MetaHeader {
    MetaType type;
    Bytes key_id;
};

Result<Bytes> seal_meta(const KeyRing& keys, MetaType type, ByteView payload);
// Shape only: magic, version, type, length. Code::corruption naming label otherwise.
Result<MetaHeader> parse_meta_header(ByteView object, const std::string& label);
// Code::integrity "… signature does not verify" on a bad signature.
Status verify_meta_signature(ByteView object, ByteView signing_public_key, const Id& repo_id,
                             const std::string& label);
// Decrypts with keys.meta_enc_key. The signature is checked too (with keys' own public key when
// the object is keys' own, which is the only case the metadata key can decrypt anyway).
Result<Bytes> open_meta(const KeyRing& keys, ByteView object, MetaType expected,
                        const std::string& label);

}  // namespace coffer::repo
