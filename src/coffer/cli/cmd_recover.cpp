// coffer recover: rebuilds a lost host from the repository and the recovery key (or K shares):
// its host key (unsealed from keys/), its coffer configuration (the newest copy in configs/,
// saved by every backup --set), its audit signing key (unsealed from audit/) and the record of
// its newest snapshot, so that `coffer serve` goes on where the lost host stopped.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "coffer/cli/common.h"
#include "coffer/repo/host_config.h"
#include "coffer/util/file.h"

namespace coffer::cli {

namespace {

struct RecoverArgs {
    std::string host;
};

bool path_exists(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

std::string parent_of(const std::string& p) {
    size_t slash = p.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
}

// The one active, trusted host key the recovery is for.
Result<repo::RegistryEntry> choose_host(const repo::Registry& registry, const std::string& host) {
    std::vector<const repo::RegistryEntry*> found;
    std::string names;
    for (const auto& [id, e] : registry.entries) {
        if (!e.trusted() || e.retired()) continue;
        names += (names.empty() ? "" : ", ") + e.host;
        if (host.empty() || e.host == host) found.push_back(&e);
    }
    if (found.size() == 1) return *found.front();
    if (found.empty())
        return not_found(host.empty() ? std::string("the repository has no active host key")
                                      : "the repository has no active host key for host '" + host +
                                            "' (active: " + names + ")");
    return invalid_argument("the repository has " + std::to_string(found.size()) +
                            " active host keys (" + names + "): pass --host NAME");
}

int run_recover(GlobalOptions& g, const RecoverArgs& a) {
    // --config names the file to write here, not one to read.
    std::string config_out = g.config.empty() ? "/etc/coffer/coffer.toml" : g.config;
    g.config.clear();
    g.audit.target = a.host.empty() ? g.repo : a.host;
    auto store = open_store(g);
    if (!store.ok()) return fail(store.status());
    auto config = repo::Repository::read_config(**store);
    if (!config.ok()) return fail(config.status());
    auto recovery = load_recovery_key_if_given(g);
    if (!recovery.ok()) return fail(recovery.status());
    if (!*recovery)
        return fail(
            wrong_key(std::string("recover needs the recovery key: ") + k_recovery_key_hint));
    if (Status st = check_recovery_key(g, **recovery, *config); !st.ok()) return fail(st);
    auto registry = repo::load_registry(**store, *config);
    if (!registry.ok()) return fail(registry.status());
    auto entry = choose_host(*registry, a.host);
    if (!entry.ok()) return fail(entry.status());
    auto host = repo::Repository::unseal_host_key(**store, *config, **recovery, entry->key_id);
    if (!host.ok()) return fail(host.status());
    auto repository = repo::Repository::open(*store, &*host, &**recovery);
    if (!repository.ok()) return fail(repository.status());
    auto saved = repo::newest_host_config(**store, (*repository)->keys());
    if (!saved.ok()) return fail(saved.status().with_context("read the saved configuration"));

    // Where the files go: the host key where the recovered config expects it, unless told.
    std::optional<config::Config> cfg;
    if (*saved) {
        auto parsed = config::parse((*saved)->text, config_out);
        if (!parsed.ok())
            return fail(parsed.status().with_context("the saved configuration does not parse"));
        cfg = std::move(*parsed);
    }
    std::string key_out = !g.host_key.empty()                        ? g.host_key
                          : cfg && !cfg->repository.host_key.empty() ? cfg->repository.host_key
                                                                     : default_host_key_path();
    std::vector<std::string> outputs = {key_out, key_out + ".audit"};
    if (cfg) outputs.push_back(config_out);
    for (const auto& p : outputs)
        if (path_exists(p))
            return fail(already_exists(p +
                                       " already exists; recover writes only to a host that has "
                                       "none of it (move it away, or choose --host-key/--config)"));

    // All or nothing: what was written is taken back on a failure.
    std::vector<std::string> written;
    auto undo = [&](const Status& st) {
        for (const auto& p : written) ::unlink(p.c_str());
        return fail(st);
    };
    if (Status st = make_dirs(parent_of(key_out), 0700); !st.ok()) return undo(st);
    if (Status st = host->save(key_out); !st.ok()) return undo(st);
    written.push_back(key_out);
    if (cfg) {
        if (Status st = make_dirs(parent_of(config_out), 0755); !st.ok()) return undo(st);
        if (Status st = write_new_file(config_out, as_bytes((*saved)->text), 0600); !st.ok())
            return undo(st);
        written.push_back(config_out);
        secure_wipe((*saved)->text.data(), (*saved)->text.size());  // it may hold credentials
        g.config = config_out;
    }
    g.host_key = key_out;
    // The recovered config decides the cache directory; its audit log and state live there.
    if (cfg) {
        auto loaded = load_config(g);
        if (!loaded.ok()) return undo(loaded.status());
    }
    auto journal = open_journal(g, true);
    if (!journal.ok()) return undo(journal.status());
    auto audit_key = journal->restore_key((*recovery)->private_key.view());
    if (!audit_key.ok()) return undo(audit_key.status().with_context("restore the audit key"));
    if (*audit_key) written.push_back(key_out + ".audit");

    auto snapshots = (*repository)->list_snapshots();
    if (!snapshots.ok()) return undo(snapshots.status());
    std::string state = state_dir(**repository);
    std::string latest = snapshots->empty() ? "" : snapshots->back().id.hex();
    if (!latest.empty() && make_dirs(state, 0700).ok())
        (void)write_file_atomic(state + "/latest", as_bytes(latest + "\n"), 0600);

    g.audit.target = host->host;
    g.audit.details = {{"key_id", host->key_id_hex()},
                       {"host", host->host},
                       {"config", cfg ? config_out : ""},
                       {"snapshots", snapshots->size()}};
    if (g.json) {
        print_json({{"host", host->host},
                    {"key_id", host->key_id_hex()},
                    {"host_key", key_out},
                    {"config", cfg ? config_out : ""},
                    {"audit_key", *audit_key ? key_out + ".audit" : ""},
                    {"latest_snapshot", latest},
                    {"snapshots", snapshots->size()}});
    } else if (!g.quiet) {
        std::printf("recovered host %s (key %s) from %s\n  host key   %s (0600)\n",
                    host->host.c_str(), host->key_id_hex().c_str(), (*store)->location().c_str(),
                    key_out.c_str());
        if (cfg)
            std::printf("  config     %s (saved %s)\n", config_out.c_str(),
                        repo::format_rfc3339((*saved)->time_ns).c_str());
        else
            std::printf(
                "  config     none saved (configs are saved by 'backup --set'); write one\n");
        if (*audit_key) std::printf("  audit key  %s.audit\n", key_out.c_str());
        std::printf("  %zu snapshots; the newest is %s\n", snapshots->size(),
                    latest.empty() ? "none" : latest.substr(0, 8).c_str());
        if (cfg && cfg->repository.url != g.repo)
            std::printf("note: the recovered config names repository %s\n",
                        cfg->repository.url.c_str());
        std::printf("\nStart the daemon ('coffer serve%s%s') to go on with the schedule.\n",
                    cfg ? " --config " : "", cfg ? config_out.c_str() : "");
    }
    return k_exit_ok;
}

}  // namespace

void register_recover(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto a = std::make_shared<RecoverArgs>();
    CLI::App* cmd = app.add_subcommand(
        "recover",
        "Rebuild a lost host from the repository and the recovery key: host key, config, audit "
        "key");
    cmd->add_option("--host", a->host, "Which host to rebuild (default: the only active one)");
    cmd->callback([&g, &exit_code, a] { exit_code = run_recover(g, *a); });
}

}  // namespace coffer::cli
