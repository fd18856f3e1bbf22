// coffer forget: applies a retention policy (flags, or each set's retention in coffer.toml)
// to this host key's snapshots, grouped by set (or paths) and host, and removes the rest
// behind a signed tombstone. Data is freed by prune (--prune runs it right after).
#include <cstdio>
#include <map>

#include "coffer/cli/common.h"
#include "coffer/retention/policy.h"

namespace coffer::cli {

namespace {

struct ForgetArgs {
    std::string set;
    std::optional<uint32_t> keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly,
        keep_yearly;
    std::string keep_within;
    bool dry_run = false;
    bool prune = false;
};

std::string group_of(const repo::Snapshot& s) {
    // Safety snapshots are kept by the same policy but counted apart: a keep-last 1 after a
    // destructive restore must not keep the safety snapshot in place of the set's backup.
    if (!s.set.empty())
        return "set " + s.set + " on " + s.hostname +
               (is_safety_snapshot(s) ? " (safety snapshots)" : "");
    std::string paths;
    for (const auto& p : s.paths) paths += (paths.empty() ? "" : " ") + p;
    return "paths " + paths + " on " + s.hostname;
}

Result<retention::Policy> policy_from_flags(const ForgetArgs& a) {
    retention::Policy p;
    p.keep_last = a.keep_last;
    p.keep_hourly = a.keep_hourly;
    p.keep_daily = a.keep_daily;
    p.keep_weekly = a.keep_weekly;
    p.keep_monthly = a.keep_monthly;
    p.keep_yearly = a.keep_yearly;
    if (!a.keep_within.empty()) {
        auto s = config::parse_duration(a.keep_within);
        if (!s.ok()) return s.status().with_context("--keep-within");
        p.keep_within_s = *s;
    }
    return p;
}

// The policy for each group: the flags' for every group (of --set, when given), or else the
// retention of each configured set for that set's snapshots.
struct Work {
    std::vector<retention::Candidate> candidates;
    std::map<std::string, retention::Policy> policy_of_group;
};

Result<Work> collect(GlobalOptions& g, const ForgetArgs& a,
                     const std::vector<repo::Snapshot>& snapshots) {
    TRY_ASSIGN(retention::Policy flags, policy_from_flags(a));
    std::optional<config::Config> cfg;
    if (flags.empty() || !a.set.empty()) {
        auto loaded = load_config(g);
        if (loaded.ok())
            cfg = std::move(*loaded);
        else if (flags.empty())
            return loaded.status();
    }
    if (!a.set.empty() && cfg && !cfg->find_set(a.set))
        return not_found("set '" + a.set + "' is not in " + cfg->path);
    if (flags.empty() && !a.set.empty() && !cfg->find_set(a.set)->retention)
        return invalid_argument("set '" + a.set + "' has no retention in " + cfg->path +
                                ": add retention = { keep_last = ... } or pass --keep-*");
    Work w;
    for (const auto& s : snapshots) {
        if (!a.set.empty() && s.set != a.set) continue;
        std::string group = group_of(s);
        if (!flags.empty()) {
            w.policy_of_group[group] = flags;
        } else {
            const config::SetConfig* set = s.set.empty() ? nullptr : cfg->find_set(s.set);
            if (!set || !set->retention) continue;  // no policy: left alone
            w.policy_of_group[group] = *set->retention;
        }
        w.candidates.push_back({s.id.hex(), s.time_ns, group});
    }
    bool any_retention = false;
    if (cfg)
        for (const auto& set : cfg->sets) any_retention |= set.retention.has_value();
    if (w.policy_of_group.empty() && flags.empty() && !any_retention)
        return invalid_argument(
            "no retention policy applies: pass --keep-last, --keep-within, "
            "--keep-daily ... or set retention for a set in " +
            cfg->path);
    return w;
}

int run_forget(GlobalOptions& g, const ForgetArgs& a) {
    auto opened = open_repository(g, KeyNeed::host_or_recovery);
    if (!opened.ok()) return fail(opened.status());
    repo::Repository& repository = *opened->repo;
    if (!a.dry_run) {
        auto finished = repository.finish_forget();
        if (!finished.ok()) return fail(finished.status());
    }
    auto snapshots = repository.list_snapshots();
    if (!snapshots.ok()) return fail(snapshots.status());
    auto work = collect(g, a, *snapshots);
    if (!work.ok()) return fail(work.status());

    std::map<std::string, const repo::Snapshot*> by_id;
    std::string anchor;
    uint64_t anchor_sequence = 0;
    for (const auto& s : *snapshots) {
        by_id[s.id.hex()] = &s;
        if (s.sequence >= anchor_sequence) {
            anchor_sequence = s.sequence;
            anchor = s.id.hex();
        }
    }
    std::map<std::string, std::vector<retention::Candidate>> groups;
    for (const auto& c : work->candidates) groups[c.group].push_back(c);

    std::vector<repo::Snapshot> remove;
    std::vector<std::string> reasons;
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [group, candidates] : groups) {
        const retention::Policy& policy = work->policy_of_group.at(group);
        auto plan = retention::plan(candidates, policy);
        if (!plan.ok()) return fail(plan.status().with_context(group));
        // The plan keeps each group's newest by time; the chain's anchor is the host key's
        // highest sequence, which is the same snapshot unless the clock was set back.
        for (auto& d : *plan)
            if (!d.keep && d.id == anchor) {
                d.keep = true;
                d.reasons = {"newest of this host key (anchors its chain)"};
            }
        size_t kept = 0;
        for (const auto& d : *plan) kept += d.keep;
        nlohmann::json jg = {{"group", group},
                             {"policy", policy.describe()},
                             {"snapshots", nlohmann::json::array()}};
        if (!g.json)
            std::printf("%s: keep %zu, remove %zu (%s)\n", group.c_str(), kept, plan->size() - kept,
                        policy.describe().c_str());
        for (const auto& d : *plan) {
            std::string why;
            for (const auto& r : d.reasons) why += (why.empty() ? "" : ", ") + r;
            std::string time = repo::format_rfc3339(d.time_ns).substr(0, 19);
            if (g.json) {
                jg["snapshots"].push_back({{"id", d.id},
                                           {"time", repo::format_rfc3339(d.time_ns)},
                                           {"keep", d.keep},
                                           {"reasons", d.reasons}});
            } else {
                time[10] = ' ';
                std::printf("  %-6s  %s  %s  %s\n", d.keep ? "keep" : "remove",
                            d.id.substr(0, 8).c_str(), time.c_str(), why.c_str());
            }
            if (!d.keep) remove.push_back(*by_id.at(d.id));
        }
        out.push_back(std::move(jg));
        if (kept < plan->size()) reasons.push_back(group + ": " + policy.describe());
    }
    std::string reason;
    for (const auto& r : reasons) reason += (reason.empty() ? "" : "; ") + r;
    std::string tombstone;
    size_t retained = 0;
    if (!a.dry_run && !remove.empty()) {
        auto done = repository.forget_snapshots(remove, "forget " + reason);
        if (!done.ok()) return fail(done.status());
        tombstone = done->tombstone.hex();
        retained = done->retained;
        if (retained && !g.json)
            std::printf(
                "%zu forgotten manifests stay until %s under Object Lock (a later "
                "forget or prune removes them)\n",
                retained, repo::format_rfc3339(done->retained_until).c_str());
    }
    std::optional<prune::Report> pruned;
    if (a.prune && !a.dry_run) {
        auto r = prune_repository(g, PruneArgs{});
        if (!r.ok()) return fail(r.status().with_context("snapshots forgotten, but"));
        pruned = std::move(*r);
    }
    {
        nlohmann::json ids = nlohmann::json::array();
        for (const auto& r : remove) ids.push_back(r.id.hex());
        g.audit.details = {{"removed", ids}, {"dry_run", a.dry_run}, {"tombstone", tombstone}};
        if (pruned) g.audit.details["prune"] = prune_report_json(*pruned);
    }
    if (g.json) {
        nlohmann::json j = {{"groups", out},
                            {"removed", remove.size()},
                            {"dry_run", a.dry_run},
                            {"tombstone", tombstone},
                            {"manifests_retained", retained}};
        if (pruned) j["prune"] = prune_report_json(*pruned);
        print_json(j);
    } else if (a.dry_run) {
        std::printf("dry run: would remove %zu snapshots\n", remove.size());
    } else {
        std::printf("removed %zu snapshots%s\n", remove.size(),
                    remove.empty() || a.prune
                        ? ""
                        : "; run 'coffer prune' to free the data only they used");
    }
    if (pruned && !g.json) print_prune_report(*pruned, PruneArgs{});
    return k_exit_ok;
}

}  // namespace

void register_forget(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto a = std::make_shared<ForgetArgs>();
    CLI::App* cmd = app.add_subcommand(
        "forget", "Remove snapshots by a retention policy (flags or the sets' retention)");
    cmd->add_option("--set", a->set, "Only this backup set's snapshots");
    cmd->add_option("--keep-last", a->keep_last, "Keep the N newest snapshots");
    cmd->add_option("--keep-within", a->keep_within,
                    "Keep every snapshot within this duration of the newest (e.g. 30d)");
    cmd->add_option("--keep-hourly", a->keep_hourly, "Keep the newest of each of N hours");
    cmd->add_option("--keep-daily", a->keep_daily, "Keep the newest of each of N days");
    cmd->add_option("--keep-weekly", a->keep_weekly, "Keep the newest of each of N weeks");
    cmd->add_option("--keep-monthly", a->keep_monthly, "Keep the newest of each of N months");
    cmd->add_option("--keep-yearly", a->keep_yearly, "Keep the newest of each of N years");
    cmd->add_flag("-n,--dry-run", a->dry_run, "Show the plan; remove nothing");
    cmd->add_flag("--prune", a->prune, "Run prune afterwards");
    cmd->callback([&g, &exit_code, a] { exit_code = run_forget(g, *a); });
}

}  // namespace coffer::cli
