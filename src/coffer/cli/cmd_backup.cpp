// coffer backup: one snapshot of the given paths.
#include <unistd.h>

#include <iostream>

#include "coffer/backup/backup.h"
#include "coffer/cli/common.h"
#include "coffer/util/file.h"

namespace coffer::cli {

namespace {

struct BackupArgs {
    std::vector<std::string> paths;
    std::vector<std::string> tags;
    std::vector<std::string> excludes;
    std::string hostname;
    std::string set;
    bool no_cache = false;
};

nlohmann::json summary_json(const repo::Snapshot& s) {
    const auto& m = s.summary;
    return {{"files_new", m.files_new},
            {"files_changed", m.files_changed},
            {"files_unchanged", m.files_unchanged},
            {"dirs", m.dirs},
            {"errors", m.errors},
            {"bytes_read", m.bytes_read},
            {"total_bytes", m.total_bytes},
            {"data_added", m.data_added},
            {"packed_added", m.packed_added},
            {"duration_s", m.duration_s}};
}

}  // namespace

Result<backup::Outcome> run_backup_engine(const GlobalOptions& g, repo::Repository& repository,
                                          backup::Options& options) {
    TRY(repository.writable());
    TRY_ASSIGN(auto lock, HostLock::acquire(state_dir(repository), g.quiet || g.json));
    // What this host last saved must be in the listing the new snapshot is numbered from.
    if (auto id = Id::parse_hex(remembered_latest(state_dir(repository))))
        repository.expect_latest(*id);
    // Held from before the index is read (what this backup may deduplicate against) until
    // the snapshot is written; prune deletes nothing while it is live.
    std::string purpose = options.set_name.empty() ? "backup" : "backup --set " + options.set_name;
    TRY_ASSIGN(auto lease, repo::Lock::acquire_lease(repository.shared_store(),
                                                     to_hex(repository.keys().key_id),
                                                     lock_options(g, purpose)));
    auto before_save = options.before_save;
    options.before_save = [&, before_save](const repo::Snapshot& s) -> Status {
        if (before_save) TRY(before_save(s));
        return lease->check_before_commit();
    };
    ProgressLine line(!g.quiet && !g.json);
    if (line.wanted())
        options.on_progress = [&](const backup::Progress& p) {
            line.update(progress_text(p.elapsed_s, p.files_done, p.files_total, p.bytes_done,
                                      p.bytes_total, p.scan_finished));
        };
    auto outcome = backup::run(repository, options);
    options.before_save = before_save;
    // A lease left behind (the store failed) is stale as soon as this process exits.
    (void)lease->release();
    return outcome;
}

namespace {

int run_backup(GlobalOptions& g, const BackupArgs& a) {
    auto opened = open_repository(g, KeyNeed::host);
    if (!opened.ok()) return fail(opened.status());
    repo::Repository& repository = *opened->repo;

    std::string state = state_dir(repository);
    backup::Options opts;
    opts.paths = a.paths;
    opts.tags = a.tags;
    opts.excludes = a.excludes;
    opts.threads = g.threads;
    if (a.hostname.empty()) {
        char buf[256] = {};
        gethostname(buf, sizeof buf - 1);
        opts.hostname = buf;
    } else {
        opts.hostname = a.hostname;
    }
    if (!a.no_cache) opts.cache_path = state + "/files.cache";
    auto outcome = run_backup_engine(g, repository, opts);
    if (!outcome.ok())
        return fail(outcome.status().with_context("backup failed, no snapshot saved"));
    const repo::Snapshot& s = outcome->snapshot;
    g.audit.target = "snapshot " + s.id.hex();
    g.audit.details = {{"snapshot", s.id.hex()},
                       {"incomplete", s.incomplete},
                       {"bytes_read", s.summary.bytes_read},
                       {"data_added", s.summary.data_added},
                       {"packed_added", s.summary.packed_added},
                       {"duration_s", s.summary.duration_s}};
    // Remembered so verify can tell if the newest snapshot this host wrote disappears.
    if (make_dirs(state, 0700).ok())
        (void)write_file_atomic(state + "/latest", as_bytes(s.id.hex() + "\n"), 0600);

    for (const auto& e : outcome->errors) std::fprintf(stderr, "coffer: warning: %s\n", e.c_str());
    if (g.json) {
        print_json({{"snapshot_id", s.id.hex()},
                    {"time", repo::format_rfc3339(s.time_ns)},
                    {"paths", s.paths},
                    {"tags", s.tags},
                    {"incomplete", s.incomplete},
                    {"errors", outcome->errors},
                    {"summary", summary_json(s)}});
    } else if (!g.quiet) {
        const auto& m = s.summary;
        std::cout << "Files:       " << m.files_new << " new, " << m.files_changed << " changed, "
                  << m.files_unchanged << " unchanged\n"
                  << "Dirs:        " << m.dirs << "\n"
                  << "Read:        " << human_bytes(m.bytes_read) << " of "
                  << human_bytes(m.total_bytes) << "\n"
                  << "Added:       " << human_bytes(m.data_added) << " ("
                  << human_bytes(m.packed_added) << " stored after compression and encryption)\n"
                  << "Duration:    " << human_duration(m.duration_s) << "\n"
                  << "snapshot " << s.id.short_hex() << " saved"
                  << (s.incomplete ? " (incomplete)" : "") << "\n";
    }
    if (s.incomplete) {
        std::fprintf(stderr,
                     "coffer: snapshot %s is incomplete: %zu file(s) could not be read (see "
                     "warnings above)\n",
                     s.id.short_hex().c_str(), outcome->errors.size());
        return k_exit_incomplete;
    }
    return k_exit_ok;
}

}  // namespace

void register_backup(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto args = std::make_shared<BackupArgs>();
    CLI::App* cmd = app.add_subcommand("backup", "Make one snapshot of the given paths");
    cmd->add_option("paths", args->paths, "Files and directories to back up");
    cmd->add_option("--set", args->set, "Back up this set from the config file (all its sources)");
    cmd->add_option("--tag", args->tags, "Tag the snapshot (repeatable)")->allow_extra_args(false);
    cmd->add_option("--exclude", args->excludes,
                    "Skip entries matching a glob; without '/' it matches names (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--hostname", args->hostname, "Host name recorded in the snapshot");
    cmd->add_flag("--no-cache", args->no_cache, "Read every file even if unchanged");
    cmd->callback([&g, &exit_code, args] {
        if (!args->set.empty()) {
            if (!args->paths.empty()) {
                exit_code = fail(invalid_argument("give either paths or --set, not both"));
                return;
            }
            exit_code = run_backup_set(g, args->set, args->tags);
            return;
        }
        if (args->paths.empty()) {
            exit_code = fail(invalid_argument("nothing to back up: give paths or --set NAME"));
            return;
        }
        exit_code = run_backup(g, *args);
    });
}

}  // namespace coffer::cli
