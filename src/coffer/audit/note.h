// Signed notes (c2sp.org/signed-note) and transparency-log checkpoints (c2sp.org/tlog-checkpoint),
// Ed25519 only, byte-compatible with golang.org/x/mod/sumdb/note so that Go witnesses, monitors
// and the `note` tooling can read what coffer signs.
//
//   note      = text (ends in "\n") || "\n" || signature line+
//   signature = "— " name " " base64(key ID (4 bytes, big endian) || Ed25519 signature (64))
//   key ID    = SHA-256(name || 0x0A || 0x01 || public key)[:4]
//   verifier key string = name "+" hex(key ID) "+" base64(0x01 || public key)
//   signer key string   = "PRIVATE+KEY+" name "+" hex(key ID) "+" base64(0x01 || seed)
//
// Key names are non-empty valid UTF-8 without Unicode white space or '+'. A note is valid UTF-8
// with no control characters other than newline; its text is everything up to the last blank
// line. open_note ignores signatures from unknown keys (the spec requires it: that is how keys
// rotate and witnesses cosign), fails if a known key's signature does not verify, and fails unless
// at least one known key verified. Errors: Code::corruption for malformed notes and checkpoints,
// Code::integrity for a bad signature or none from a known key, Code::invalid_argument for bad
// keys or inputs. Plain values and free functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::audit {

constexpr uint8_t k_alg_ed25519 = 0x01;
// Go's limit; the spec asks verifiers to accept at least 16.
constexpr size_t k_max_note_signatures = 100;

bool is_valid_key_name(std::string_view name);
uint32_t ed25519_key_id(std::string_view name, ByteView public_key);
// "c74f20a3": the 8 lowercase hex digits used in key strings and by audit.key.retire.
std::string key_id_hex(uint32_t id);

struct Verifier {
    std::string name;
    uint32_t key_id = 0;
    Bytes public_key;  // 32 bytes

    static Result<Verifier> from_public_key(std::string name, ByteView public_key);
    // Parses a verifier key string; fails unless the name, algorithm, length and key ID all check.
    static Result<Verifier> parse(std::string_view vkey);
    std::string encode() const;
    // "name+c74f20a3", how errors name a key.
    std::string label() const { return name + "+" + key_id_hex(key_id); }
    bool verify(ByteView message, ByteView signature) const;
};

struct Signer {
    std::string name;
    uint32_t key_id = 0;
    SecretBytes seed;  // 32 bytes
    Bytes public_key;  // 32 bytes, derived from seed

    static Result<Signer> from_seed(std::string name, ByteView seed);
    static Result<Signer> generate(std::string name);
    // Parses a signer key string, deriving the public key to check the key ID.
    static Result<Signer> parse(std::string_view skey);
    std::string encode() const;  // secret: the caller must protect it
    Verifier verifier() const;
    Result<Bytes> sign(ByteView message) const;  // 64-byte Ed25519 signature
};

// One signature line of a note. `signature` excludes the 4-byte key ID.
struct NoteSignature {
    std::string name;
    uint32_t key_id = 0;
    Bytes signature;
    std::string label() const { return name + "+" + key_id_hex(key_id); }
};

struct ParsedNote {
    std::string text;                       // ends in "\n"
    std::vector<NoteSignature> signatures;  // in order, exact duplicate lines dropped
};

struct Note {
    std::string text;
    std::vector<NoteSignature> verified;    // by a known key, one per key
    std::vector<NoteSignature> unverified;  // from unknown keys, ignored
};

// Signs text (which must end in "\n" and be valid UTF-8 without other control characters) with
// each signer in order. Needs at least one signer.
Result<std::string> sign_note(std::string_view text, std::span<const Signer> signers);

// Splits a note into text and signature lines, checking syntax but no signature.
Result<ParsedNote> parse_note(std::string_view message);

// Verifies against known keys as described above. Two known keys with the same name and key ID
// are an error (invalid_argument) if a signature names them, as in Go: the list is ambiguous.
Result<Note> open_note(std::string_view message, std::span<const Verifier> known);

// A checkpoint's note text: origin, tree size, base64 root hash, optional extension lines.
struct Checkpoint {
    std::string origin;
    uint64_t size = 0;
    Id root;
    std::vector<std::string> extensions;
};

// invalid_argument if the origin or an extension line is empty, holds a newline or control
// character, or is not valid UTF-8.
Result<std::string> format_checkpoint(const Checkpoint& checkpoint);
// Strict: exactly the format above, each line ending in "\n", no leading zeros in the size, a
// canonical base64 root of 32 bytes, no empty lines. Code::corruption otherwise.
Result<Checkpoint> parse_checkpoint(std::string_view text);

}  // namespace coffer::audit
