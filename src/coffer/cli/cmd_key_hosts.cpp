// coffer key add-host|list|revoke-host: the host keys of a repository (repo/registry.h). Adding
// and revoking sign the registry with the recovery key, so they need it (or K shares); listing
// needs no key at all.
#include <unistd.h>

#include <cstdio>

#include "coffer/cli/common.h"
#include "coffer/repo/registry.h"
#include "coffer/repo/rotation.h"

namespace coffer::cli {

namespace {

struct Admin {
    std::shared_ptr<store::Store> store;
    repo::RepoConfig config;
    repo::RecoveryKey recovery;
    repo::Registry registry;
};

// The store, its config and registry, and the recovery key, checked against each other.
Result<Admin> open_as_admin(GlobalOptions& g, const char* what) {
    TRY(apply_config_if_given(g));
    Admin a;
    TRY_ASSIGN(a.store, open_store(g));
    TRY_ASSIGN(a.config, repo::Repository::read_config(*a.store));
    TRY_ASSIGN(auto recovery, load_recovery_key_if_given(g));
    if (!recovery)
        return wrong_key(std::string(what) + " needs the recovery key: " + k_recovery_key_hint);
    TRY(check_recovery_key(g, *recovery, a.config));
    a.recovery = std::move(*recovery);
    TRY_ASSIGN(a.registry, repo::load_registry(*a.store, a.config));
    return a;
}

struct AddHostArgs {
    std::string name;
    std::string out;
};

int run_add_host(GlobalOptions& g, const AddHostArgs& a) {
    g.audit.target = a.name;
    if (!repo::valid_host_name(a.name))
        return fail(invalid_argument("host name '" + a.name +
                                     "' is not valid: use 1 to 64 letters, digits, '.', '_' or "
                                     "'-', not starting with '.' or '-'"));
    auto admin = open_as_admin(g, "issuing a host key");
    if (!admin.ok()) return fail(admin.status());
    for (const auto& [id, e] : admin->registry.entries)
        if (e.host == a.name && e.trusted() && !e.retired())
            return fail(already_exists("host " + a.name + " already has active key " + id +
                                       ": revoke it first ('coffer key revoke-host " + a.name +
                                       "') or choose another name"));
    std::string out = a.out.empty() ? a.name + ".key" : a.out;
    auto key = repo::HostKey::generate(admin->config, a.name);
    if (!key.ok()) return fail(key.status());
    // The file first (create-only), then the registry: a key is registered only once its file
    // exists, and a failed registration takes the file back.
    if (Status st = key->save(out); !st.ok())
        return fail(st.code() == Code::already_exists
                        ? already_exists("host key file " + out +
                                         " already exists; refusing to overwrite it (choose "
                                         "another --out)")
                        : st.with_context("host key file " + out));
    if (Status st = repo::register_host_key(*admin->store, admin->config, *key, admin->recovery);
        !st.ok()) {
        ::unlink(out.c_str());
        return fail(st.with_context("register host key for " + a.name));
    }
    g.audit.details = {{"key_id", key->key_id_hex()}, {"host", a.name}};
    if (g.json) {
        print_json({{"key_id", key->key_id_hex()},
                    {"host", a.name},
                    {"file", out},
                    {"repository_id", admin->config.id.hex()}});
    } else if (!g.quiet) {
        std::printf(
            "issued host key %s for host %s\n  %s (mode 0600)\n\n"
            "Move the file to %s (as /etc/coffer/host.key, or pass it with --host-key), then\n"
            "delete it here. It lets %s write backups to this repository, not read them.\n",
            key->key_id_hex().c_str(), a.name.c_str(), out.c_str(), a.name.c_str(), a.name.c_str());
    }
    return k_exit_ok;
}

int run_list(GlobalOptions& g) {
    if (Status st = apply_config_if_given(g); !st.ok()) return fail(st);
    auto store = open_store(g);
    if (!store.ok()) return fail(store.status());
    auto config = repo::Repository::read_config(**store);
    if (!config.ok()) return fail(config.status());
    auto registry = repo::load_registry(**store, *config);
    if (!registry.ok()) return fail(registry.status());
    std::string own;
    if (auto host = load_host_key_if_present(g); host.ok() && *host) own = (*host)->key_id_hex();

    std::vector<std::string> problems = registry->problems;
    for (const auto& [id, e] : registry->entries)
        if (!e.trusted()) problems.push_back("keys/" + id + ".pub is not trusted: " + e.problem);
    auto rotations = repo::load_rotations(**store, *config);
    if (!rotations.ok()) return fail(rotations.status());
    for (const auto& p : rotations->problems) problems.push_back(p);
    auto fp = [](const Bytes& key) { return to_hex(key).substr(0, 16); };
    if (g.json) {
        nlohmann::json keys = nlohmann::json::array();
        for (const auto& [id, e] : registry->entries) {
            nlohmann::json k = {{"key_id", id},
                                {"host", e.host},
                                {"status", e.status},
                                {"created", e.created},
                                {"signing_public_key", to_hex(e.signing_public_key)},
                                {"this_host", id == own}};
            if (e.retired())
                k.update({{"revoked", e.revoked},
                          {"reason", e.reason},
                          {"snapshots_before_revocation", e.snapshots_before_revocation.size()}});
            if (!e.trusted()) k["problem"] = e.problem;
            if (e.revocation_damaged) k["revocation_damaged"] = true;
            keys.push_back(std::move(k));
        }
        nlohmann::json rots = nlohmann::json::array();
        for (const auto& r : rotations->statements)
            rots.push_back({{"statement", r.name},
                            {"created", r.created},
                            {"from_recovery_key", fp(r.from_recovery)},
                            {"to_recovery_key", fp(r.to_recovery)},
                            {"rewrapped", r.rewrapped}});
        print_json({{"repository_id", config->id.hex()},
                    {"recovery_key", fp(config->recovery_public_key)},
                    {"keys", keys},
                    {"recovery_key_rotations", rots},
                    {"problems", problems}});
    } else {
        std::printf("%-32s  %-20s  %-9s  %-20s  %s\n", "KEY ID", "HOST", "STATUS", "CREATED",
                    "SIGNING KEY");
        for (const auto& [id, e] : registry->entries) {
            std::printf("%-32s  %-20s  %-9s  %-20s  %s%s\n", id.c_str(), e.host.c_str(),
                        e.status.c_str(), e.created.substr(0, 19).c_str(),
                        to_hex(e.signing_public_key).substr(0, 16).c_str(),
                        id == own ? "  (this host)" : "");
            if (e.retired())
                std::printf("    revoked %s%s%s; %zu snapshots signed before still verify\n",
                            e.revoked.substr(0, 19).c_str(), e.reason.empty() ? "" : ": ",
                            e.reason.c_str(), e.snapshots_before_revocation.size());
        }
        std::printf("\nrecovery key %s", fp(config->recovery_public_key).c_str());
        if (rotations->statements.empty()) std::printf(" (never rotated)");
        std::printf("\n");
        for (const auto& r : rotations->statements)
            std::printf(
                "    rotated %s: %s replaced by %s; %s\n", r.created.substr(0, 19).c_str(),
                fp(r.from_recovery).c_str(), fp(r.to_recovery).c_str(),
                r.rewrapped.empty()
                    ? "packs not yet rewrapped (the old key still reads them)"
                    : ("rewrapped " + r.rewrapped.substr(0, 19) + ", the old key opens nothing")
                          .c_str());
        for (const auto& p : problems) std::fprintf(stderr, "coffer: problem: %s\n", p.c_str());
    }
    return problems.empty() ? k_exit_ok : k_exit_integrity;
}

struct RevokeArgs {
    std::string which;
    std::string reason;
};

// The one trusted registry entry that which names: a key id or a unique prefix of at least 8
// hex digits, else the host name of exactly one active key.
Result<const repo::RegistryEntry*> find_entry(const repo::Registry& registry,
                                              const std::string& which) {
    std::vector<const repo::RegistryEntry*> by_id, by_host;
    for (const auto& [id, e] : registry.entries) {
        if (which.size() >= 8 && id.compare(0, which.size(), which) == 0) by_id.push_back(&e);
        if (e.host == which && e.trusted() && !e.retired()) by_host.push_back(&e);
    }
    const auto& found = by_id.empty() ? by_host : by_id;
    if (found.size() == 1) return found.front();
    if (found.empty())
        return not_found("no active host key for '" + which +
                         "': name a host or a key id ('coffer key list' shows them)");
    return invalid_argument("'" + which + "' names " + std::to_string(found.size()) +
                            " host keys: pass the key id of the one to revoke");
}

int run_revoke(GlobalOptions& g, const RevokeArgs& a) {
    g.audit.target = a.which;
    auto admin = open_as_admin(g, "revoking a host key");
    if (!admin.ok()) return fail(admin.status());
    auto entry = find_entry(admin->registry, a.which);
    if (!entry.ok()) return fail(entry.status());
    const repo::RegistryEntry& e = **entry;
    if (!e.trusted())
        return fail(invalid_argument("keys/" + e.key_id + ".pub is not trusted (" + e.problem +
                                     "): it signs nothing that verifies, so there is nothing "
                                     "to revoke; remove the file"));
    if (e.retired() && !e.revocation_damaged)
        return fail(already_exists("host key " + e.key_id + " (host " + e.host +
                                   ") was already revoked on " + e.revoked));
    auto revoked =
        repo::revoke_host_key(*admin->store, admin->config, e, admin->recovery, a.reason);
    if (!revoked.ok()) return fail(revoked.status());
    g.audit.target = e.host;
    g.audit.details = {
        {"key_id", e.key_id},
        {"host", e.host},
        {"reason", a.reason},
        {"snapshots_before_revocation", revoked->snapshots_before_revocation.size()}};
    if (g.json) {
        print_json({{"key_id", e.key_id},
                    {"host", e.host},
                    {"status", "retired"},
                    {"revoked", revoked->revoked},
                    {"snapshots_before_revocation", revoked->snapshots_before_revocation.size()}});
    } else if (!g.quiet) {
        std::printf(
            "revoked host key %s (host %s)\n"
            "Its %zu snapshots still verify; anything it signs from now on fails 'coffer verify',\n"
            "and coffer refuses to back up with it. Issue a new key with 'coffer key add-host'.\n",
            e.key_id.c_str(), e.host.c_str(), revoked->snapshots_before_revocation.size());
    }
    return k_exit_ok;
}

}  // namespace

void register_key_hosts(CLI::App* key, GlobalOptions& g, int& exit_code) {
    auto add = std::make_shared<AddHostArgs>();
    CLI::App* add_cmd = key->add_subcommand(
        "add-host", "Issue a host key for another backup host (needs the recovery key)");
    add_cmd->add_option("name", add->name, "The new host's name")->required();
    add_cmd->add_option("--out", add->out, "Where to write its host key file (default NAME.key)");
    add_cmd->callback([&g, &exit_code, add] {
        exit_code = run_add_host(g, *add);
        audit_command(g, "key.add-host", exit_code);
    });

    CLI::App* list = key->add_subcommand("list", "List the host keys and their status");
    list->callback([&g, &exit_code] { exit_code = run_list(g); });

    auto rev = std::make_shared<RevokeArgs>();
    CLI::App* rev_cmd = key->add_subcommand(
        "revoke-host",
        "Retire a host key; its old snapshots still verify (needs the recovery key)");
    rev_cmd->add_option("host", rev->which, "The host name, or the key id")->required();
    rev_cmd->add_option("--reason", rev->reason, "Why, for the registry and the audit log");
    rev_cmd->callback([&g, &exit_code, rev] {
        exit_code = run_revoke(g, *rev);
        audit_command(g, "key.revoke-host", exit_code);
    });
}

}  // namespace coffer::cli
