// coffer's cryptographic primitives: the only code in coffer that calls OpenSSL or libsodium.
//
// Hashes, MACs, HKDF, AES-256-GCM, X25519 and Ed25519 come from OpenSSL 3 EVP; randomness,
// constant-time comparison and memory wiping from libsodium. Every function here is thread-safe
// (no shared mutable state); objects (Sha256, HmacSha256) are thread-compatible.
//
// Failures that depend on input (bad tag, bad signature, low-order point) are reported as
// Status codes, never exceptions. A failure of the library itself (allocation, an algorithm
// missing from OpenSSL) is reported as Code::internal.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::crypto {

constexpr size_t k_key_size = 32;
constexpr size_t k_gcm_nonce_size = 12;
constexpr size_t k_gcm_tag_size = 16;
constexpr size_t k_x25519_size = 32;
constexpr size_t k_ed25519_public_size = 32;
constexpr size_t k_ed25519_seed_size = 32;
constexpr size_t k_ed25519_signature_size = 64;

// Must be called once before any other function (initialises libsodium). Idempotent, thread-safe.
Status init();

// Cryptographically secure random bytes (libsodium randombytes_buf).
void random_bytes(std::span<uint8_t> out);
Bytes random_bytes(size_t n);
SecretBytes random_secret(size_t n);

// Standard base64 with padding (RFC 4648 §4), via libsodium's constant-time codec. decode is
// strict: it returns nullopt for a wrong length or padding, a character outside the alphabet
// (including whitespace and newlines), or non-zero bits after the last byte, so every byte string
// has exactly one accepted encoding. Signed notes and checkpoints rely on that.
std::string base64_encode(ByteView data);
std::optional<Bytes> base64_decode(std::string_view text);

// A 32-byte key from a key file an application keeps: raw bytes, 64 hex digits, or padded
// base64 (optionally after "base64:", as .env files write it), surrounding whitespace ignored;
// nullopt for anything else. Decodes into wiped memory only.
std::optional<SecretBytes> key_from_text(ByteView file);

// SHA-256.
Id sha256(ByteView data);

// MD5, only as a transport checksum (S3's Content-MD5 header, which servers check against the
// body they received). Never for anything an attacker chooses: MD5 has no collision resistance.
Bytes md5(ByteView data);

// Incremental SHA-256 for data written in pieces (a pack as it is built).
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(ByteView data);
    Id finish();  // the object may not be used afterwards

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// HMAC-SHA256 with a key fixed at construction; compute() may be called any number of times and
// is the hot path for chunk IDs, so it must not re-derive the key schedule per call.
class HmacSha256 {
public:
    explicit HmacSha256(ByteView key);
    ~HmacSha256();
    HmacSha256(const HmacSha256&) = delete;
    HmacSha256& operator=(const HmacSha256&) = delete;
    // HMAC(key, prefix || data). prefix may be empty.
    Id compute(ByteView prefix, ByteView data) const;
    Id compute(ByteView data) const { return compute({}, data); }

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

Id hmac_sha256(ByteView key, ByteView data);

// HKDF-SHA256 (RFC 5869), extract-then-expand. length <= 255*32.
SecretBytes hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, size_t length);

// Argon2id (RFC 9106; libsodium's crypto_pwhash, version 1.3): a key of `length` bytes from a
// passphrase and a 16-byte salt, costing ops passes over mem_bytes of memory. Code::io when
// the memory cannot be had; Code::invalid_argument for parameters outside libsodium's limits.
Result<SecretBytes> argon2id(ByteView passphrase, ByteView salt, uint64_t ops, uint64_t mem_bytes,
                             size_t length);
inline constexpr size_t k_argon2_salt_size = 16;

// AES-256-GCM. key is 32 bytes, nonce 12 bytes. seal returns ciphertext || 16-byte tag.
// open returns the plaintext, or Code::integrity ("authentication failed") if the tag, the
// associated data or the key does not match; Code::invalid_argument on wrong key/nonce sizes.
Result<Bytes> aes_gcm_seal(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext);
Result<Bytes> aes_gcm_open(ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext_tag);
// Writes into caller buffers (hot path): out must have plaintext.size() + 16 bytes. out may
// start exactly where plaintext does (in place); any other overlap is undefined.
Status aes_gcm_seal_into(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext,
                         std::span<uint8_t> out);
// out must have ciphertext_tag.size() - 16 bytes.
Status aes_gcm_open_into(ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext_tag,
                         std::span<uint8_t> out);

// X25519 (RFC 7748).
struct X25519KeyPair {
    SecretBytes private_key;  // 32 bytes
    Bytes public_key;         // 32 bytes
};
X25519KeyPair x25519_generate();
Result<Bytes> x25519_public_from_private(ByteView private_key);
// Shared secret; Code::wrong_key if it is all zero (low-order peer point, RFC 7748 §6.1).
Result<SecretBytes> x25519(ByteView private_key, ByteView peer_public);

// Ed25519 (RFC 8032), keys as 32-byte seeds.
struct Ed25519KeyPair {
    SecretBytes seed;  // 32 bytes
    Bytes public_key;  // 32 bytes
};
Ed25519KeyPair ed25519_generate();
Result<Bytes> ed25519_public_from_seed(ByteView seed);
Result<Bytes> ed25519_sign(ByteView seed, ByteView message);  // 64-byte signature
bool ed25519_verify(ByteView public_key, ByteView message, ByteView signature);

// Key wrapping to an X25519 recipient, after age's X25519 recipient stanza:
//   stanza = ephemeral_public(32) || AES-256-GCM(wrap_key, nonce=0^12, aad=context, file_key)(48)
//            || HMAC-SHA256(HKDF(file_key, info="coffer stanza mac v1"), context || first 80)(32)
//   wrap_key = HKDF-SHA256(ikm=X25519(eph, recipient), salt=eph_pub || recipient_pub,
//                          info="coffer x25519 wrap v1")
// The zero nonce is safe because every wrap uses a fresh ephemeral key, hence a fresh wrap_key.
// The trailing MAC commits the stanza to the file key (GCM alone is not key-committing).
constexpr size_t k_stanza_size = 112;
Result<Bytes> wrap_key(ByteView recipient_public, ByteView file_key, ByteView context);
// Code::wrong_key when the stanza was not made for this private key (or is damaged; the two
// cannot be told apart by design); Code::corruption when its size is wrong.
Result<SecretBytes> unwrap_key(ByteView recipient_private, ByteView stanza, ByteView context);

// Sealed box for arbitrary data: stanza(file_key) || nonce(12) || AES-256-GCM(
//   HKDF(file_key, info="coffer sealed payload v1"), nonce, aad=context, plaintext).
Result<Bytes> seal_to(ByteView recipient_public, ByteView plaintext, ByteView context);
// Code::wrong_key for a stanza of another key, Code::integrity for a damaged payload.
Result<SecretBytes> open_sealed(ByteView recipient_private, ByteView sealed, ByteView context);

}  // namespace coffer::crypto
