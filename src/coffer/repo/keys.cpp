#include "coffer/repo/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/json_numbers.h"
#include "coffer/repo/passphrase.h"
#include "coffer/util/file.h"
#include "coffer/util/text.h"

namespace coffer::repo {

using json = nlohmann::json;

// ---- time ------------------------------------------------------------------------------------

int64_t now_unix_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string format_rfc3339(int64_t unix_ns) {
    time_t secs = static_cast<time_t>(unix_ns / 1000000000);
    long nanos = static_cast<long>(unix_ns % 1000000000);
    if (nanos < 0) {
        nanos += 1000000000;
        --secs;
    }
    struct tm tm {};
    gmtime_r(&secs, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%09ldZ", nanos);
    return buf;
}

std::string now_rfc3339() {
    return format_rfc3339(now_unix_ns());
}

namespace {

int days_in_month(int y, int m) {
    static constexpr int k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : k_days[m - 1];
}

}  // namespace

Result<int64_t> parse_rfc3339(std::string_view t) {
    auto bad = [&] {
        return invalid_argument("time '" + printable_excerpt(t, 64) +
                                "' is not RFC 3339 (e.g. 2026-11-23T16:00:00Z or 2026-11-23)");
    };
    int y, mo, d, h = 0, mi = 0, s = 0;
    if (!fixed_digits(t, 0, 4, y) || t.size() < 10 || t[4] != '-' || !fixed_digits(t, 5, 2, mo) ||
        t[7] != '-' || !fixed_digits(t, 8, 2, d))
        return bad();
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return bad();
    int64_t nanos = 0, offset_s = 0;
    if (t.size() > 10) {
        if (t[10] != 'T' && t[10] != 't' && t[10] != ' ') return bad();
        if (t.size() < 19 || !fixed_digits(t, 11, 2, h) || t[13] != ':' ||
            !fixed_digits(t, 14, 2, mi) || t[16] != ':' || !fixed_digits(t, 17, 2, s))
            return bad();
        // 60 is a leap second, which RFC 3339 allows; it counts as the next second's start.
        if (h > 23 || mi > 59 || s > 60) return bad();
        size_t pos = 19;
        if (pos < t.size() && t[pos] == '.') {
            ++pos;
            int digits = 0;
            while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
                if (digits < 9) nanos = nanos * 10 + (t[pos] - '0');
                ++digits;
                ++pos;
            }
            if (digits == 0) return bad();
            for (; digits < 9; ++digits) nanos *= 10;
        }
        if (pos >= t.size()) return bad();  // a time needs a zone
        if (t[pos] == 'Z' || t[pos] == 'z') {
            ++pos;
        } else if (t[pos] == '+' || t[pos] == '-') {
            int oh, om;
            if (!fixed_digits(t, pos + 1, 2, oh) || pos + 3 >= t.size() || t[pos + 3] != ':' ||
                !fixed_digits(t, pos + 4, 2, om) || oh > 23 || om > 59)
                return bad();
            offset_s = (oh * 3600 + om * 60) * (t[pos] == '+' ? 1 : -1);
            pos += 6;
        } else {
            return bad();
        }
        if (pos != t.size()) return bad();
    }
    int64_t secs = utc_seconds(y, mo, d, h, mi, s) - offset_s;
    int64_t ns = 0;
    if (__builtin_mul_overflow(secs, int64_t(1000000000), &ns) ||
        __builtin_add_overflow(ns, nanos, &ns))
        return invalid_argument("time '" + std::string(t) +
                                "' is out of range (1677-09-21 to 2262-04-11)");
    return ns;
}

// ---- config ----------------------------------------------------------------------------------

std::string RepoConfig::to_json() const {
    json j = {{"format", "coffer-repository"},
              {"version", version},
              {"id", id.hex()},
              {"created", created},
              {"chunker", {{"algorithm", "fastcdc-keyed"}, {"avg_size", chunk_avg_size}}},
              {"compression", {{"algorithm", "zstd"}, {"level", zstd_level}}},
              {"pack_size", pack_size},
              {"recovery_public_key", to_hex(recovery_public_key)},
              {"registry_public_key", to_hex(registry_public_key)}};
    return j.dump(2) + "\n";
}

Result<RepoConfig> RepoConfig::parse(ByteView bytes) {
    json j = json::parse(as_chars(bytes), nullptr, false);
    // find(), not value(): value() throws when "format" holds a non-string.
    if (j.is_discarded() || !j.is_object() || j.find("format") == j.end() ||
        *j.find("format") != "coffer-repository")
        return corruption("repository config is not a coffer config");
    if (!numbers_fit(j)) return corruption("repository config holds a number out of range");
    RepoConfig c;
    try {
        c.version = j.at("version").get<int>();
        if (c.version > k_format_version)
            return invalid_argument("repository format version " + std::to_string(c.version) +
                                    " is newer than this coffer supports (" +
                                    std::to_string(k_format_version) + "): upgrade coffer");
        auto id = Id::parse_hex(j.at("id").get<std::string>());
        auto pub = from_hex(j.at("recovery_public_key").get<std::string>());
        auto registry = from_hex(j.at("registry_public_key").get<std::string>());
        if (!id || !pub || pub->size() != 32 || !registry || registry->size() != 32)
            return corruption("repository config has a malformed id, recovery or registry key");
        c.id = *id;
        c.recovery_public_key = *pub;
        c.registry_public_key = *registry;
        c.created = j.value("created", "");
        c.chunk_avg_size = j.at("chunker").at("avg_size").get<uint32_t>();
        c.zstd_level = j.at("compression").at("level").get<int>();
        c.pack_size = j.at("pack_size").get<uint32_t>();
    } catch (const json::exception& e) {
        return corruption(std::string("repository config is malformed: ") + e.what());
    }
    if (c.pack_size < (1u << 20) || c.pack_size > (1u << 30))
        return corruption("repository config has an invalid pack_size");
    return c;
}

Bytes host_secrets_context(const Id& repository_id) {
    Bytes c = to_bytes(info::host_secrets);
    append(c, repository_id.view());
    return c;
}

// ---- host key --------------------------------------------------------------------------------

constexpr std::string_view k_host_key_header = "coffer-host-key v1";

Result<HostKey> HostKey::generate(const RepoConfig& config, std::string host) {
    HostKey k;
    k.repository_id = config.id;
    k.key_id = crypto::random_bytes(k_key_id_size);
    k.host = std::move(host);
    k.recovery_public_key = config.recovery_public_key;
    k.registry_public_key = config.registry_public_key;
    k.chunk_id_key = crypto::random_secret(32);
    k.metadata_key = crypto::random_secret(32);
    auto pair = crypto::ed25519_generate();
    k.signing_seed = std::move(pair.seed);
    k.signing_public_key = std::move(pair.public_key);
    return k;
}

SecretBytes HostKey::serialize() const {
    std::string text;
    text.reserve(600);
    text += k_host_key_header;
    text += "\nrepository " + repository_id.hex();
    text += "\nkey-id " + to_hex(key_id);
    text += "\nhost " + host;
    text += "\nrecovery-public-key " + to_hex(recovery_public_key);
    text += "\nregistry-public-key " + to_hex(registry_public_key);
    text += "\nchunk-id-key " + to_hex(chunk_id_key.view());
    text += "\nmetadata-key " + to_hex(metadata_key.view());
    text += "\nsigning-key " + to_hex(signing_seed.view());
    text += "\n";
    SecretBytes out(as_bytes(text));
    secure_wipe(text.data(), text.size());
    return out;
}

Result<HostKey> HostKey::parse(ByteView text) {
    auto bad = [](std::string why) {
        return invalid_argument("host key file is malformed: " + why);
    };
    std::string_view s = as_chars(text);
    if (s.substr(0, k_host_key_header.size()) != k_host_key_header)
        return bad("it does not start with '" + std::string(k_host_key_header) + "'");
    HostKey k;
    bool have_repo = false;
    size_t pos = 0;
    while (pos < s.size()) {
        size_t eol = s.find('\n', pos);
        if (eol == std::string_view::npos) eol = s.size();
        std::string_view line = s.substr(pos, eol - pos);
        pos = eol + 1;
        size_t sp = line.find(' ');
        if (sp == std::string_view::npos) continue;
        std::string_view key = line.substr(0, sp), value = line.substr(sp + 1);
        auto hex_field = [&](size_t size, std::string_view name) -> Result<SecretBytes> {
            auto b = from_hex(value);
            if (!b || b->size() != size)
                return bad(std::string(name) + " is not " + std::to_string(size) + " hex bytes");
            SecretBytes out(*b);
            secure_wipe(b->data(), b->size());
            return out;
        };
        if (key == "repository") {
            auto id = Id::parse_hex(value);
            if (!id) return bad("repository is not a 32-byte hex id");
            k.repository_id = *id;
            have_repo = true;
        } else if (key == "key-id") {
            TRY_ASSIGN(auto v, hex_field(k_key_id_size, key));
            k.key_id.assign(v.data(), v.data() + v.size());
        } else if (key == "host") {
            k.host = std::string(value);
        } else if (key == "recovery-public-key") {
            TRY_ASSIGN(auto v, hex_field(32, key));
            k.recovery_public_key.assign(v.data(), v.data() + v.size());
        } else if (key == "registry-public-key") {
            TRY_ASSIGN(auto v, hex_field(32, key));
            k.registry_public_key.assign(v.data(), v.data() + v.size());
        } else if (key == "chunk-id-key") {
            TRY_ASSIGN(k.chunk_id_key, hex_field(32, key));
        } else if (key == "metadata-key") {
            TRY_ASSIGN(k.metadata_key, hex_field(32, key));
        } else if (key == "signing-key") {
            TRY_ASSIGN(k.signing_seed, hex_field(32, key));
        }
    }
    if (!have_repo || k.key_id.empty() || k.recovery_public_key.empty() ||
        k.registry_public_key.empty() || k.chunk_id_key.empty() || k.metadata_key.empty() ||
        k.signing_seed.empty())
        return bad("a required field is missing");
    TRY_ASSIGN(k.signing_public_key, crypto::ed25519_public_from_seed(k.signing_seed.view()));
    return k;
}

Result<HostKey> HostKey::load(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
        int err = errno;
        if (err == ENOENT)
            return not_found("host key file " + path +
                             " does not exist: pass --host-key or set COFFER_HOST_KEY");
        return errno_status("host key file " + path, err);
    }
    if (st.st_mode & 077) {
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", st.st_mode & 0777);
        return permission_denied("host key file " + path + " is readable by others (mode " + mode +
                                 "): chmod 600 it");
    }
    TRY_ASSIGN(SecretBytes text, read_secret_file(path));
    auto k = parse(text.view());
    if (!k.ok()) return k.status().with_context(path);
    return k;
}

Status HostKey::save(const std::string& path) const {
    SecretBytes text = serialize();
    return write_new_file(path, text.view(), 0600);
}

Status HostKey::check_matches(const RepoConfig& config) const {
    if (repository_id != config.id)
        return wrong_key("host key belongs to repository " + repository_id.short_hex() + ", not " +
                         config.id.short_hex() + ": pass the host key of this repository");
    if (!ct_equal(recovery_public_key, config.recovery_public_key))
        return integrity_error("repository " + config.id.short_hex() +
                               " config has a different recovery public key than the host key "
                               "records: the config was replaced; do not write to it");
    if (registry_public_key != config.registry_public_key)
        return integrity_error("repository " + config.id.short_hex() +
                               " config has a different registry key than the host key records: "
                               "the config was replaced; do not write to it");
    return ok_status();
}

// ---- recovery key ----------------------------------------------------------------------------

constexpr std::string_view k_recovery_prefix = "crk1";

static Bytes recovery_checksum(ByteView private_key) {
    Bytes input = to_bytes("coffer recovery key v1");
    append(input, private_key);
    Id h = crypto::sha256(input);
    secure_wipe(input.data(), input.size());
    return Bytes(h.bytes.begin(), h.bytes.begin() + 4);
}

RecoveryKey RecoveryKey::generate() {
    auto pair = crypto::x25519_generate();
    return RecoveryKey{std::move(pair.private_key), std::move(pair.public_key)};
}

std::string RecoveryKey::to_text() const {
    Bytes all(private_key.data(), private_key.data() + private_key.size());
    append(all, recovery_checksum(private_key.view()));
    std::string hex = to_hex(all);
    secure_wipe(all.data(), all.size());
    std::string out(k_recovery_prefix);
    for (size_t i = 0; i < hex.size(); i += 8) out += "-" + hex.substr(i, 8);
    secure_wipe(hex.data(), hex.size());
    return out;
}

Result<RecoveryKey> RecoveryKey::parse(std::string_view text) {
    std::string compact;
    for (char c : text)
        if (!isspace(static_cast<unsigned char>(c)) && c != '-')
            compact += static_cast<char>(tolower(static_cast<unsigned char>(c)));
    struct Wipe {
        std::string& s;
        ~Wipe() { secure_wipe(s.data(), s.size()); }
    } wipe{compact};
    if (compact.find("crs1") != std::string::npos && compact.substr(0, 4) != "crk1")
        return invalid_argument(
            "this is a recovery share, not the whole key: pass K shares with --recovery-share "
            "FILE, once each");
    if (compact.substr(0, k_recovery_prefix.size()) != k_recovery_prefix)
        return invalid_argument("recovery key is malformed: it must start with 'crk1-'");
    auto raw = from_hex(std::string_view(compact).substr(k_recovery_prefix.size()));
    if (!raw || raw->size() != 36) {
        if (raw) secure_wipe(raw->data(), raw->size());
        return invalid_argument("recovery key is malformed: expected 72 hex digits after 'crk1-'");
    }
    SecretBytes priv(ByteView(raw->data(), 32));
    bool sum_ok = ct_equal(ByteView(raw->data() + 32, 4), recovery_checksum(priv.view()));
    secure_wipe(raw->data(), raw->size());
    if (!sum_ok)
        return invalid_argument(
            "recovery key is malformed: its checksum does not match (a digit was mistyped)");
    TRY_ASSIGN(Bytes pub, crypto::x25519_public_from_private(priv.view()));
    return RecoveryKey{std::move(priv), std::move(pub)};
}

Result<RecoveryKey> RecoveryKey::load(const std::string& path) {
    auto text = read_key_file(path);
    if (!text.ok()) {
        if (text.status().code() == Code::not_found)
            return not_found("recovery key file " + path + " does not exist");
        return text.status().with_context("recovery key file " + path);
    }
    return parse(as_chars(text->view()));
}

SecretBytes RecoveryKey::registry_seed(const Id& repository_id) const {
    return crypto::hkdf_sha256(private_key.view(), repository_id.view(),
                               as_bytes(info::registry_signing), crypto::k_ed25519_seed_size);
}

Bytes RecoveryKey::registry_public_key(const Id& repository_id) const {
    SecretBytes seed = registry_seed(repository_id);
    auto pub = crypto::ed25519_public_from_seed(seed.view());
    return pub.ok() ? std::move(pub).value() : Bytes{};  // a 32-byte seed always has one
}

Status RecoveryKey::check_matches(const RepoConfig& config) const {
    if (!ct_equal(public_key, config.recovery_public_key))
        return wrong_key("recovery key does not match repository " + config.id.short_hex() +
                         ": use the recovery key printed when this repository was created");
    // The registry key is derived from this key: a config naming another one was forged by
    // someone who knows only the public half (to register host keys of their own).
    if (registry_public_key(config.id) != config.registry_public_key)
        return integrity_error("repository " + config.id.short_hex() +
                               " config names a registry key that is not the recovery key's: the "
                               "config was replaced; do not trust this repository's contents");
    return ok_status();
}

}  // namespace coffer::repo
