#include "coffer/repo/registry.h"

#include <nlohmann/json.hpp>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/meta.h"

namespace coffer::repo {

using json = nlohmann::json;

namespace {

constexpr std::string_view k_signature_field = "registry_signature";

// What the registry key signs: the object's JSON without its signature, in nlohmann's dump
// (keys sorted, no whitespace), so that the signature covers every field, "kind" included (an
// entry cannot pass for a revocation).
Result<Bytes> signed_message(const json& j, const Id& repo_id) {
    json body = j;
    body.erase(std::string(k_signature_field));
    Bytes m = to_bytes(info::registry_signature);
    append(m, repo_id.view());
    try {
        append(m, as_bytes(body.dump()));
    } catch (const json::exception&) {
        return corruption("holds text that is not UTF-8");
    }
    return m;
}

Result<std::string> sign_json(json j, const RepoConfig& config, const RecoveryKey& recovery) {
    SecretBytes seed = recovery.registry_seed(config.id);
    TRY_ASSIGN(Bytes message, signed_message(j, config.id));
    TRY_ASSIGN(Bytes signature, crypto::ed25519_sign(seed.view(), message));
    j[std::string(k_signature_field)] = to_hex(signature);
    return j.dump(2) + "\n";
}

// Empty when j carries a valid registry signature, else why not.
std::string signature_problem(const json& j, const RepoConfig& config) {
    auto sig = j.find(k_signature_field);
    if (sig == j.end() || !sig->is_string()) return "it is not signed";
    auto bytes = from_hex(sig->get<std::string>());
    if (!bytes || bytes->size() != crypto::k_ed25519_signature_size)
        return "its signature is malformed";
    auto message = signed_message(j, config.id);
    if (!message.ok()) return "it " + message.status().message();
    if (!crypto::ed25519_verify(config.registry_public_key, *message, *bytes))
        return "its signature does not verify with the repository's registry key";
    return {};
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

Result<Registry> load_registry(store::Store& store, const RepoConfig& config) {
    TRY_ASSIGN(auto objects, store.list("keys/"));
    Registry out;
    std::vector<std::pair<std::string, json>> revocations;
    for (const auto& o : objects) {
        bool pub = ends_with(o.name, ".pub");
        if (!pub && !ends_with(o.name, ".revoked")) continue;
        TRY_ASSIGN(Bytes bytes, store.get(o.name));
        json j = json::parse(as_chars(bytes), nullptr, false);
        if (!pub) {
            revocations.emplace_back(o.name, std::move(j));
            continue;
        }
        // A damaged or hostile entry registers nothing (objects it would sign are "signed by
        // an unknown key"); it does not stop the others from loading.
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
            out.problems.push_back("key registry entry " + o.name +
                                   " is malformed and registers nothing");
            continue;
        }
        if (o.name != "keys/" + e.key_id + ".pub") {
            out.problems.push_back("key registry entry " + o.name +
                                   " names another key id and registers nothing");
            continue;
        }
        auto kind = j.find("kind");
        e.problem = kind == j.end() || *kind != "host-key" ? "it is not a host key entry"
                                                           : signature_problem(j, config);
        e.status = e.trusted() ? "active" : "untrusted";
        out.entries.emplace(e.key_id, std::move(e));
    }
    for (auto& [name, j] : revocations) {
        // keys/<id>.revoked names the key it revokes by its file name.
        std::string key_id = name.substr(5, name.size() - 5 - 8);
        auto entry = out.entries.find(key_id);
        if (entry == out.entries.end()) {
            out.problems.push_back("key revocation " + name +
                                   " revokes a key that is not registered");
            continue;
        }
        RegistryEntry& e = entry->second;
        std::string why;
        auto kind = j.is_object() ? j.find("kind") : j.end();
        auto id = j.is_object() ? j.find("key_id") : j.end();
        if (!j.is_object() || kind == j.end() || *kind != "revocation" || id == j.end() ||
            *id != key_id)
            why = "it is not a revocation of the key its name says";
        else
            why = signature_problem(j, config);
        if (why.empty()) {
            try {
                e.revoked = field(j, "revoked");
                auto reason = j.find("reason");
                e.reason =
                    reason != j.end() && reason->is_string() ? reason->get<std::string>() : "";
                e.snapshots_before_revocation = id_set(j, "snapshots");
                e.tombstones_before_revocation = id_set(j, "tombstones");
            } catch (const std::exception&) {
                why = "it is malformed";
            }
        }
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
