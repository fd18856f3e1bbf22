// coffer restore: recreates a snapshot under a target directory (needs the recovery key).
#include <iostream>

#include "coffer/cli/common.h"
#include "coffer/restore/restore.h"

namespace coffer::cli {

namespace {

struct RestoreArgs {
    std::string snapshot;
    std::string target;
    std::vector<std::string> includes;
    bool overwrite = false;
};

int run_restore(GlobalOptions& g, const RestoreArgs& a) {
    auto opened = open_repository(g, KeyNeed::recovery);
    if (!opened.ok()) return fail(opened.status());
    auto& repository = *opened->repo;
    auto snap = repository.find_snapshot(a.snapshot);
    if (!snap.ok()) return fail(snap.status());

    g.audit.target = "snapshot " + snap->id.hex() + " to " + a.target;
    g.audit.details = {
        {"snapshot", snap->id.hex()}, {"target", a.target}, {"overwrite", a.overwrite}};
    if (a.overwrite) {
        // Replacing what is in the target is destructive: on record first, or not at all.
        Status st = audit_now(g, "restore.request", "started", g.audit.details);
        if (!st.ok())
            return fail(st.with_context(
                "the restore request could not be written to the audit log, so nothing was "
                "changed"));
    }
    restore::Options opts;
    opts.target = a.target;
    opts.includes = a.includes;
    opts.overwrite = a.overwrite;
    opts.threads = g.threads;
    ProgressLine line(!g.quiet && !g.json);
    opts.on_progress = [&](const restore::Progress& p) {
        line.update(progress_text(p.elapsed_s, p.files_done, p.files_total, p.bytes_done,
                                  p.bytes_total, true));
    };
    auto outcome = restore::restore(repository, *snap, opts);
    line.finish();
    if (!outcome.ok()) return fail(outcome.status().with_context("restore failed"));
    for (const auto& e : outcome->errors) std::fprintf(stderr, "coffer: error: %s\n", e.c_str());
    g.audit.details.update({{"files", outcome->files},
                            {"bytes", outcome->bytes},
                            {"duration_s", outcome->duration_s},
                            {"errors", outcome->errors.size()}});
    if (g.json) {
        print_json({{"snapshot_id", snap->id.hex()},
                    {"target", a.target},
                    {"files", outcome->files},
                    {"dirs", outcome->dirs},
                    {"symlinks", outcome->symlinks},
                    {"bytes", outcome->bytes},
                    {"duration_s", outcome->duration_s},
                    {"errors", outcome->errors}});
    } else if (!g.quiet) {
        std::cout << "restored snapshot " << snap->id.short_hex() << " to " << a.target << ": "
                  << outcome->files << " files, " << outcome->dirs << " dirs, " << outcome->symlinks
                  << " symlinks, " << human_bytes(outcome->bytes) << " in "
                  << human_duration(outcome->duration_s) << "\n";
    }
    if (!outcome->errors.empty()) {
        std::fprintf(stderr,
                     "coffer: restore finished with %zu error(s); the entries named above "
                     "were not restored\n",
                     outcome->errors.size());
        return k_exit_failure;
    }
    return k_exit_ok;
}

}  // namespace

void register_restore(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto args = std::make_shared<RestoreArgs>();
    auto set = std::make_shared<SetRestoreArgs>();
    auto latest = std::make_shared<bool>(false);
    CLI::App* cmd = app.add_subcommand("restore", "Restore a snapshot (needs the recovery key)");
    cmd->add_option("snapshot", args->snapshot, "Snapshot id, unique prefix, or 'latest'");
    cmd->add_option("--target", args->target, "Directory to restore into");
    cmd->add_option("--include", args->includes, "Restore only this snapshot path (repeatable)")
        ->allow_extra_args(false);
    cmd->add_flag("--overwrite", args->overwrite,
                  "Allow a non-empty target and replace entries that exist there");
    cmd->add_option("--file", g.backup_file,
                    "Restore from a backup file ('coffer export') instead of the repository; "
                    "SNAPSHOT defaults to the one it holds");
    cmd->add_option("--set", set->set, "Restore a backup set from the config file");
    cmd->add_option("--snapshot", set->snapshot, "With --set: this snapshot (id or prefix)");
    cmd->add_flag("--latest", *latest, "With --set: the newest snapshot of the set (default)");
    cmd->add_option("--before", set->before,
                    "With --set: the newest snapshot taken before this time (RFC 3339)");
    cmd->add_option("--source", set->sources, "With --set: only this source (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--into-database", set->into_database,
                    "With --set: load the postgres source into this new database instead");
    cmd->add_option("--into-bucket", set->into_bucket,
                    "With --set: put the s3 source's objects into this empty bucket/prefix "
                    "(s3:http(s)://host/bucket/prefix) instead");
    cmd->add_option("--confirm", set->confirm,
                    "With --set: the set's name, typed out, to allow a destructive restore");
    cmd->add_flag("--no-safety-snapshot", set->no_safety_snapshot,
                  "With --set: skip the snapshot of the current state taken before replacing it");
    cmd->callback([&g, &exit_code, args, set, latest] {
        if (!set->set.empty() && !g.backup_file.empty()) {
            exit_code = fail(invalid_argument(
                "--file restores the one snapshot a backup file holds: drop --set (restore it "
                "--target DIR)"));
            return;
        }
        if (!set->set.empty()) {
            set->target = args->target;
            if (!args->snapshot.empty() && set->snapshot.empty()) set->snapshot = args->snapshot;
            if (set->snapshot == "latest") set->snapshot.clear();
            if (*latest && (!set->snapshot.empty() || !set->before.empty())) {
                exit_code = fail(invalid_argument("give one of --snapshot, --latest, --before"));
                return;
            }
            exit_code = run_restore_set(g, *set);
            return;
        }
        if (!set->into_database.empty() || !set->into_bucket.empty()) {
            exit_code = fail(invalid_argument(
                "--into-database and --into-bucket restore a source of a backup set: add "
                "--set NAME"));
            return;
        }
        if (!g.backup_file.empty() && args->snapshot.empty()) args->snapshot = "latest";
        if (args->snapshot.empty() || args->target.empty()) {
            exit_code = fail(invalid_argument(
                "restore needs SNAPSHOT and --target DIR (or --set NAME with a config file)"));
            return;
        }
        exit_code = run_restore(g, *args);
    });
}

}  // namespace coffer::cli
