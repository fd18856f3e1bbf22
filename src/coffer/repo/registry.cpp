#include "coffer/repo/registry.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/meta.h"
#include "coffer/repo/signed_json.h"

namespace coffer::repo {

using json = nlohmann::json;

namespace {

constexpr std::string_view k_signature_field = "registry_signature";
// Registry entries and revocations: signed by the config's registry key (signed_json.h).
constexpr SignedJsonScheme k_scheme{info::registry_signature, k_signature_field};

Result<std::string> sign_json(json j, const RepoConfig& config, const RecoveryKey& recovery) {
    return repo::sign_json(std::move(j), k_scheme, config.id, recovery);
}

// Empty when j carries a valid registry signature, else why not.
std::string signature_problem(const json& j, const RepoConfig& config) {
    std::string p = json_signature_problem(j, k_scheme, config.id, config.registry_public_key);
    return p == "its signature does not verify" ? p + " with the repository's registry key" : p;
}

std::string field(const json& j, const char* name) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) throw std::runtime_error(name);
    return it->get<std::string>();
}

std::set<Id> id_set(const json& j, const char* name) {
    std::set<Id> out;
    auto it = j.find(name);
    if (it == j.end() || !it->is_array()) throw std::runtime_error(name);
    for (const auto& v : *it) {
        auto id = v.is_string() ? Id::parse_hex(v.get<std::string>()) : std::nullopt;
        if (!id) throw std::runtime_error(name);
        out.insert(*id);
    }
    return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Ids of the objects under prefix ("snapshots/") that key signed: named by their hash, with a
// signature that verifies. Others are skipped: they are not the key's to be blessed.
Result<std::vector<std::string>> objects_signed_by(store::Store& store, const RepoConfig& config,
                                                   const RegistryEntry& entry,
                                                   std::string_view prefix) {
    TRY_ASSIGN(auto objects, store.list(std::string(prefix)));
    std::vector<std::string> out;
    for (const auto& o : objects) {
        std::string hex = o.name.substr(prefix.size());
        auto id = Id::parse_hex(hex);
        if (!id) continue;
        TRY_ASSIGN(Bytes bytes, store.get(o.name));
        if (crypto::sha256(bytes) != *id) continue;
        auto header = parse_meta_header(bytes, o.name);
        if (!header.ok() || to_hex(header->key_id) != entry.key_id) continue;
        if (!verify_meta_signature(bytes, entry.signing_public_key, config.id, o.name).ok())
            continue;
        out.push_back(hex);
    }
    return out;
}

}  // namespace

bool valid_host_name(std::string_view name) {
    if (name.empty() || name.size() > 64 || name[0] == '.' || name[0] == '-') return false;
    for (char c : name)
        if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
            return false;
    return true;
}

Status register_host_key(store::Store& store, const RepoConfig& config, const HostKey& host,
                         const RecoveryKey& recovery) {
    TRY(recovery.check_matches(config));
    std::string base = "keys/" + host.key_id_hex();
    SecretBytes secrets = host.serialize();
    TRY_ASSIGN(Bytes sealed, crypto::seal_to(config.recovery_public_key, secrets.view(),
                                             host_secrets_context(config.id)));
    TRY(store.put(base + ".secrets", sealed, store::PutMode::create_only));
    json j = {{"kind", "host-key"},
              {"key_id", host.key_id_hex()},
              {"host", host.host},
              {"algorithm", "Ed25519"},
              {"signing_public_key", to_hex(host.signing_public_key)},
              {"created", now_rfc3339()},
              {"status", "active"}};
    TRY_ASSIGN(std::string text, sign_json(std::move(j), config, recovery));
    return store.put(base + ".pub", as_bytes(text), store::PutMode::create_only);
}

namespace {

// The JSON without its signature, compact; empty when it is not a JSON object.
std::string unsigned_body(ByteView bytes) {
    json j = json::parse(as_chars(bytes), nullptr, false);
    if (!j.is_object()) return {};
    j.erase(std::string(k_signature_field));
    try {
        return j.dump();
    } catch (const json::exception&) {
        return {};
    }
}

// A staged file counts only as the same text re-signed: one whose file was replaced by a
// forgery meanwhile must not lend it the staged copy's signature.
bool same_but_signature(ByteView a, ByteView b) {
    std::string x = unsigned_body(a);
    return !x.empty() && x == unsigned_body(b);
}

// One keys/<id>.pub: the entry, or the line saying why it registers nothing.
struct ParsedEntry {
    std::optional<RegistryEntry> entry;
    std::string problem;
};

ParsedEntry parse_entry(const std::string& name, ByteView bytes, const RepoConfig& config) {
    json j = json::parse(as_chars(bytes), nullptr, false);
    // A damaged or hostile entry registers nothing (objects it would sign are "signed by an
    // unknown key"); it does not stop the others from loading.
    RegistryEntry e;
    try {
        if (!j.is_object()) throw std::runtime_error("not an object");
        e.key_id = field(j, "key_id");
        e.host = field(j, "host");
        e.created = field(j, "created");
        auto key = from_hex(field(j, "signing_public_key"));
        if (!key || key->size() != crypto::k_ed25519_public_size)
            throw std::runtime_error("signing_public_key");
        e.signing_public_key = *key;
    } catch (const std::exception&) {
        return {std::nullopt, "key registry entry " + name + " is malformed and registers nothing"};
    }
    if (name != "keys/" + e.key_id + ".pub")
        return {std::nullopt,
                "key registry entry " + name + " names another key id and registers nothing"};
    auto kind = j.find("kind");
    e.problem = kind == j.end() || *kind != "host-key" ? "it is not a host key entry"
                                                       : signature_problem(j, config);
    e.status = e.trusted() ? "active" : "untrusted";
    e.source = std::string(as_chars(bytes));
    return {std::move(e), {}};
}

// Applies keys/<key_id>.revoked to e. Empty when it verifies, else why not (e is then left
// alone).
std::string apply_revocation(const std::string& key_id, ByteView bytes, const RepoConfig& config,
                             RegistryEntry& e) {
    json j = json::parse(as_chars(bytes), nullptr, false);
    auto kind = j.is_object() ? j.find("kind") : j.end();
    auto id = j.is_object() ? j.find("key_id") : j.end();
    if (!j.is_object() || kind == j.end() || *kind != "revocation" || id == j.end() ||
        *id != key_id)
        return "it is not a revocation of the key its name says";
    if (std::string why = signature_problem(j, config); !why.empty()) return why;
    try {
        RegistryEntry r = e;
        r.revoked = field(j, "revoked");
        auto reason = j.find("reason");
        r.reason = reason != j.end() && reason->is_string() ? reason->get<std::string>() : "";
        r.snapshots_before_revocation = id_set(j, "snapshots");
        r.tombstones_before_revocation = id_set(j, "tombstones");
        r.revocation_source = std::string(as_chars(bytes));
        e = std::move(r);
    } catch (const std::exception&) {
        return "it is malformed";
    }
    return {};
}

}  // namespace

Result<Registry> load_registry(store::Store& store, const RepoConfig& config) {
    TRY_ASSIGN(auto objects, store.list("keys/"));
    Registry out;
    // keys/<id>.pub.next and .revoked.next: signed by the registry key a rotation moves to
    // (repo/rotation.h), until they replace the files they shadow. Each counts only where the
    // file itself does not verify with the config's registry key.
    std::map<std::string, Bytes> staged;
    std::vector<std::pair<std::string, Bytes>> entries, revocations;
    for (const auto& o : objects) {
        bool next = ends_with(o.name, ".next");
        std::string base = next ? o.name.substr(0, o.name.size() - 5) : o.name;
        bool pub = ends_with(base, ".pub");
        if (!pub && !ends_with(base, ".revoked")) continue;
        TRY_ASSIGN(Bytes bytes, store.get(o.name));
        if (next)
            staged[base] = std::move(bytes);
        else
            (pub ? entries : revocations).emplace_back(o.name, std::move(bytes));
    }
    for (const auto& [name, bytes] : entries) {
        ParsedEntry parsed = parse_entry(name, bytes, config);
        if (!(parsed.entry && parsed.entry->trusted()))
            if (auto s = staged.find(name);
                s != staged.end() && same_but_signature(bytes, s->second))
                if (ParsedEntry other = parse_entry(name, s->second, config);
                    other.entry && other.entry->trusted())
                    parsed = std::move(other);
        if (!parsed.entry) {
            out.problems.push_back(parsed.problem);
            continue;
        }
        std::string key_id = parsed.entry->key_id;
        out.entries.emplace(key_id, std::move(*parsed.entry));
    }
    for (const auto& [name, bytes] : revocations) {
        // keys/<id>.revoked names the key it revokes by its file name.
        std::string key_id = name.substr(5, name.size() - 5 - 8);
        auto entry = out.entries.find(key_id);
        if (entry == out.entries.end()) {
            out.problems.push_back("key revocation " + name +
                                   " revokes a key that is not registered");
            continue;
        }
        RegistryEntry& e = entry->second;
        std::string why = apply_revocation(key_id, bytes, config, e);
        if (!why.empty())
            if (auto s = staged.find(name);
                s != staged.end() && same_but_signature(bytes, s->second))
                if (apply_revocation(key_id, s->second, config, e).empty()) why.clear();
        if (!why.empty()) {
            // Fail closed: a revocation that was edited or damaged must not give the key back.
            // The key is retired with nothing signed before (every snapshot of it is then
            // reported), until an admin revokes it afresh.
            out.problems.push_back("key revocation " + name + " does not verify (" + why +
                                   "): host key " + key_id +
                                   " stays revoked, and none of its objects is trusted");
            e.revoked = "an unknown time (damaged revocation)";
            e.revocation_damaged = true;
            e.reason.clear();
            e.snapshots_before_revocation.clear();
            e.tombstones_before_revocation.clear();
        }
        if (e.trusted()) e.status = "retired";
    }
    return out;
}

Status stage_rotated_registry(store::Store& store, const RepoConfig& config,
                              const RecoveryKey& old_key, const RepoConfig& new_config,
                              const RecoveryKey& new_key) {
    TRY(old_key.check_matches(config));
    TRY(new_key.check_matches(new_config));
    TRY_ASSIGN(Registry registry, load_registry(store, config));
    // The text load_registry verified, not the file read again: it may have been replaced since.
    auto resign = [&](const std::string& name, const std::string& verified) -> Status {
        json j = json::parse(verified, nullptr, false);
        if (!j.is_object()) return corruption(name + " is not JSON");
        j.erase(std::string(k_signature_field));
        TRY_ASSIGN(std::string text, sign_json(std::move(j), new_config, new_key));
        return store.put(name + ".next", as_bytes(text), store::PutMode::overwrite);
    };
    for (const auto& [id, e] : registry.entries) {
        // An entry that does not verify now is not made to verify by a rotation.
        if (!e.trusted()) continue;
        std::string base = "keys/" + id;
        TRY(resign(base + ".pub", e.source));
        if (e.retired() && !e.revocation_damaged)
            TRY(resign(base + ".revoked", e.revocation_source));
        // The host's secrets, sealed to the new key with the new keys recorded in them (a host
        // rebuilt from them opens the rotated repository directly).
        TRY_ASSIGN(Bytes sealed, store.get(base + ".secrets"));
        auto text = crypto::open_sealed(old_key.private_key.view(), sealed,
                                        host_secrets_context(config.id));
        if (!text.ok())
            return integrity_error(base + ".secrets (host " + e.host +
                                   ") does not open with the recovery key: rotating would lose "
                                   "it; revoke that host first, or restore the file from a mirror");
        TRY_ASSIGN(HostKey host, HostKey::parse(text->view()));
        // Anyone can seal secrets to the public recovery key: reseal only the registered key.
        if (host.key_id_hex() != id || host.signing_public_key != e.signing_public_key ||
            host.host != e.host)
            return integrity_error(base + ".secrets does not hold the registered key of host " +
                                   e.host +
                                   " (forged?): rotation stopped before the repository "
                                   "changed; restore the file from a mirror or revoke the host");
        host.recovery_public_key = new_config.recovery_public_key;
        host.registry_public_key = new_config.registry_public_key;
        SecretBytes secrets = host.serialize();
        TRY_ASSIGN(Bytes resealed, crypto::seal_to(new_config.recovery_public_key, secrets.view(),
                                                   host_secrets_context(config.id)));
        TRY(store.put(base + ".secrets.next", resealed, store::PutMode::overwrite));
    }
    return ok_status();
}

Result<size_t> promote_staged_registry(store::Store& store, const RepoConfig& config,
                                       const RecoveryKey& current) {
    TRY(current.check_matches(config));
    TRY_ASSIGN(auto objects, store.list("keys/"));
    size_t promoted = 0;
    for (const auto& o : objects) {
        if (!ends_with(o.name, ".next")) continue;
        std::string base = o.name.substr(0, o.name.size() - 5);
        TRY_ASSIGN(Bytes bytes, store.get(o.name));
        // Only what belongs to the config's keys replaces a file: a staged file of a rotation
        // abandoned before its commit (or planted) is removed instead.
        bool belongs;
        if (ends_with(base, ".secrets")) {
            belongs = crypto::open_sealed(current.private_key.view(), bytes,
                                          host_secrets_context(config.id))
                          .ok();
        } else {
            json j = json::parse(as_chars(bytes), nullptr, false);
            auto existing = store.get(base);
            belongs = j.is_object() && signature_problem(j, config).empty() && existing.ok() &&
                      same_but_signature(*existing, bytes);
        }
        if (belongs) TRY(store.put(base, bytes, store::PutMode::overwrite));
        Status st = store.remove(o.name);
        if (!st.ok() && st.code() != Code::not_found) return st;
        if (belongs) ++promoted;
    }
    return promoted;
}

Result<RegistryEntry> revoke_host_key(store::Store& store, const RepoConfig& config,
                                      const RegistryEntry& entry, const RecoveryKey& recovery,
                                      const std::string& reason) {
    TRY(recovery.check_matches(config));
    std::string name = "keys/" + entry.key_id + ".revoked";
    if (store.stat(name).ok() && !entry.revocation_damaged)
        return already_exists("host key " + entry.key_id + " (host " + entry.host +
                              ") is already revoked");
    TRY_ASSIGN(auto snapshots, objects_signed_by(store, config, entry, "snapshots/"));
    TRY_ASSIGN(auto tombstones, objects_signed_by(store, config, entry, "tombstones/"));
    json j = {{"kind", "revocation"},     {"key_id", entry.key_id}, {"host", entry.host},
              {"revoked", now_rfc3339()}, {"reason", reason},       {"snapshots", snapshots},
              {"tombstones", tombstones}};
    TRY_ASSIGN(std::string text, sign_json(j, config, recovery));
    TRY(store.put(
        name, as_bytes(text),
        entry.revocation_damaged ? store::PutMode::overwrite : store::PutMode::create_only));
    RegistryEntry out = entry;
    out.revocation_damaged = false;
    out.status = "retired";
    out.revoked = j["revoked"].get<std::string>();
    out.reason = reason;
    for (const auto& s : snapshots) out.snapshots_before_revocation.insert(*Id::parse_hex(s));
    for (const auto& t : tombstones) out.tombstones_before_revocation.insert(*Id::parse_hex(t));
    return out;
}

}  // namespace coffer::repo
