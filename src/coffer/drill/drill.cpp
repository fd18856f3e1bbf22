#include "coffer/drill/drill.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <filesystem>

#include "coffer/crypto/crypto.h"
#include "coffer/drill/checks.h"
#include "coffer/drill/leftovers.h"
#include "coffer/restore/restore.h"
#include "coffer/source/source.h"
#include "coffer/util/file.h"

namespace coffer::drill {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

Result<nlohmann::json> run(repo::Repository& repository, const config::Config& config,
                           const config::SetConfig& set, const repo::Snapshot& chosen,
                           const std::vector<repo::Snapshot>& set_snapshots,
                           const Options& options) {
    // Earlier drills' leftovers first, outside the measured time.
    Sweep swept = sweep(config, options.records_dir);
    const auto start = Clock::now();
    const int64_t started_ns = repo::now_unix_ns();
    const std::string id = to_hex(crypto::random_bytes(4));
    const std::string parent = options.scratch_parent.empty() ? "/tmp" : options.scratch_parent;
    const std::string scratch = parent + "/" + std::string(source::k_scratch_prefix_prefix) + id;
    TRY_ASSIGN(auto record,
               Record::create(options.records_dir, id, set.name, scratch, options.keep));
    // A new directory, never one that is already there (a shared /tmp).
    if (::mkdir(scratch.c_str(), 0700) != 0) {
        Status st = errno_status("create scratch directory " + scratch, errno);
        record->forget();
        return st;
    }

    nlohmann::json out = {{"set", set.name},
                          {"snapshot_id", chosen.id.hex()},
                          {"snapshot_time", repo::format_rfc3339(chosen.time_ns)},
                          {"started", repo::format_rfc3339(started_ns)},
                          {"drill_id", id}};
    nlohmann::json phases = nlohmann::json::array(), checks = nlohmann::json::array();
    nlohmann::json databases = nlohmann::json::array(), prefixes = nlohmann::json::array();
    Scratch where{scratch, {}, {}};
    Status failure;

    auto t = Clock::now();
    failure = repository.load_index();
    phases.push_back({{"name", "open repository and index"}, {"seconds", since(t)}});
    for (const auto& src : set.sources) {
        if (!failure.ok()) break;
        t = Clock::now();
        auto node = restore::find_node(repository, chosen.tree, "/" + src.name);
        if (!node.ok()) {
            failure = node.status().code() == Code::not_found
                          ? not_found("source '" + src.name + "' is not in snapshot " +
                                      chosen.id.short_hex())
                          : node.status().with_context("restore of source '" + src.name + "'");
            break;
        }
        // A postgres source loads into its drill server; everything else restores as is.
        config::SourceConfig scratch_source = src;
        scratch_source.dsn = src.drill_dsn_or_dsn();
        Status recorded = ok_status();
        source::RestoreRequest req{&scratch_source, node->subtree, "", "", ""};
        if (src.type == config::SourceType::postgres) {
            // One scratch database per PostgreSQL source: two may share a server.
            req.into_database =
                std::string(source::k_scratch_database_prefix) + id +
                (where.databases.empty() ? std::string()
                                         : "_" + std::to_string(where.databases.size()));
            where.databases[src.name] = req.into_database;
            databases.push_back(req.into_database);
            recorded = record->add_database(src, req.into_database);
        } else if (src.type == config::SourceType::s3 && !src.drill_url.empty()) {
            req.into_bucket = scratch_prefix_url(src, id);
            where.prefixes[src.name] = req.into_bucket;
            prefixes.push_back(req.into_bucket);
            recorded = record->add_prefix(src, req.into_bucket);
        } else {
            req.target_dir = scratch + "/" + src.name;
        }
        if (failure = recorded; !failure.ok()) break;
        auto result = source::restore(repository, req);
        phases.push_back({{"name", "restore " + src.name + " (" +
                                       std::string(config::source_type_name(src.type)) + ")"},
                          {"seconds", since(t)}});
        if (!result.ok()) {
            failure = result.status().with_context("restore of source '" + src.name + "'");
            break;
        }
        for (const auto& c : *result)
            checks.push_back(
                {{"source", c.source}, {"check", c.name}, {"ok", c.ok}, {"detail", c.detail}});
    }
    if (failure.ok() && !set.drill_checks.empty()) {
        t = Clock::now();
        for (const auto& c : run_checks(set, where))
            checks.push_back(
                {{"source", ""}, {"check", c.name}, {"ok", c.ok}, {"detail", c.detail}});
        phases.push_back({{"name", "checks"}, {"seconds", since(t)}});
    }
    const double rto = since(start);

    t = Clock::now();
    std::vector<std::string> cleanup_errors;
    if (options.keep)
        record->forget();  // what it made is the user's now
    else
        cleanup_errors = record->remove_all(set);
    record.reset();
    phases.push_back({{"name", "cleanup"}, {"seconds", since(t)}});

    // A scratch copy left behind (a full copy of production on its server) is a failed drill:
    // the daemon alerts on it.
    bool all_ok = failure.ok() && cleanup_errors.empty() && swept.problems.empty();
    for (const auto& c : checks) all_ok = all_ok && c["ok"].get<bool>();
    nlohmann::json rto_j = {{"measured_s", rto}};
    if (set.rto_seconds) {
        rto_j["objective_s"] = *set.rto_seconds;
        rto_j["met"] = all_ok && rto <= double(*set.rto_seconds);
    }
    // RPO: how old the restored data is, and the longest stretch the set went without a
    // snapshot (the newest to now counts: a set that stopped backing up has a growing gap).
    int64_t worst_gap_ns = 0;
    for (size_t i = 1; i < set_snapshots.size(); ++i)
        worst_gap_ns =
            std::max(worst_gap_ns, set_snapshots[i].time_ns - set_snapshots[i - 1].time_ns);
    if (!set_snapshots.empty())
        worst_gap_ns = std::max(worst_gap_ns, started_ns - set_snapshots.back().time_ns);
    const int64_t age_s = (started_ns - chosen.time_ns) / 1000000000;
    nlohmann::json rpo_j = {{"snapshot_age_s", age_s},
                            {"worst_gap_s", worst_gap_ns / 1000000000},
                            {"snapshots_considered", set_snapshots.size()}};
    if (set.rpo_seconds) {
        rpo_j["objective_s"] = *set.rpo_seconds;
        rpo_j["met"] = age_s <= *set.rpo_seconds && worst_gap_ns / 1000000000 <= *set.rpo_seconds;
    }
    out["ok"] = all_ok;
    if (!failure.ok()) out["error"] = failure.message();
    out["checks"] = checks;
    out["phases"] = phases;
    out["rto"] = rto_j;
    out["rpo"] = rpo_j;
    out["scratch"] = {
        {"dir", scratch}, {"databases", databases}, {"prefixes", prefixes}, {"kept", options.keep}};
    if (!cleanup_errors.empty()) out["cleanup_errors"] = cleanup_errors;
    if (!swept.removed.empty()) out["swept"] = swept.removed;
    if (!swept.problems.empty()) out["leftovers"] = swept.problems;
    return out;
}

}  // namespace coffer::drill
