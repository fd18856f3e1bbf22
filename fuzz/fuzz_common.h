// Shared by the fuzz targets and the seed generator (make_seeds.cpp): invariant checks that abort,
// a forgiving input cursor, and fixed keys, so that seeds sealed by the generator open in the
// targets and every run is reproducible. Nothing here is secret: the keys are derived from
// constant labels and must never protect real data.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "coffer/audit/note.h"
#include "coffer/crypto/crypto.h"
#include "coffer/repo/keyring.h"
#include "coffer/repo/keys.h"
#include "coffer/util/bytes.h"
#include "coffer/util/encoding.h"

namespace coffer::fuzz {

// An invariant failed: print what and where, then abort() so that libFuzzer records the input.
[[noreturn]] inline void fail(const char* file, int line, const char* cond,
                              const std::string& detail) {
    std::fprintf(stderr, "\n==coffer-fuzz== INVARIANT VIOLATED at %s:%d: %s\n", file, line, cond);
    if (!detail.empty()) std::fprintf(stderr, "==coffer-fuzz== %s\n", detail.c_str());
    std::fflush(stderr);
    std::abort();
}

#define FUZZ_CHECK(cond)                                                             \
    do {                                                                             \
        if (!(cond)) ::coffer::fuzz::fail(__FILE__, __LINE__, #cond, std::string()); \
    } while (0)
#define FUZZ_CHECK_MSG(cond, msg)                                            \
    do {                                                                     \
        if (!(cond)) ::coffer::fuzz::fail(__FILE__, __LINE__, #cond, (msg)); \
    } while (0)

// Once per process, before anything else (libsodium needs it).
inline void init() {
    static const bool done = [] {
        Status st = crypto::init();
        if (!st.ok()) fail(__FILE__, __LINE__, "crypto::init()", st.to_string());
        return true;
    }();
    (void)done;
}

// Reads an input front to back and never fails: past the end it yields zeros and empty views.
class Cursor {
public:
    Cursor(const uint8_t* data, size_t size) : m_in(data, size) {}
    explicit Cursor(ByteView in) : m_in(in) {}

    bool empty() const { return m_pos >= m_in.size(); }
    size_t remaining() const { return m_in.size() - m_pos; }
    uint8_t u8() { return empty() ? 0 : m_in[m_pos++]; }
    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64 && !empty(); shift += 7) {
            uint8_t b = m_in[m_pos++];
            v |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) break;
        }
        return v;
    }
    ByteView take(size_t n) {
        n = std::min(n, remaining());
        ByteView out = m_in.subspan(m_pos, n);
        m_pos += n;
        return out;
    }
    // A varint length, then that many bytes (fewer at the end of the input).
    ByteView chunk() { return take(static_cast<size_t>(std::min<uint64_t>(varint(), SIZE_MAX))); }
    ByteView rest() { return take(remaining()); }

private:
    ByteView m_in;
    size_t m_pos = 0;
};

inline std::string str(ByteView b) {
    return std::string(as_chars(b));
}

// A new empty directory below $TMPDIR (or /tmp) for targets that read files; remove it when done.
// The per-process parent directory is removed at exit (run.sh also gives each target its own
// TMPDIR, for runs that end in a crash).
inline std::string fresh_dir() {
    static const std::string* base = [] {
        const char* t = std::getenv("TMPDIR");
        auto* b = new std::string(std::string(t && *t ? t : "/tmp") + "/coffer-fuzz-XXXXXX");
        if (!mkdtemp(b->data())) fail(__FILE__, __LINE__, "mkdtemp", *b);
        return b;
    }();
    static const bool cleanup = [] {
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(*base, ec);
        });
        return true;
    }();
    (void)cleanup;
    static uint64_t n = 0;
    std::string dir = *base + "/" + std::to_string(n++);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::create_directory(dir, ec);
    if (ec) fail(__FILE__, __LINE__, "create_directory", dir + ": " + ec.message());
    return dir;
}

// ---- fixed keys --------------------------------------------------------------------------------

inline Bytes fixed_bytes(std::string_view label, size_t n) {
    SecretBytes s = crypto::hkdf_sha256(as_bytes("coffer fuzz fixed keys"), {}, as_bytes(label), n);
    return Bytes(s.data(), s.data() + s.size());
}

inline const repo::RecoveryKey& fixed_recovery() {
    static const repo::RecoveryKey key = [] {
        init();
        repo::RecoveryKey k;
        k.private_key = SecretBytes(fixed_bytes("recovery private key", 32));
        auto pub = crypto::x25519_public_from_private(k.private_key.view());
        if (!pub.ok()) fail(__FILE__, __LINE__, "x25519_public_from_private", "");
        k.public_key = *pub;
        return k;
    }();
    return key;
}

inline const repo::RepoConfig& fixed_config() {
    static const repo::RepoConfig config = [] {
        repo::RepoConfig c;
        c.id = Id::from(fixed_bytes("repository id", 32));
        c.created = "2026-01-01T00:00:00.000000000Z";
        c.recovery_public_key = fixed_recovery().public_key;
        c.registry_public_key = fixed_recovery().registry_public_key(c.id);
        return c;
    }();
    return config;
}

inline const repo::HostKey& fixed_host() {
    static const repo::HostKey key = [] {
        repo::HostKey k;
        k.repository_id = fixed_config().id;
        k.key_id = fixed_bytes("host key id", repo::k_key_id_size);
        k.host = "fuzz-host";
        k.recovery_public_key = fixed_recovery().public_key;
        k.registry_public_key = fixed_config().registry_public_key;
        k.chunk_id_key = SecretBytes(fixed_bytes("chunk id key", 32));
        k.metadata_key = SecretBytes(fixed_bytes("metadata key", 32));
        k.signing_seed = SecretBytes(fixed_bytes("signing seed", 32));
        auto pub = crypto::ed25519_public_from_seed(k.signing_seed.view());
        if (!pub.ok()) fail(__FILE__, __LINE__, "ed25519_public_from_seed", "");
        k.signing_public_key = *pub;
        return k;
    }();
    return key;
}

// The host key and the recovery key: can read everything, write everything.
inline std::shared_ptr<const repo::KeyRing> fixed_keys() {
    static const std::shared_ptr<const repo::KeyRing> keys = [] {
        auto ring = repo::KeyRing::from_host_key(fixed_host(), &fixed_recovery());
        if (!ring.ok())
            fail(__FILE__, __LINE__, "KeyRing::from_host_key", ring.status().to_string());
        return *ring;
    }();
    return keys;
}

// ---- audit log ---------------------------------------------------------------------------------

inline constexpr std::string_view k_origin = "coffer.audit/fuzz/log";

// Signer 0 is the genesis key of every generated log; 1 and 2 are for rotations.
inline const audit::Signer& fixed_signer(int i) {
    static const audit::Signer signers[3] = {
        [] {
            init();
            auto s = audit::Signer::from_seed("coffer.audit/fuzz/k0", fixed_bytes("audit 0", 32));
            if (!s.ok()) fail(__FILE__, __LINE__, "Signer::from_seed", s.status().to_string());
            return *s;
        }(),
        [] {
            auto s = audit::Signer::from_seed("coffer.audit/fuzz/k1", fixed_bytes("audit 1", 32));
            if (!s.ok()) fail(__FILE__, __LINE__, "Signer::from_seed", s.status().to_string());
            return *s;
        }(),
        [] {
            auto s = audit::Signer::from_seed("coffer.audit/fuzz/k2", fixed_bytes("audit 2", 32));
            if (!s.ok()) fail(__FILE__, __LINE__, "Signer::from_seed", s.status().to_string());
            return *s;
        }(),
    };
    return signers[i % 3];
}

}  // namespace coffer::fuzz
