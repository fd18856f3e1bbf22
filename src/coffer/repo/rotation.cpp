#include "coffer/repo/rotation.h"

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/registry.h"
#include "coffer/repo/signed_json.h"

namespace coffer::repo {

using json = nlohmann::json;

namespace {

constexpr std::string_view k_prefix = "keys/rotation-";
constexpr std::string_view k_signature_field = "signature";

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Statements are signed by the registry key they rotate from, rewrap records by the one they
// rotate to (signed_json.h).
constexpr SignedJsonScheme k_scheme{info::rotation_signature, k_signature_field};

Result<std::string> sign(json j, const Id& repo_id, const RecoveryKey& signer) {
    return sign_json(std::move(j), k_scheme, repo_id, signer);
}

bool signature_verifies(const json& j, const Id& repo_id, ByteView public_key) {
    return json_signature_problem(j, k_scheme, repo_id, public_key).empty();
}

Bytes key_field(const json& j, const char* name) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) throw std::runtime_error(name);
    auto bytes = from_hex(it->get<std::string>());
    if (!bytes || bytes->size() != 32) throw std::runtime_error(name);
    return *bytes;
}

std::string text_field(const json& j, const char* name) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) throw std::runtime_error(name);
    return it->get<std::string>();
}

std::string fingerprint(ByteView key) {
    return to_hex(key).substr(0, 16);
}

}  // namespace

Result<Rotations> load_rotations(store::Store& store, const RepoConfig& config) {
    const Id& repo_id = config.id;
    TRY_ASSIGN(auto objects, store.list(std::string(k_prefix)));
    Rotations out;
    std::map<std::string, json> markers;  // statement name -> its .rewrapped
    for (const auto& o : objects) {
        bool statement = ends_with(o.name, ".json");
        if (!statement && !ends_with(o.name, ".rewrapped")) continue;
        TRY_ASSIGN(Bytes bytes, store.get(o.name));
        json j = json::parse(as_chars(bytes), nullptr, false);
        if (!statement) {
            markers[o.name.substr(0, o.name.size() - 10) + ".json"] = std::move(j);
            continue;
        }
        Rotation r;
        r.name = o.name;
        try {
            if (!j.is_object() || text_field(j, "kind") != "recovery-rotation" ||
                text_field(j, "repository") != repo_id.hex())
                throw std::runtime_error("kind");
            r.from_recovery = key_field(j, "from_recovery_public_key");
            r.from_registry = key_field(j, "from_registry_public_key");
            r.to_recovery = key_field(j, "to_recovery_public_key");
            r.to_registry = key_field(j, "to_registry_public_key");
            r.created = text_field(j, "created");
        } catch (const std::exception&) {
            out.problems.push_back("rotation statement " + o.name + " is malformed");
            continue;
        }
        if (o.name != std::string(k_prefix) + to_hex(r.to_registry) + ".json") {
            out.problems.push_back("rotation statement " + o.name +
                                   " names another key than its file name");
            continue;
        }
        if (!signature_verifies(j, repo_id, r.from_registry)) {
            out.problems.push_back("rotation statement " + o.name +
                                   " does not verify with the registry key it rotates from");
            continue;
        }
        out.statements.push_back(std::move(r));
    }
    for (auto& r : out.statements) {
        auto m = markers.find(r.name);
        if (m == markers.end()) continue;
        const json& j = m->second;
        // Signed by the key rotated to, or by the config's (a rewrap after a later rotation).
        bool good = j.is_object() &&
                    (signature_verifies(j, repo_id, r.to_registry) ||
                     signature_verifies(j, repo_id, config.registry_public_key)) &&
                    j.value("kind", "") == "rotation-rewrapped" &&
                    j.value("rotation", "") == r.name;
        if (good && j.contains("finished") && j["finished"].is_string())
            r.rewrapped = j["finished"].get<std::string>();
        else
            out.problems.push_back("rewrap record for " + r.name + " does not verify");
    }
    return out;
}

std::optional<std::vector<const Rotation*>> rotation_chain(const Rotations& rotations,
                                                           ByteView recovery_public,
                                                           ByteView registry_public,
                                                           const RepoConfig& config) {
    // Depth-first over the statements, each hop signed by the registry key before it; an
    // abandoned rotation (interrupted before the config changed) is a dead end, not a loop.
    std::vector<const Rotation*> path;
    std::set<Bytes> seen;
    std::function<bool(ByteView, ByteView)> walk = [&](ByteView rec, ByteView reg) {
        if (ct_equal(rec, config.recovery_public_key) && ct_equal(reg, config.registry_public_key))
            return true;
        if (!seen.insert(Bytes(reg.begin(), reg.end())).second || path.size() >= 64) return false;
        for (const auto& r : rotations.statements) {
            if (!ct_equal(r.from_registry, reg) || !ct_equal(r.from_recovery, rec)) continue;
            path.push_back(&r);
            if (walk(r.to_recovery, r.to_registry)) return true;
            path.pop_back();
        }
        return false;
    };
    if (!walk(recovery_public, registry_public)) return std::nullopt;
    return path;
}

Result<bool> follow_rotations(store::Store& store, const RepoConfig& config, HostKey& host) {
    if (host.repository_id != config.id) return host.check_matches(config);
    if (ct_equal(host.recovery_public_key, config.recovery_public_key) &&
        ct_equal(host.registry_public_key, config.registry_public_key))
        return false;
    TRY_ASSIGN(Rotations rotations, load_rotations(store, config));
    auto chain =
        rotation_chain(rotations, host.recovery_public_key, host.registry_public_key, config);
    if (!chain) return host.check_matches(config);
    host.recovery_public_key = config.recovery_public_key;
    host.registry_public_key = config.registry_public_key;
    return true;
}

Result<RecoveryKeyRole> recovery_key_role(store::Store& store, const RepoConfig& config,
                                          const RecoveryKey& key, bool allow_retired) {
    Status matches = key.check_matches(config);
    if (matches.ok()) return RecoveryKeyRole::current;
    if (ct_equal(key.public_key, config.recovery_public_key)) return matches;
    TRY_ASSIGN(Rotations rotations, load_rotations(store, config));
    auto chain =
        rotation_chain(rotations, key.public_key, key.registry_public_key(config.id), config);
    if (!chain || chain->empty()) return matches;
    const Rotation& first = *chain->front();
    if (!first.rewrapped.empty() && allow_retired) return RecoveryKeyRole::retired;
    if (!first.rewrapped.empty())
        return wrong_key("this recovery key (" + fingerprint(key.public_key) +
                         ") was rotated out of repository " + config.id.short_hex() + " on " +
                         first.created.substr(0, 19) + " and every pack was rewrapped on " +
                         first.rewrapped.substr(0, 19) +
                         ": it opens nothing; use the recovery key that replaced it");
    return RecoveryKeyRole::previous;
}

Result<Rotation> rotation_from(store::Store& store, const RepoConfig& config,
                               const RecoveryKey& key) {
    TRY_ASSIGN(Rotations rotations, load_rotations(store, config));
    auto chain =
        rotation_chain(rotations, key.public_key, key.registry_public_key(config.id), config);
    if (!chain || chain->empty())
        return wrong_key("this recovery key (" + fingerprint(key.public_key) +
                         ") was not rotated out of repository " + config.id.short_hex());
    return *chain->front();
}

Result<std::string> write_rotation(store::Store& store, const RepoConfig& config,
                                   const RecoveryKey& old_key, const RecoveryKey& new_key) {
    TRY(old_key.check_matches(config));
    Bytes new_registry = new_key.registry_public_key(config.id);
    json j = {{"kind", "recovery-rotation"},
              {"repository", config.id.hex()},
              {"from_recovery_public_key", to_hex(old_key.public_key)},
              {"from_registry_public_key", to_hex(config.registry_public_key)},
              {"to_recovery_public_key", to_hex(new_key.public_key)},
              {"to_registry_public_key", to_hex(new_registry)},
              {"created", now_rfc3339()}};
    TRY_ASSIGN(std::string text, sign(std::move(j), config.id, old_key));
    std::string name = std::string(k_prefix) + to_hex(new_registry) + ".json";
    TRY(store.put(name, as_bytes(text), store::PutMode::create_only));
    return name;
}

Result<std::string> rotate_recovery_key(store::Store& store, const RecoveryKey& current,
                                        const RecoveryKey& next) {
    TRY_ASSIGN(Bytes config_bytes, store.get(k_config_name));
    TRY_ASSIGN(RepoConfig config, RepoConfig::parse(config_bytes));
    RepoConfig next_config = config;
    next_config.recovery_public_key = next.public_key;
    next_config.registry_public_key = next.registry_public_key(config.id);
    // Staged files of an earlier rotation: finished if they belong to this config, else
    // removed (that rotation was abandoned before its commit).
    TRY(promote_staged_registry(store, config, current).status());
    // Staged before the statement: a check that fails here (a forged or unreadable .secrets)
    // leaves no statement naming a key that nothing uses.
    TRY(stage_rotated_registry(store, config, current, next_config, next));
    TRY_ASSIGN(std::string statement, write_rotation(store, config, current, next));
    TRY(store.put(k_config_name, as_bytes(next_config.to_json()), store::PutMode::overwrite));
    TRY(promote_staged_registry(store, next_config, next).status());
    return statement;
}

Status mark_rewrapped(store::Store& store, const RepoConfig& config, const RecoveryKey& new_key,
                      const Rotation& rotation) {
    TRY(new_key.check_matches(config));
    json j = {
        {"kind", "rotation-rewrapped"}, {"rotation", rotation.name}, {"finished", now_rfc3339()}};
    TRY_ASSIGN(std::string text, sign(std::move(j), config.id, new_key));
    std::string name = rotation.name.substr(0, rotation.name.size() - 5) + ".rewrapped";
    return store.put(name, as_bytes(text), store::PutMode::overwrite);
}

}  // namespace coffer::repo
