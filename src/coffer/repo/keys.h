// Key material: the host key file, the recovery key's printed form, and the public repository
// config that ties them together.
//
// HostKey holds the three host secrets (chunk-ID key, metadata key, Ed25519 signing seed) and
// the public facts needed to check it belongs to a repository. RecoveryKey holds the X25519
// private key that opens packs and trees. Both wipe their secrets on destruction and never
// print them except through the explicit to_text()/serialize() calls.
// Plain values; thread-compatible.
#pragma once

#include <string>

#include "coffer/repo/format.h"
#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::repo {

struct RepoConfig {
    int version = k_format_version;
    Id id;                // random repository ID
    std::string created;  // RFC 3339 UTC
    uint32_t chunk_avg_size = 1 << 20;
    uint32_t pack_size = 16 << 20;
    int zstd_level = 3;
    Bytes recovery_public_key;  // X25519, 32 bytes
    // Ed25519, derived from the recovery key (RecoveryKey::registry_seed): signs the key
    // registry's entries and revocations (repo/registry.h).
    Bytes registry_public_key;

    std::string to_json() const;
    // Code::corruption naming the problem if the text is not a valid config; Code::invalid_argument
    // for a newer format version ("upgrade coffer").
    static Result<RepoConfig> parse(ByteView json);
};

struct HostKey {
    Id repository_id;
    Bytes key_id;  // k_key_id_size bytes, names the key in keys/ and in objects
    std::string host;
    Bytes recovery_public_key;  // must equal the repository config's
    Bytes registry_public_key;  // must equal the repository config's
    SecretBytes chunk_id_key;   // 32
    SecretBytes metadata_key;   // 32
    SecretBytes signing_seed;   // 32, Ed25519
    Bytes signing_public_key;   // 32, derived from signing_seed

    static Result<HostKey> generate(const RepoConfig& config, std::string host);
    std::string key_id_hex() const { return to_hex(key_id); }

    // The text of a host key file (contains secrets; caller writes it 0600 and wipes it).
    SecretBytes serialize() const;
    static Result<HostKey> parse(ByteView text);
    // Reads a host key file. Refuses (Code::permission) a file readable by group or others.
    static Result<HostKey> load(const std::string& path);
    // Writes the file with mode 0600, refusing to overwrite (Code::already_exists).
    Status save(const std::string& path) const;

    // Code::wrong_key "host key belongs to repository X, not Y" if it is another repository's.
    Status check_matches(const RepoConfig& config) const;
};

struct RecoveryKey {
    SecretBytes private_key;  // X25519, 32 bytes
    Bytes public_key;

    static RecoveryKey generate();
    // "crk1-" then 9 groups of 8 hex digits: 32 key bytes and a 4-byte checksum.
    std::string to_text() const;
    // Accepts the printed form with any whitespace/case. Code::invalid_argument saying
    // "recovery key is malformed: ..." when the shape or checksum is wrong.
    static Result<RecoveryKey> parse(std::string_view text);
    static Result<RecoveryKey> load(const std::string& path);
    // Code::wrong_key "recovery key does not match repository <id>".
    Status check_matches(const RepoConfig& config) const;

    // The seed of the repository's registry signing key (Ed25519), derived so that whoever
    // holds the recovery key (or K of its shares) can sign registry entries and nobody else can.
    SecretBytes registry_seed(const Id& repository_id) const;
    Bytes registry_public_key(const Id& repository_id) const;
};

// The context host secrets are sealed under (keys/<id>.secrets): "coffer host secrets v1" ||
// repository id.
Bytes host_secrets_context(const Id& repository_id);

// Current time as RFC 3339 UTC with nanoseconds ("2026-11-23T16:46:00.123456789Z").
std::string now_rfc3339();
int64_t now_unix_ns();
std::string format_rfc3339(int64_t unix_ns);
// Parses RFC 3339 with a 'Z' or ±hh:mm offset, or a plain date; Code::invalid_argument otherwise.
Result<int64_t> parse_rfc3339(std::string_view text);

}  // namespace coffer::repo
