// Backup sets from coffer.toml: `backup --set NAME` snapshots every source of a set together;
// `restore --set NAME` puts them back (destructively, behind a typed confirmation, a
// pre_restore hook and a safety snapshot; or into --target for a drill) and verifies.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <filesystem>

#include "coffer/cli/common.h"
#include "coffer/repo/host_config.h"
#include "coffer/restore/restore.h"
#include "coffer/source/process.h"
#include "coffer/source/source.h"
#include "coffer/util/file.h"

namespace coffer::cli {

namespace {

// Saves the config file in the repository (repo/host_config.h) when it differs from the copy
// this host saved last, so that coffer recover can rebuild the host with it.
Status save_config_copy(repo::Repository& repository, const std::string& path,
                        const std::string& host) {
    TRY_ASSIGN(SecretBytes text, read_secret_file(path));
    std::string marker = state_dir(repository) + "/config.saved";
    std::string digest = crypto::sha256(text.view()).hex() + "\n";
    if (auto old = read_file(marker); old.ok() && as_chars(*old) == digest) return ok_status();
    repo::HostConfig copy;
    copy.time_ns = repo::now_unix_ns();
    copy.host = host;
    std::error_code ec;
    copy.path = std::filesystem::absolute(path, ec).string();
    copy.text = std::string(as_chars(text.view()));
    auto saved = repo::save_host_config(repository.store(), repository.keys(), copy);
    secure_wipe(copy.text.data(), copy.text.size());
    TRY(saved.status());
    return write_file_atomic(marker, as_bytes(digest), 0600);
}

Result<const config::SetConfig*> find_set(const config::Config& cfg, const std::string& name) {
    if (const auto* s = cfg.find_set(name)) return s;
    std::string names;
    for (const auto& s : cfg.sets) names += (names.empty() ? "" : ", ") + s.name;
    return not_found("set '" + name + "' is not in " + cfg.path + " (sets: " + names + ")");
}

std::string hostname() {
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    return buf;
}

// Refuses (or warns about) an empty source, or one that shrank too much since the last snapshot.
Status check_sizes(const config::SetConfig& set, const repo::Snapshot* previous,
                   const repo::Snapshot& s) {
    for (const auto& src : s.sources) {
        std::string problem;
        if (src.bytes < set.min_size) {
            problem = "source '" + src.name + "' is empty (" + std::to_string(src.bytes) +
                      " bytes, min_size " + std::to_string(set.min_size) +
                      "): a dump of nothing is not a backup";
        } else if (const auto* prev = previous ? previous->find_source(src.name) : nullptr;
                   prev && set.max_shrink < 1.0 &&
                   double(src.bytes) < double(prev->bytes) * (1.0 - set.max_shrink)) {
            problem = "source '" + src.name + "' shrank from " + std::to_string(prev->bytes) +
                      " to " + std::to_string(src.bytes) + " bytes since snapshot " +
                      previous->id.short_hex() + " (more than max_shrink " +
                      std::to_string(int(set.max_shrink * 100)) + "%)";
        }
        if (problem.empty()) continue;
        if (set.fail_on_shrink)
            return invalid_argument(problem +
                                    "; no snapshot saved (on_shrink = \"warn\" allows it)");
        std::fprintf(stderr, "coffer: warning: %s\n", problem.c_str());
    }
    return ok_status();
}

Result<repo::Snapshot> backup_set(GlobalOptions& g, repo::Repository& repository,
                                  const config::SetConfig& set, std::vector<std::string> tags,
                                  bool check) {
    TRY_ASSIGN(auto all, repository.list_snapshots());
    const repo::Snapshot* previous = nullptr;
    for (const auto& s : all)
        if (s.set == set.name && !is_safety_snapshot(s)) previous = &s;
    backup::Options opts;
    opts.set_name = set.name;
    opts.tags = set.tags;
    opts.tags.insert(opts.tags.end(), tags.begin(), tags.end());
    opts.hostname = hostname();
    opts.threads = g.threads;
    opts.cache_path = state_dir(repository) + "/files.cache";
    for (const auto& src : set.sources) {
        TRY_ASSIGN(auto input, source::backup_input(src));
        opts.sources.push_back(std::move(input));
    }
    if (check)
        opts.before_save = [&](const repo::Snapshot& s) { return check_sizes(set, previous, s); };
    auto outcome = run_backup_engine(g, repository, opts);
    if (!outcome.ok()) return outcome.status();
    for (const auto& e : outcome->errors) std::fprintf(stderr, "coffer: warning: %s\n", e.c_str());
    return outcome->snapshot;
}

nlohmann::json sources_json(const repo::Snapshot& s) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& src : s.sources)
        arr.push_back(
            {{"name", src.name}, {"type", src.type}, {"bytes", src.bytes}, {"files", src.files}});
    return arr;
}

}  // namespace

int run_backup_set(GlobalOptions& g, const std::string& name,
                   const std::vector<std::string>& tags) {
    auto cfg = load_config(g);
    if (!cfg.ok()) return fail(cfg.status());
    auto set = find_set(*cfg, name);
    if (!set.ok()) return fail(set.status());
    auto opened = open_repository(g, KeyNeed::host);
    if (!opened.ok()) return fail(opened.status());
    g.audit.target = "set " + name;
    auto snap = backup_set(g, *opened->repo, **set, tags, true);
    if (snap.ok())
        g.audit.details = {{"set", name},
                           {"snapshot", snap->id.hex()},
                           {"incomplete", snap->incomplete},
                           {"bytes_read", snap->summary.bytes_read},
                           {"data_added", snap->summary.data_added},
                           {"packed_added", snap->summary.packed_added},
                           {"duration_s", snap->summary.duration_s}};
    if (!snap.ok())
        return fail(
            snap.status().with_context("backup of set '" + name + "' failed, no snapshot saved"));
    if (make_dirs(state_dir(*opened->repo), 0700).ok())
        (void)write_file_atomic(state_dir(*opened->repo) + "/latest",
                                as_bytes(snap->id.hex() + "\n"), 0600);
    if (Status st = save_config_copy(*opened->repo, cfg->path, snap->hostname); !st.ok() && !g.json)
        std::fprintf(stderr,
                     "coffer: warning: the configuration was not saved in the repository "
                     "(coffer recover needs it): %s\n",
                     st.message().c_str());
    if (g.json) {
        print_json({{"snapshot_id", snap->id.hex()},
                    {"set", name},
                    {"time", repo::format_rfc3339(snap->time_ns)},
                    {"incomplete", snap->incomplete},
                    {"sources", sources_json(*snap)},
                    {"summary",
                     {{"bytes_read", snap->summary.bytes_read},
                      {"data_added", snap->summary.data_added},
                      {"packed_added", snap->summary.packed_added},
                      {"duration_s", snap->summary.duration_s}}}});
    } else if (!g.quiet) {
        for (const auto& src : snap->sources)
            std::printf("  %-16s %-9s %12s  %llu file(s)\n", src.name.c_str(), src.type.c_str(),
                        human_bytes(src.bytes).c_str(), static_cast<unsigned long long>(src.files));
        std::printf("Added: %s (%s stored)  Duration: %s\nsnapshot %s of set '%s' saved%s\n",
                    human_bytes(snap->summary.data_added).c_str(),
                    human_bytes(snap->summary.packed_added).c_str(),
                    human_duration(snap->summary.duration_s).c_str(), snap->id.short_hex().c_str(),
                    name.c_str(), snap->incomplete ? " (incomplete)" : "");
    }
    return snap->incomplete ? k_exit_incomplete : k_exit_ok;
}

int run_restore_set(GlobalOptions& g, const SetRestoreArgs& a) {
    auto cfg = load_config(g);
    if (!cfg.ok()) return fail(cfg.status());
    auto set_r = find_set(*cfg, a.set);
    if (!set_r.ok()) return fail(set_r.status());
    const config::SetConfig& set = **set_r;
    auto opened = open_repository(g, KeyNeed::recovery);
    if (!opened.ok()) return fail(opened.status());
    repo::Repository& repository = *opened->repo;

    // Which snapshot: by id, the newest before a time, or the newest.
    auto all = repository.list_snapshots();
    if (!all.ok()) return fail(all.status());
    const repo::Snapshot* chosen = nullptr;
    if (!a.snapshot.empty()) {
        auto s = repository.find_snapshot(a.snapshot);
        if (!s.ok()) return fail(s.status());
        for (const auto& x : *all)
            if (x.id == s->id) chosen = &x;
        if (chosen && chosen->set != set.name)
            return fail(invalid_argument("snapshot " + s->id.short_hex() + " is not of set '" +
                                         set.name + "'"));
    } else {
        int64_t before = INT64_MAX;
        if (!a.before.empty()) {
            auto t = repo::parse_rfc3339(a.before);
            if (!t.ok()) return fail(t.status());
            before = *t;
        }
        for (const auto& x : *all)
            if (x.set == set.name && x.time_ns < before && !is_safety_snapshot(x)) chosen = &x;
        if (!chosen)
            return fail(not_found("set '" + set.name + "' has no snapshot" +
                                  (a.before.empty() ? "" : " before " + a.before)));
    }
    std::vector<const config::SourceConfig*> sources;
    for (const auto& src : set.sources)
        if (a.sources.empty() ||
            std::find(a.sources.begin(), a.sources.end(), src.name) != a.sources.end())
            sources.push_back(&src);
    for (const auto& wanted : a.sources)
        if (!set.find_source(wanted))
            return fail(not_found("set '" + set.name + "' has no source '" + wanted + "'"));

    bool destructive = a.target.empty() && a.into_database.empty() && a.into_bucket.empty();
    if (!destructive) {
        // Every source must have somewhere else to go, or the restore would be half a drill.
        int postgres = 0, buckets = 0;
        for (const auto* src : sources) {
            bool is_pg = src->type == config::SourceType::postgres;
            bool is_s3 = src->type == config::SourceType::s3;
            postgres += is_pg;
            buckets += is_s3;
            if (a.target.empty() && !(is_pg && !a.into_database.empty()) &&
                !(is_s3 && !a.into_bucket.empty()))
                return fail(invalid_argument(
                    "source '" + src->name + "' (" +
                    std::string(config::source_type_name(src->type)) +
                    ") has no alternative target: pass --target DIR, or pick sources with "
                    "--source; nothing was changed"));
        }
        if (!a.into_database.empty() && postgres != 1)
            return fail(invalid_argument(
                postgres == 0 ? "--into-database needs a postgres source; nothing was changed"
                              : "--into-database takes one postgres source: pick it with "
                                "--source; nothing was changed"));
        if (!a.into_bucket.empty() && buckets != 1)
            return fail(invalid_argument(
                buckets == 0 ? "--into-bucket needs an s3 source; nothing was changed"
                             : "--into-bucket takes one s3 source: pick it with --source; "
                               "nothing was changed"));
    }
    double age = double(repo::now_unix_ns() - chosen->time_ns) / 1e9;
    std::string when = repo::format_rfc3339(chosen->time_ns).substr(0, 19) + "Z";
    if (destructive) {
        std::fprintf(stderr,
                     "Restoring set '%s' from snapshot %s taken %s (%s ago) REPLACES the live "
                     "data. Everything written since then is lost:\n",
                     set.name.c_str(), chosen->id.short_hex().c_str(), when.c_str(),
                     human_duration(age).c_str());
        for (const auto* src : sources)
            std::fprintf(stderr, "  - %s (%s): now holds %s\n", src->name.c_str(),
                         std::string(config::source_type_name(src->type)).c_str(),
                         source::describe_current(*src).c_str());
        if (a.confirm != set.name)
            return fail(invalid_argument("a destructive restore needs --confirm " + set.name +
                                         " (the set's name typed out); nothing was changed"));
    }
    g.audit.target = "set " + set.name + " snapshot " + chosen->id.hex();
    nlohmann::json source_names = nlohmann::json::array();
    for (const auto* src : sources) source_names.push_back(src->name);
    g.audit.details = {{"set", set.name},
                       {"snapshot", chosen->id.hex()},
                       {"snapshot_time", when},
                       {"sources", source_names},
                       {"destructive", destructive}};
    if (destructive) {
        // The intent is on record, durably, before anything is touched; or nothing happens.
        Status st = audit_now(g, "restore.request", "started", g.audit.details);
        if (!st.ok())
            return fail(st.with_context(
                "the restore request could not be written to the audit log, so nothing was "
                "changed"));
    }
    std::vector<source::Check> checks;
    std::string safety_id;  // for the message if the restore fails half-way
    auto hook = [&](const std::string& cmd, const std::string& what) -> Status {
        if (cmd.empty()) return ok_status();
        if (!g.quiet && !g.json)
            std::fprintf(stderr, "coffer: running %s: %s\n", what.c_str(), cmd.c_str());
        return source::run_command(cmd, what + " hook");
    };
    if (destructive) {
        Status st = hook(set.pre_restore, "pre_restore");
        if (!st.ok()) return fail(st.with_context("nothing was restored"));
        if (!a.no_safety_snapshot) {
            if (!opened->host)
                return fail(
                    wrong_key("the safety snapshot needs the host key: pass --host-key, "
                              "or --no-safety-snapshot to skip it; nothing was restored"));
            auto safety = backup_set(g, repository, set, {k_safety_tag}, false);
            if (!safety.ok())
                return fail(safety.status().with_context(
                    "safety snapshot failed (pass --no-safety-snapshot if the current state "
                    "is lost anyway); nothing was restored"));
            safety_id = safety->id.short_hex();
            if (!g.quiet && !g.json)
                std::fprintf(stderr, "coffer: safety snapshot %s saved\n", safety_id.c_str());
        }
    }
    Status failure = repository.load_index();
    for (const auto* src : sources) {
        if (!failure.ok()) break;
        auto node = restore::find_node(repository, chosen->tree, "/" + src->name);
        if (!node.ok()) {
            failure = node.status().code() == Code::not_found
                          ? not_found("source '" + src->name + "' is not in snapshot " +
                                      chosen->id.short_hex())
                          : node.status();
            break;
        }
        source::RestoreRequest req{src, node->subtree,
                                   a.target.empty() ? std::string() : a.target + "/" + src->name,
                                   a.into_database, a.into_bucket};
        auto result = source::restore(repository, req);
        if (!result.ok()) {
            failure = result.status().with_context("restore of source '" + src->name + "'");
            break;
        }
        checks.insert(checks.end(), result->begin(), result->end());
    }
    if (destructive && failure.ok()) {
        Status st = hook(set.post_restore, "post_restore");
        checks.push_back({"", "post_restore hook", st.ok(), st.ok() ? "ok" : st.message()});
        if (!set.health_check.empty()) {
            Status h = hook(set.health_check, "health_check");
            checks.push_back({"", "health check", h.ok(), h.ok() ? "ok" : h.message()});
        }
    }
    bool all_ok = failure.ok();
    for (const auto& c : checks) all_ok = all_ok && c.ok;
    if (g.json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& c : checks)
            arr.push_back(
                {{"source", c.source}, {"check", c.name}, {"ok", c.ok}, {"detail", c.detail}});
        nlohmann::json j = {{"ok", all_ok},
                            {"set", set.name},
                            {"snapshot_id", chosen->id.hex()},
                            {"snapshot_time", when},
                            {"destructive", destructive},
                            {"checks", arr}};
        if (!failure.ok()) j["error"] = failure.message();
        print_json(j);
    } else {
        for (const auto& c : checks)
            std::printf("%s %s%s%s: %s\n", c.ok ? "ok  " : "FAIL", c.source.c_str(),
                        c.source.empty() ? "" : " ", c.name.c_str(), c.detail.c_str());
    }
    if (!failure.ok()) {
        if (destructive)
            failure = failure.with_context(
                "restore of set '" + set.name + "' stopped part-way; post_restore was not run" +
                (safety_id.empty() ? std::string()
                                   : " and safety snapshot " + safety_id +
                                         " holds the state from before the restore"));
        return fail(failure);
    }
    if (!all_ok) {
        std::fprintf(stderr, "coffer: restore of set '%s' finished but verification failed\n",
                     set.name.c_str());
        return k_exit_integrity;
    }
    if (!g.json && !g.quiet)
        std::printf("restored set '%s' from snapshot %s (%s)\n", set.name.c_str(),
                    chosen->id.short_hex().c_str(), when.c_str());
    return k_exit_ok;
}

}  // namespace coffer::cli
