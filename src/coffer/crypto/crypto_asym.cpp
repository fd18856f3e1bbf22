// Asymmetric primitives (X25519, Ed25519) and what is built on them: key-wrapping stanzas and
// sealed boxes. The symmetric half is in crypto.cpp.
#include "coffer/crypto/crypto.h"
#include "coffer/crypto/openssl_util.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

namespace coffer::crypto {
namespace {

using detail::Deleter;
using detail::fatal;
using detail::library_failure;
using detail::nonnull;

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;

PkeyPtr import_private(int type, ByteView raw) {
    return PkeyPtr(EVP_PKEY_new_raw_private_key(type, nullptr, raw.data(), raw.size()));
}

PkeyPtr import_public(int type, ByteView raw) {
    return PkeyPtr(EVP_PKEY_new_raw_public_key(type, nullptr, raw.data(), raw.size()));
}

Result<Bytes> raw_public_key(int type, ByteView private_raw) {
    PkeyPtr key = import_private(type, private_raw);
    if (!key) return library_failure("private key import failed");
    Bytes pub(32);
    size_t len = pub.size();
    if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 || len != pub.size())
        return library_failure("public key derivation failed");
    return pub;
}

constexpr std::string_view k_wrap_info = "coffer x25519 wrap v1";
constexpr std::string_view k_stanza_mac_info = "coffer stanza mac v1";
constexpr std::string_view k_sealed_info = "coffer sealed payload v1";
constexpr size_t k_stanza_ct_offset = k_x25519_size;                          // 32
constexpr size_t k_stanza_mac_offset = k_stanza_ct_offset + k_key_size + 16;  // 80
constexpr size_t k_sealed_overhead = k_stanza_size + k_gcm_nonce_size + k_gcm_tag_size;
static_assert(k_stanza_mac_offset + 32 == k_stanza_size);

// HKDF(shared, salt = eph_pub || recipient_pub, info = wrap info).
SecretBytes derive_wrap_key(ByteView shared, ByteView ephemeral_public, ByteView recipient_public) {
    Bytes salt(ephemeral_public.begin(), ephemeral_public.end());
    append(salt, recipient_public);
    return hkdf_sha256(shared, salt, as_bytes(k_wrap_info), k_key_size);
}

// HMAC(HKDF(file_key, info = mac info), context || stanza[0, 80)).
Id stanza_mac(ByteView file_key, ByteView context, ByteView stanza_body) {
    SecretBytes mac_key = hkdf_sha256(file_key, {}, as_bytes(k_stanza_mac_info), k_key_size);
    return HmacSha256(mac_key.view()).compute(context, stanza_body);
}

}  // namespace

// ---- X25519 ----

X25519KeyPair x25519_generate() {
    X25519KeyPair kp;
    kp.private_key = random_secret(k_x25519_size);
    auto pub = x25519_public_from_private(kp.private_key.view());
    if (!pub.ok()) fatal("x25519 key generation failed");
    kp.public_key = std::move(pub).value();
    return kp;
}

Result<Bytes> x25519_public_from_private(ByteView private_key) {
    if (private_key.size() != k_x25519_size)
        return invalid_argument("x25519 private key must be 32 bytes");
    return raw_public_key(EVP_PKEY_X25519, private_key);
}

Result<SecretBytes> x25519(ByteView private_key, ByteView peer_public) {
    if (private_key.size() != k_x25519_size)
        return invalid_argument("x25519 private key must be 32 bytes");
    if (peer_public.size() != k_x25519_size)
        return invalid_argument("x25519 public key must be 32 bytes");
    PkeyPtr mine = import_private(EVP_PKEY_X25519, private_key);
    PkeyPtr peer = import_public(EVP_PKEY_X25519, peer_public);
    if (!mine || !peer) return library_failure("x25519 key import failed");
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new(mine.get(), nullptr));
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
        EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1)
        return library_failure("x25519 setup failed");
    SecretBytes shared(k_x25519_size);
    size_t len = shared.size();
    // OpenSSL itself refuses an all-zero result; that is the only input-dependent failure here.
    if (EVP_PKEY_derive(ctx.get(), shared.data(), &len) != 1 || len != shared.size() ||
        sodium_is_zero(shared.data(), shared.size())) {
        ERR_clear_error();
        return wrong_key("x25519 shared secret is zero (low-order public key)");
    }
    return shared;
}

// ---- Ed25519 ----

Ed25519KeyPair ed25519_generate() {
    Ed25519KeyPair kp;
    kp.seed = random_secret(k_ed25519_seed_size);
    auto pub = ed25519_public_from_seed(kp.seed.view());
    if (!pub.ok()) fatal("ed25519 key generation failed");
    kp.public_key = std::move(pub).value();
    return kp;
}

Result<Bytes> ed25519_public_from_seed(ByteView seed) {
    if (seed.size() != k_ed25519_seed_size)
        return invalid_argument("ed25519 seed must be 32 bytes");
    return raw_public_key(EVP_PKEY_ED25519, seed);
}

Result<Bytes> ed25519_sign(ByteView seed, ByteView message) {
    if (seed.size() != k_ed25519_seed_size)
        return invalid_argument("ed25519 seed must be 32 bytes");
    PkeyPtr key = import_private(EVP_PKEY_ED25519, seed);
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!key || !ctx) return library_failure("ed25519 key import failed");
    Bytes sig(k_ed25519_signature_size);
    size_t len = sig.size();
    if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), sig.data(), &len, nonnull(message), message.size()) != 1 ||
        len != sig.size())
        return library_failure("ed25519 signing failed");
    return sig;
}

bool ed25519_verify(ByteView public_key, ByteView message, ByteView signature) {
    if (public_key.size() != k_ed25519_public_size || signature.size() != k_ed25519_signature_size)
        return false;
    PkeyPtr key = import_public(EVP_PKEY_ED25519, public_key);
    MdCtxPtr ctx(EVP_MD_CTX_new());
    bool ok = key && ctx &&
              EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
              EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), nonnull(message),
                               message.size()) == 1;
    if (!ok) ERR_clear_error();
    return ok;
}

// ---- key wrapping ----

Result<Bytes> wrap_key(ByteView recipient_public, ByteView file_key, ByteView context) {
    if (recipient_public.size() != k_x25519_size)
        return invalid_argument("recipient public key must be 32 bytes");
    if (file_key.size() != k_key_size) return invalid_argument("file key must be 32 bytes");
    X25519KeyPair ephemeral = x25519_generate();
    TRY_ASSIGN(SecretBytes shared, x25519(ephemeral.private_key.view(), recipient_public));
    SecretBytes wrap = derive_wrap_key(shared.view(), ephemeral.public_key, recipient_public);

    Bytes stanza(k_stanza_size);
    std::copy(ephemeral.public_key.begin(), ephemeral.public_key.end(), stanza.begin());
    const uint8_t zero_nonce[k_gcm_nonce_size] = {};
    TRY(aes_gcm_seal_into(wrap.view(), zero_nonce, context, file_key,
                          std::span(stanza).subspan(k_stanza_ct_offset, k_key_size + 16)));
    Id mac = stanza_mac(file_key, context, ByteView(stanza).first(k_stanza_mac_offset));
    std::copy(mac.bytes.begin(), mac.bytes.end(), stanza.begin() + k_stanza_mac_offset);
    return stanza;
}

Result<SecretBytes> unwrap_key(ByteView recipient_private, ByteView stanza, ByteView context) {
    if (recipient_private.size() != k_x25519_size)
        return invalid_argument("recipient private key must be 32 bytes");
    if (stanza.size() != k_stanza_size) return corruption("key stanza has the wrong size");
    const Status mismatch = wrong_key("key stanza does not open with this key (or is damaged)");

    ByteView ephemeral_public = stanza.first(k_x25519_size);
    auto shared = x25519(recipient_private, ephemeral_public);
    if (!shared.ok()) return shared.status().code() == Code::wrong_key ? mismatch : shared.status();
    TRY_ASSIGN(Bytes recipient_public, x25519_public_from_private(recipient_private));
    SecretBytes wrap = derive_wrap_key(shared->view(), ephemeral_public, recipient_public);

    SecretBytes file_key(k_key_size);
    const uint8_t zero_nonce[k_gcm_nonce_size] = {};
    Status st =
        aes_gcm_open_into(wrap.view(), zero_nonce, context,
                          stanza.subspan(k_stanza_ct_offset, k_key_size + 16), file_key.span());
    if (!st.ok()) return st.code() == Code::integrity ? mismatch : st;

    Id mac = stanza_mac(file_key.view(), context, stanza.first(k_stanza_mac_offset));
    if (!ct_equal(mac.view(), stanza.subspan(k_stanza_mac_offset))) return mismatch;
    return file_key;
}

// ---- sealed boxes ----

Result<Bytes> seal_to(ByteView recipient_public, ByteView plaintext, ByteView context) {
    SecretBytes file_key = random_secret(k_key_size);
    TRY_ASSIGN(Bytes sealed, wrap_key(recipient_public, file_key.view(), context));
    SecretBytes payload_key = hkdf_sha256(file_key.view(), {}, as_bytes(k_sealed_info), k_key_size);
    sealed.resize(k_sealed_overhead + plaintext.size());
    std::span<uint8_t> nonce = std::span(sealed).subspan(k_stanza_size, k_gcm_nonce_size);
    random_bytes(nonce);
    TRY(aes_gcm_seal_into(payload_key.view(), nonce, context, plaintext,
                          std::span(sealed).subspan(k_stanza_size + k_gcm_nonce_size)));
    return sealed;
}

Result<SecretBytes> open_sealed(ByteView recipient_private, ByteView sealed, ByteView context) {
    if (sealed.size() < k_sealed_overhead) return corruption("sealed box is too short");
    TRY_ASSIGN(SecretBytes file_key,
               unwrap_key(recipient_private, sealed.first(k_stanza_size), context));
    SecretBytes payload_key = hkdf_sha256(file_key.view(), {}, as_bytes(k_sealed_info), k_key_size);
    ByteView nonce = sealed.subspan(k_stanza_size, k_gcm_nonce_size);
    ByteView payload = sealed.subspan(k_stanza_size + k_gcm_nonce_size);
    SecretBytes plaintext(payload.size() - k_gcm_tag_size);
    Status st = aes_gcm_open_into(payload_key.view(), nonce, context, payload, plaintext.span());
    if (!st.ok()) {
        if (st.code() == Code::integrity)
            return integrity_error("sealed box failed authentication");
        return st;
    }
    return plaintext;
}

}  // namespace coffer::crypto
