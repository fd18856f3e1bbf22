// Passphrase protection for the recovery key and its shares: a key or share file may hold its
// text sealed under a key derived from a passphrase, so that the file alone is not the key.
//
// A protected file reads:
//   # coffer: protected with a passphrase (Argon2id); coffer asks for it when reading this file
//   coffer-protected v1 argon2id ops=3 mem=268435456 salt=<32 hex digits>
//   <hex: a 12-byte nonce, then the AES-256-GCM ciphertext and tag of the original text>
// The key is Argon2id(passphrase, salt, ops, mem). The parameter line is the cipher's associated
// data, so weakening a parameter makes the file fail to open, and a reader refuses parameters
// beyond k_max_kdf_* (a crafted file cannot make it allocate without bound). A wrong passphrase
// and a damaged file look the same. Thread-safe, but for set_passphrase_source().
#pragma once

#include <functional>
#include <string>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::repo {

struct KdfCost {
    uint64_t ops = 3;
    uint64_t mem_bytes = uint64_t(256) << 20;  // libsodium's "moderate": about a second
};
inline constexpr uint64_t k_max_kdf_ops = 16;
inline constexpr uint64_t k_max_kdf_mem = uint64_t(1) << 30;

bool is_protected(ByteView file);
// The protected form of text (a key or share file's content).
Result<std::string> protect_text(ByteView text, ByteView passphrase, const KdfCost& cost = {});
// The original text. Code::wrong_key "wrong passphrase, or the file is damaged"; invalid_argument
// for a file that is not in the format.
Result<SecretBytes> unprotect_text(ByteView file, ByteView passphrase);
// invalid_argument when file is not a protected file coffer would open (its format, or
// parameters beyond the limits): checked before anyone is asked for a passphrase.
Status check_protected_form(ByteView file);

// Where passphrases come from (what names the file), set once by the CLI: the environment or
// the terminal. Without one, reading a protected file fails naming it.
using PassphraseSource = std::function<Result<SecretBytes>(const std::string& what)>;
void set_passphrase_source(PassphraseSource source);

// A key or share file's text (at most 1 MiB), unprotected if it was protected (asking the
// source for the passphrase).
Result<SecretBytes> read_key_file(const std::string& path);

}  // namespace coffer::repo
