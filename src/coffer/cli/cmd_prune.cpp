// coffer prune: deletes data no snapshot references, under the prune lock; coffer unlock:
// removes stale locks. Both work with the host key alone (unlock needs no key at all).
#include <cstdio>

#include "coffer/cli/common.h"
#include "coffer/prune/prune.h"

namespace coffer::cli {

namespace {

Result<double> parse_share(const std::string& text) {
    std::string t = text;
    bool percent = !t.empty() && t.back() == '%';
    if (percent) t.pop_back();
    char* end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end != '\0' || !(v >= 0)) v = -1;
    if (percent) v /= 100;
    if (v < 0 || v > 1)
        return invalid_argument("--max-unused '" + text +
                                "' is not a share between 0 and 1 or 0% and 100%");
    return v;
}

}  // namespace

nlohmann::json prune_report_json(const prune::Report& r) {
    return {{"snapshots", r.snapshots},
            {"forgotten_finished", r.forgotten_finished},
            {"packs", r.packs},
            {"packs_after", r.packs_after},
            {"packs_deleted", r.packs_deleted},
            {"packs_repacked", r.packs_repacked},
            {"packs_young", r.packs_young},
            {"packs_retained", r.packs_retained},
            {"indexes_deleted", r.indexes_deleted},
            {"indexes_written", r.indexes_written},
            {"bytes_before", r.bytes_before},
            {"bytes_after", r.bytes_after},
            {"bytes_deleted", r.bytes_deleted},
            {"bytes_written", r.bytes_written},
            {"unused_bytes_kept", r.unused_bytes},
            {"retained_until", r.retained_until ? repo::format_rfc3339(r.retained_until) : ""},
            {"notes", r.notes}};
}

Result<prune::Report> prune_repository(GlobalOptions& g, const PruneArgs& args) {
    prune::Options opts;
    opts.dry_run = args.dry_run;
    TRY_ASSIGN(opts.max_unused, parse_share(args.max_unused));
    auto grace = config::parse_duration(args.grace);
    if (!grace.ok()) return grace.status().with_context("--grace");
    opts.grace_ns = *grace * 1000000000;

    TRY_ASSIGN(OpenedRepo opened, open_repository(g, KeyNeed::host_or_recovery));
    repo::Repository& repository = *opened.repo;
    if (!opts.dry_run) TRY(repository.writable());
    std::unique_ptr<repo::Lock> lock;
    if (!args.dry_run) {
        TRY_ASSIGN(lock, repo::Lock::acquire_prune(opened.store, to_hex(repository.keys().key_id),
                                                   lock_options(g, "prune")));
        opts.check_lock = [&] { return lock->check(); };
    }
    ProgressLine line(!g.quiet && !g.json);
    opts.on_progress = [&](const std::string& s) { line.update(s); };
    auto report = prune::prune(repository, opts);
    line.finish();
    if (lock) (void)lock->release();
    if (!report.ok()) return report.status().with_context("prune");
    return report;
}

void print_prune_report(const prune::Report& r, const PruneArgs& args) {
    const char* would = args.dry_run ? "would " : "";
    std::printf("%llu snapshots use %llu packs (%s)%s\n", (unsigned long long)r.snapshots,
                (unsigned long long)r.packs_after, human_bytes(r.bytes_after).c_str(),
                args.dry_run ? " after this prune" : "");
    std::printf("%sdelete %llu unused packs and repack %llu: %s freed, %s written\n", would,
                (unsigned long long)r.packs_deleted, (unsigned long long)r.packs_repacked,
                human_bytes(r.bytes_deleted).c_str(), human_bytes(r.bytes_written).c_str());
    if (r.packs_young)
        std::printf("left %llu packs newer than the grace period (%s) alone\n",
                    (unsigned long long)r.packs_young, args.grace.c_str());
    if (r.unused_bytes)
        std::printf("%s unused data stays in packs below the repack threshold (%s)\n",
                    human_bytes(r.unused_bytes).c_str(), args.max_unused.c_str());
    if (r.forgotten_finished)
        std::printf("finished an interrupted forget: %llu manifests removed\n",
                    (unsigned long long)r.forgotten_finished);
    for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
}

int run_prune(GlobalOptions& g, const PruneArgs& args) {
    auto report = prune_repository(g, args);
    if (!report.ok()) return fail(report.status());
    g.audit.details = prune_report_json(*report);
    g.audit.details["dry_run"] = args.dry_run;
    if (g.json) {
        nlohmann::json j = prune_report_json(*report);
        j["dry_run"] = args.dry_run;
        print_json(j);
    } else {
        print_prune_report(*report, args);
    }
    return k_exit_ok;
}

namespace {

int run_unlock(GlobalOptions& g, bool all) {
    auto store = open_store(g);
    if (!store.ok()) return fail(store.status());
    int64_t now = repo::now_unix_ns();
    auto locks = repo::list_locks(**store, "", lock_options(g, ""));
    if (!locks.ok()) return fail(locks.status());
    size_t removed = 0, live = 0;
    for (const auto& l : *locks) {
        if (!l.stale && !all) {
            live++;
            continue;
        }
        Status st = (*store)->remove(l.name);
        if (!st.ok() && st.code() != Code::not_found) return fail(st);
        removed++;
        if (!g.quiet && !g.json)
            std::printf("removed %s lock: %s\n", l.stale ? "stale" : "live",
                        l.describe(now).c_str());
    }
    if (g.json) {
        print_json({{"removed", removed}, {"live", live}});
    } else if (!g.quiet) {
        std::printf("%zu locks removed, %zu live locks left%s\n", removed, live,
                    live ? " (--all removes those too: only when sure no such process runs)" : "");
    }
    return k_exit_ok;
}

}  // namespace

void register_prune(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto args = std::make_shared<PruneArgs>();
    CLI::App* cmd = app.add_subcommand(
        "prune", "Delete data no snapshot references and repack mostly unused packs");
    cmd->add_flag("-n,--dry-run", args->dry_run, "Show what would be deleted; change nothing");
    cmd->add_option("--max-unused", args->max_unused,
                    "Repack packs with more unused data than this share (default 20%)");
    cmd->add_option("--grace", args->grace, "Never delete objects younger than this (default 1h)");
    cmd->callback([&g, &exit_code, args] { exit_code = run_prune(g, *args); });

    auto all = std::make_shared<bool>(false);
    CLI::App* unlock = app.add_subcommand("unlock", "Remove stale locks from the repository");
    unlock->add_flag("--all", *all, "Remove live locks too (only when no backup or prune runs)");
    unlock->callback([&g, &exit_code, all] { exit_code = run_unlock(g, *all); });
}

}  // namespace coffer::cli
