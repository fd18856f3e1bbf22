#include "coffer/repo/meta.h"

namespace coffer::repo {

namespace {

constexpr size_t k_sig = crypto::k_ed25519_signature_size;

Bytes signed_message(const Id& repo_id, ByteView body) {
    Bytes m = to_bytes(info::meta_signature);
    append(m, repo_id.view());
    append(m, body);
    return m;
}

Bytes meta_aad(ByteView header, const Id& repo_id) {
    Bytes aad(header.begin(), header.end());
    append(aad, repo_id.view());
    return aad;
}

}  // namespace

Result<Bytes> seal_meta(const KeyRing& keys, MetaType type, ByteView payload) {
    Bytes out = to_bytes(k_meta_magic);
    out.push_back(k_object_version);
    out.push_back(static_cast<uint8_t>(type));
    append(out, keys.key_id);
    Bytes nonce = crypto::random_bytes(crypto::k_gcm_nonce_size);
    append(out, nonce);
    TRY_ASSIGN(Bytes sealed, crypto::aes_gcm_seal(keys.meta_enc_key.view(), nonce,
                                                  meta_aad(out, keys.repo_id), payload));
    append(out, sealed);
    TRY_ASSIGN(Bytes sig,
               crypto::ed25519_sign(keys.signing_seed.view(), signed_message(keys.repo_id, out)));
    append(out, sig);
    return out;
}

Result<MetaHeader> parse_meta_header(ByteView object, const std::string& label) {
    if (object.size() < k_meta_header_size + crypto::k_gcm_tag_size + k_sig ||
        as_chars(object.subspan(0, 4)) != k_meta_magic)
        return corruption(label + " is not a coffer metadata object");
    if (object[4] != k_object_version)
        return corruption(label + " has unknown version " + std::to_string(object[4]));
    uint8_t type = object[5];
    if (type != static_cast<uint8_t>(MetaType::index) &&
        type != static_cast<uint8_t>(MetaType::snapshot) &&
        type != static_cast<uint8_t>(MetaType::tombstone) &&
        type != static_cast<uint8_t>(MetaType::host_config))
        return corruption(label + " has unknown type " + std::to_string(type));
    return MetaHeader{static_cast<MetaType>(type),
                      Bytes(object.begin() + 6, object.begin() + 6 + k_key_id_size)};
}

Status verify_meta_signature(ByteView object, ByteView signing_public_key, const Id& repo_id,
                             const std::string& label) {
    if (object.size() < k_sig) return corruption(label + " is truncated");
    ByteView body = object.subspan(0, object.size() - k_sig);
    ByteView sig = object.subspan(object.size() - k_sig);
    if (!crypto::ed25519_verify(signing_public_key, signed_message(repo_id, body), sig))
        return integrity_error(label + " signature does not verify");
    return ok_status();
}

Result<Bytes> open_meta(const KeyRing& keys, ByteView object, MetaType expected,
                        const std::string& label) {
    TRY_ASSIGN(MetaHeader h, parse_meta_header(object, label));
    if (h.type != expected) return corruption(label + " has the wrong object type");
    if (!ct_equal(h.key_id, keys.key_id))
        return not_found(label + " belongs to another host key (" + to_hex(h.key_id) + ")");
    TRY(verify_meta_signature(object, keys.signing_public_key, keys.repo_id, label));
    ByteView header = object.subspan(0, k_meta_header_size);
    ByteView nonce = object.subspan(k_meta_header_size - 12, 12);
    ByteView sealed =
        object.subspan(k_meta_header_size, object.size() - k_meta_header_size - k_sig);
    auto plain = crypto::aes_gcm_open(keys.meta_enc_key.view(), nonce,
                                      meta_aad(header, keys.repo_id), sealed);
    if (!plain.ok()) return integrity_error(label + " failed authentication");
    return plain;
}

}  // namespace coffer::repo
