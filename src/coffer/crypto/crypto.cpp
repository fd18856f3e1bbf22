// Symmetric primitives (init, randomness, SHA-256, HMAC, HKDF, AES-256-GCM). The asymmetric half
// (X25519, Ed25519, key wrapping, sealed boxes) is in crypto_asym.cpp.
#include "coffer/crypto/crypto.h"
#include "coffer/crypto/openssl_util.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>

namespace coffer::crypto {
namespace {

using detail::Deleter;
using detail::fatal;
using detail::library_failure;
using detail::nonnull;

// Algorithms fetched once per process (explicit fetches avoid a lookup per operation). Never
// freed: they must outlive every thread's contexts, and the process exit reclaims them.
struct Algorithms {
    EVP_MD* sha256 = nullptr;
    EVP_MAC* hmac = nullptr;
    EVP_KDF* hkdf = nullptr;
    EVP_CIPHER* aes_gcm = nullptr;
};

const Algorithms& algorithms() {
    static const Algorithms algs = [] {
        Algorithms a;
        a.sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
        a.hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        a.hkdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
        a.aes_gcm = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
        ERR_clear_error();
        return a;
    }();
    return algs;
}

const EVP_MD* sha256_md() {
    const EVP_MD* md = algorithms().sha256;
    if (!md) fatal("sha-256 is not available");
    return md;
}

using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, Deleter<EVP_KDF_CTX_free>>;

}  // namespace

// ---- init and randomness ----

Status init() {
    if (sodium_init() < 0) return internal_error("libsodium failed to initialise");
    const Algorithms& a = algorithms();
    if (!a.sha256 || !a.hmac || !a.hkdf || !a.aes_gcm)
        return internal_error("openssl lacks sha-256, hmac, hkdf or aes-256-gcm");
    return ok_status();
}

void random_bytes(std::span<uint8_t> out) {
    if (!out.empty()) randombytes_buf(out.data(), out.size());
}

Bytes random_bytes(size_t n) {
    Bytes out(n);
    random_bytes(std::span<uint8_t>(out));
    return out;
}

Result<SecretBytes> argon2id(ByteView passphrase, ByteView salt, uint64_t ops, uint64_t mem_bytes,
                             size_t length) {
    if (salt.size() != crypto_pwhash_SALTBYTES || ops < crypto_pwhash_OPSLIMIT_MIN ||
        ops > crypto_pwhash_OPSLIMIT_MAX || mem_bytes < crypto_pwhash_MEMLIMIT_MIN ||
        mem_bytes > crypto_pwhash_MEMLIMIT_MAX || length < crypto_pwhash_BYTES_MIN ||
        length > crypto_pwhash_BYTES_MAX)
        return invalid_argument("Argon2id parameters out of range (ops " + std::to_string(ops) +
                                ", memory " + std::to_string(mem_bytes) + " bytes)");
    SecretBytes key(length);
    if (crypto_pwhash(key.data(), key.size(), reinterpret_cast<const char*>(passphrase.data()),
                      passphrase.size(), salt.data(), ops, static_cast<size_t>(mem_bytes),
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return io_error("Argon2id needs " + std::to_string(mem_bytes >> 20) +
                        " MiB of memory, which could not be had");
    return key;
}

SecretBytes random_secret(size_t n) {
    SecretBytes out(n);
    random_bytes(out.span());
    return out;
}

// ---- base64 ----

std::string base64_encode(ByteView data) {
    constexpr int k_variant = sodium_base64_VARIANT_ORIGINAL;
    // The size includes the terminating NUL that sodium_bin2base64 writes.
    std::string out(sodium_base64_ENCODED_LEN(data.size(), k_variant), '\0');
    sodium_bin2base64(out.data(), out.size(), nonnull(data), data.size(), k_variant);
    out.pop_back();
    return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    if (text.empty()) return Bytes{};  // libsodium's arguments must not be null
    // libsodium 1.0.18 decodes bytes >= 0x80 as '/' (a signed char): only the alphabet and
    // padding may reach it, or one byte string would have several accepted encodings.
    for (char c : text)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            return std::nullopt;
    Bytes out(text.size() / 4 * 3);
    size_t len = 0;
    // No ignore set and a null end pointer: libsodium then fails unless the whole input is one
    // padded encoding whose unused trailing bits are zero.
    if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return std::nullopt;
    out.resize(len);
    return out;
}

std::optional<SecretBytes> key_from_text(ByteView file) {
    if (file.size() == k_key_size) return SecretBytes(file);
    std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    if (text.starts_with("base64:")) text.remove_prefix(7);
    if (text.empty()) return std::nullopt;
    // Decoded straight into the wiped buffer, with room for one byte more than a key so that a
    // longer value is refused rather than cut.
    SecretBytes key(k_key_size + 1);
    size_t len = 0;
    int rc = text.size() == 2 * k_key_size
                 ? sodium_hex2bin(key.data(), key.size(), text.data(), text.size(), nullptr, &len,
                                  nullptr)
                 : sodium_base642bin(key.data(), key.size(), text.data(), text.size(), nullptr,
                                     &len, nullptr, sodium_base64_VARIANT_ORIGINAL);
    if (rc != 0 || len != k_key_size) return std::nullopt;
    return SecretBytes(key.view().first(k_key_size));
}

// ---- SHA-256 ----

Id sha256(ByteView data) {
    Id id;
    unsigned int len = 0;
    if (EVP_Digest(nonnull(data), data.size(), id.bytes.data(), &len, sha256_md(), nullptr) != 1 ||
        len != id.bytes.size())
        fatal("sha-256 failed");
    return id;
}

Bytes md5(ByteView data) {
    Bytes out(16);
    unsigned int len = 0;
    // The default provider has MD5; a FIPS-only configuration does not, which is a setup error.
    if (EVP_Digest(nonnull(data), data.size(), out.data(), &len, EVP_md5(), nullptr) != 1 ||
        len != out.size())
        fatal("md5 failed (is the OpenSSL default provider loaded?)");
    return out;
}

struct Sha256::Impl {
    EVP_MD_CTX* ctx = nullptr;
    ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : m_impl(std::make_unique<Impl>()) {
    m_impl->ctx = EVP_MD_CTX_new();
    if (!m_impl->ctx || EVP_DigestInit_ex2(m_impl->ctx, sha256_md(), nullptr) != 1)
        fatal("sha-256 init failed");
}

Sha256::~Sha256() = default;

void Sha256::update(ByteView data) {
    if (data.empty()) return;
    if (EVP_DigestUpdate(m_impl->ctx, data.data(), data.size()) != 1) fatal("sha-256 failed");
}

Id Sha256::finish() {
    Id id;
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(m_impl->ctx, id.bytes.data(), &len) != 1 || len != id.bytes.size())
        fatal("sha-256 failed");
    return id;
}

// ---- HMAC-SHA256 ----

// The keyed context is prepared once; compute() duplicates it (cheap: copies the inner and outer
// hash states) so the key is never re-processed and the shared context is only ever read.
struct HmacSha256::Impl {
    MacCtxPtr ctx;
};

HmacSha256::HmacSha256(ByteView key) : m_impl(std::make_unique<Impl>()) {
    EVP_MAC* mac = algorithms().hmac;
    if (!mac) fatal("hmac is not available");
    m_impl->ctx.reset(EVP_MAC_CTX_new(mac));
    if (!m_impl->ctx) fatal("hmac context allocation failed");
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(m_impl->ctx.get(), nonnull(key), key.size(), params) != 1)
        fatal("hmac-sha256 init failed");
}

HmacSha256::~HmacSha256() = default;

Id HmacSha256::compute(ByteView prefix, ByteView data) const {
    MacCtxPtr ctx(EVP_MAC_CTX_dup(m_impl->ctx.get()));
    if (!ctx) fatal("hmac context allocation failed");
    if (!prefix.empty() && EVP_MAC_update(ctx.get(), prefix.data(), prefix.size()) != 1)
        fatal("hmac-sha256 failed");
    if (!data.empty() && EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1)
        fatal("hmac-sha256 failed");
    Id id;
    size_t len = 0;
    if (EVP_MAC_final(ctx.get(), id.bytes.data(), &len, id.bytes.size()) != 1 ||
        len != id.bytes.size())
        fatal("hmac-sha256 failed");
    return id;
}

Id hmac_sha256(ByteView key, ByteView data) {
    return HmacSha256(key).compute(data);
}

// ---- HKDF-SHA256 ----

SecretBytes hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, size_t length) {
    if (length > 255 * 32) fatal("hkdf-sha256 output length exceeds 255*32 bytes");
    if (length == 0) return {};
    EVP_KDF* kdf = algorithms().hkdf;
    if (!kdf) fatal("hkdf is not available");
    KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf));
    if (!ctx) fatal("hkdf context allocation failed");
    // Absent salt means HashLen zero bytes (RFC 5869 §2.2), which OpenSSL does when none is set.
    OSSL_PARAM params[5];
    size_t n = 0;
    params[n++] =
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                    const_cast<uint8_t*>(nonnull(ikm)), ikm.size());
    if (!salt.empty())
        params[n++] = OSSL_PARAM_construct_octet_string(
            OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()), salt.size());
    if (!info.empty())
        params[n++] = OSSL_PARAM_construct_octet_string(
            OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(info.data()), info.size());
    params[n] = OSSL_PARAM_construct_end();
    SecretBytes out(length);
    if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) fatal("hkdf-sha256 failed");
    return out;
}

// ---- AES-256-GCM ----

namespace {

// One cipher context per thread, bound to AES-256-GCM once; each operation only re-keys it.
EVP_CIPHER_CTX* thread_gcm_ctx() {
    struct Holder {
        EVP_CIPHER_CTX* ctx = nullptr;
        ~Holder() { EVP_CIPHER_CTX_free(ctx); }
    };
    thread_local Holder holder;
    if (!holder.ctx) {
        const EVP_CIPHER* cipher = algorithms().aes_gcm;
        if (!cipher) return nullptr;
        EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
        if (!ctx) return nullptr;
        if (EVP_CipherInit_ex2(ctx, cipher, nullptr, nullptr, 1, nullptr) != 1) {
            EVP_CIPHER_CTX_free(ctx);
            return nullptr;
        }
        holder.ctx = ctx;
    }
    return holder.ctx;
}

Status check_gcm_params(ByteView key, ByteView nonce) {
    if (key.size() != k_key_size) return invalid_argument("aes-256-gcm key must be 32 bytes");
    if (nonce.size() != k_gcm_nonce_size)
        return invalid_argument("aes-256-gcm nonce must be 12 bytes");
    return ok_status();
}

// EVP_CipherUpdate takes an int length: feed large inputs in pieces. out == null for AAD.
bool gcm_update(EVP_CIPHER_CTX* ctx, ByteView in, uint8_t* out) {
    constexpr size_t k_piece = size_t{1} << 30;
    for (size_t off = 0; off < in.size();) {
        size_t n = std::min(k_piece, in.size() - off);
        int written = 0;
        if (EVP_CipherUpdate(ctx, out ? out + off : nullptr, &written, in.data() + off,
                             static_cast<int>(n)) != 1)
            return false;
        if (out && static_cast<size_t>(written) != n) return false;
        off += n;
    }
    return true;
}

}  // namespace

Status aes_gcm_seal_into(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext,
                         std::span<uint8_t> out) {
    TRY(check_gcm_params(key, nonce));
    if (out.size() < plaintext.size() + k_gcm_tag_size)
        return invalid_argument("aes-256-gcm output buffer is too small");
    EVP_CIPHER_CTX* ctx = thread_gcm_ctx();
    if (!ctx) return library_failure("aes-256-gcm is not available");
    uint8_t* tag = out.data() + plaintext.size();
    uint8_t final_block[16];
    int final_len = 0;
    if (EVP_CipherInit_ex2(ctx, nullptr, key.data(), nonce.data(), 1, nullptr) != 1 ||
        !gcm_update(ctx, aad, nullptr) || !gcm_update(ctx, plaintext, out.data()) ||
        EVP_CipherFinal_ex(ctx, final_block, &final_len) != 1 || final_len != 0 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(k_gcm_tag_size), tag) != 1)
        return library_failure("aes-256-gcm encryption failed");
    return ok_status();
}

Status aes_gcm_open_into(ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext_tag,
                         std::span<uint8_t> out) {
    TRY(check_gcm_params(key, nonce));
    if (ciphertext_tag.size() < k_gcm_tag_size) return integrity_error("authentication failed");
    ByteView ciphertext = ciphertext_tag.first(ciphertext_tag.size() - k_gcm_tag_size);
    ByteView tag = ciphertext_tag.last(k_gcm_tag_size);
    if (out.size() < ciphertext.size())
        return invalid_argument("aes-256-gcm output buffer is too small");
    EVP_CIPHER_CTX* ctx = thread_gcm_ctx();
    if (!ctx) return library_failure("aes-256-gcm is not available");
    if (EVP_CipherInit_ex2(ctx, nullptr, key.data(), nonce.data(), 0, nullptr) != 1 ||
        !gcm_update(ctx, aad, nullptr) || !gcm_update(ctx, ciphertext, out.data()) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(k_gcm_tag_size),
                            const_cast<uint8_t*>(tag.data())) != 1) {
        secure_wipe(out.data(), ciphertext.size());
        return library_failure("aes-256-gcm decryption failed");
    }
    uint8_t final_block[16];
    int final_len = 0;
    if (EVP_CipherFinal_ex(ctx, final_block, &final_len) != 1) {
        // Never hand out unauthenticated plaintext.
        secure_wipe(out.data(), ciphertext.size());
        ERR_clear_error();
        return integrity_error("authentication failed");
    }
    return ok_status();
}

Result<Bytes> aes_gcm_seal(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext) {
    Bytes out(plaintext.size() + k_gcm_tag_size);
    TRY(aes_gcm_seal_into(key, nonce, aad, plaintext, out));
    return out;
}

Result<Bytes> aes_gcm_open(ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext_tag) {
    TRY(check_gcm_params(key, nonce));
    if (ciphertext_tag.size() < k_gcm_tag_size) return integrity_error("authentication failed");
    Bytes out(ciphertext_tag.size() - k_gcm_tag_size);
    TRY(aes_gcm_open_into(key, nonce, aad, ciphertext_tag, out));
    return out;
}

}  // namespace coffer::crypto
