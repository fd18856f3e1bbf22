#include "coffer/repo/keyring.h"

namespace coffer::repo {

Result<std::shared_ptr<const KeyRing>> KeyRing::from_host_key(const HostKey& host,
                                                              const RecoveryKey* recovery,
                                                              bool rotated_out) {
    auto ring = std::make_shared<KeyRing>();
    ring->repo_id = host.repository_id;
    ring->key_id = host.key_id;
    ring->recovery_public_key = host.recovery_public_key;
    ring->metadata_key = host.metadata_key;
    ring->meta_enc_key = crypto::hkdf_sha256(host.metadata_key.view(), host.repository_id.view(),
                                             as_bytes(info::metadata), 32);
    ring->trailer_key = crypto::hkdf_sha256(host.metadata_key.view(), host.repository_id.view(),
                                            as_bytes(info::pack_trailer), 32);
    ring->chunk_id_key = host.chunk_id_key;
    ring->chunk_mac = std::make_unique<crypto::HmacSha256>(host.chunk_id_key.view());
    ring->signing_seed = host.signing_seed;
    ring->signing_public_key = host.signing_public_key;
    if (recovery) {
        if (!rotated_out && !ct_equal(recovery->public_key, host.recovery_public_key))
            return wrong_key("recovery key does not match repository " +
                             host.repository_id.short_hex());
        ring->recovery_private_key = recovery->private_key;
    }
    return std::shared_ptr<const KeyRing>(std::move(ring));
}

Id KeyRing::chunk_id(ChunkType type, ByteView plaintext) const {
    uint8_t t = static_cast<uint8_t>(type);
    return chunk_mac->compute(ByteView(&t, 1), plaintext);
}

}  // namespace coffer::repo
