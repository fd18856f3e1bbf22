// coffer export: one snapshot as a portable, self-verifying backup file (archive/archive.h),
// which verify --file and restore --file read with no repository.
#include <cstdio>

#include "coffer/archive/archive.h"
#include "coffer/cli/common.h"

namespace coffer::cli {

namespace {

struct ExportArgs {
    std::string snapshot;
    std::string file;
};

int run_export(GlobalOptions& g, const ExportArgs& a) {
    g.audit.target = a.file;
    auto opened = open_repository(g, KeyNeed::host_or_recovery);
    if (!opened.ok()) return fail(opened.status());
    auto snap = opened->repo->find_snapshot(a.snapshot);
    if (!snap.ok()) return fail(snap.status());
    g.audit.target = "snapshot " + snap->id.hex() + " to " + a.file;
    auto stats = archive::export_snapshot(*opened->repo, *snap, a.file);
    if (!stats.ok()) return fail(stats.status().with_context("export to " + a.file));
    g.audit.details = {{"snapshot", snap->id.hex()},
                       {"file", a.file},
                       {"bytes", stats->bytes},
                       {"chunks", stats->chunks}};
    if (g.json) {
        print_json({{"snapshot_id", snap->id.hex()},
                    {"file", a.file},
                    {"bytes", stats->bytes},
                    {"chunks", stats->chunks},
                    {"packs", stats->packs}});
    } else if (!g.quiet) {
        std::printf(
            "exported snapshot %s to %s (%s, %llu chunks)\n"
            "It is encrypted like the repository: restoring it needs the recovery key\n"
            "('coffer restore --file %s --target DIR'); 'coffer verify --file' checks it.\n",
            snap->id.short_hex().c_str(), a.file.c_str(), human_bytes(stats->bytes).c_str(),
            static_cast<unsigned long long>(stats->chunks), a.file.c_str());
    }
    return k_exit_ok;
}

}  // namespace

void register_export(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto a = std::make_shared<ExportArgs>();
    CLI::App* cmd = app.add_subcommand(
        "export", "Write one snapshot as a single encrypted, self-verifying backup file");
    cmd->add_option("snapshot", a->snapshot, "Snapshot id, unique prefix, or 'latest'")->required();
    cmd->add_option("file", a->file, "The backup file to create (never overwritten)")->required();
    cmd->callback([&g, &exit_code, a] { exit_code = run_export(g, *a); });
}

}  // namespace coffer::cli
