// coffer verify: checks a repository and reports every problem, each naming the object.
#include <cstdio>
#include <iostream>

#include "coffer/backup/file_cache.h"
#include "coffer/cli/common.h"
#include "coffer/repo/rotation.h"
#include "coffer/util/file.h"
#include "coffer/verify/verify.h"

namespace coffer::cli {

namespace {

struct VerifyArgs {
    bool read_data = false;
    std::string subset;
};

Result<double> parse_subset(const std::string& s) {
    std::string t = s;
    if (!t.empty() && t.back() == '%') t.pop_back();
    char* end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end || !(v > 0) || v > 100)
        return invalid_argument("--read-data-subset '" + s +
                                "' must be a percentage in (0, 100], e.g. 10%");
    return v / 100.0;
}

int run_verify(GlobalOptions& g, const VerifyArgs& a) {
    verify::Options opts;
    if (!a.subset.empty()) {
        auto f = parse_subset(a.subset);
        if (!f.ok()) return fail(f.status());
        opts.read_data = true;
        opts.read_fraction = *f;
    }
    opts.read_data = opts.read_data || a.read_data;
    opts.single_snapshot = !g.backup_file.empty();

    auto store = open_store(g);
    if (!store.ok()) return fail(store.status());
    auto host = load_host_key_if_present(g);
    if (!host.ok()) return fail(host.status());
    auto recovery = load_recovery_key_if_given(g);
    if (!recovery.ok()) return fail(recovery.status());
    if (opts.read_data && !*recovery)
        return fail(wrong_key(std::string("verify --read-data needs the recovery key: ") +
                              k_recovery_key_hint));
    if (*recovery) {
        auto config = repo::Repository::read_config(**store);
        if (!config.ok()) return fail(config.status());
        if (Status match = check_recovery_key_role(g, **store, **recovery, *config); !match.ok())
            return fail(match);
    }
    if (*host) {
        auto config = repo::Repository::read_config(**store);
        if (!config.ok()) return fail(config.status());
        // A key file issued before a recovery key rotation follows it (repo/rotation.h).
        auto match = g.backup_file.empty()
                         ? follow_rotation_in_key_file(g, **store, *config, **host)
                         : repo::follow_rotations(**store, *config, **host);
        if (!match.ok()) return fail(match.status());
        std::string state = backup::default_cache_dir(config->id.hex(), (*host)->key_id_hex());
        if (std::string id = remembered_latest(state); !id.empty()) opts.expected_latest = id;
    }
    std::optional<repo::RecoveryKey> previous;
    if (auto p = load_previous_recovery_key_if_given(g); !p.ok()) {
        return fail(p.status());
    } else if (*p) {
        previous = std::move(**p);
        opts.previous_recovery = &*previous;
    }
    ProgressLine line(!g.quiet && !g.json);
    opts.on_progress = [&](const std::string& what) { line.update(what); };
    auto report =
        verify::verify(*store, *host ? &**host : nullptr, *recovery ? &**recovery : nullptr, opts);
    line.finish();
    if (!report.ok()) return fail(report.status());
    g.audit.details = {{"level", report->level},
                       {"problems", report->problems.size()},
                       {"packs", report->packs},
                       {"chunks_read", report->chunks_read}};
    if (g.json) {
        print_json({{"ok", report->ok()},
                    {"level", report->level},
                    {"problems", report->problems},
                    {"notes", report->notes},
                    {"packs", report->packs},
                    {"indexes", report->indexes},
                    {"snapshots", report->snapshots},
                    {"chunks_read", report->chunks_read},
                    {"bytes_read", report->bytes_read}});
    } else {
        for (const auto& n : report->notes) std::printf("note: %s\n", n.c_str());
        for (const auto& p : report->problems) std::printf("error: %s\n", p.c_str());
        if (!g.quiet || !report->ok()) {
            std::printf("checked %llu packs, %llu index objects, %llu snapshots",
                        static_cast<unsigned long long>(report->packs),
                        static_cast<unsigned long long>(report->indexes),
                        static_cast<unsigned long long>(report->snapshots));
            if (report->level >= 3)
                std::printf(", read %llu chunks (%s)",
                            static_cast<unsigned long long>(report->chunks_read),
                            human_bytes(report->bytes_read).c_str());
            std::printf(
                "\n%s\n",
                report->ok()
                    ? "no problems found"
                    : (std::to_string(report->problems.size()) + " problem(s) found").c_str());
        }
    }
    if (!report->ok()) {
        if (!g.json)
            std::fprintf(stderr, "coffer: verify found %zu problem(s)\n", report->problems.size());
        return k_exit_integrity;
    }
    return k_exit_ok;
}

}  // namespace

void register_verify(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto args = std::make_shared<VerifyArgs>();
    CLI::App* cmd = app.add_subcommand("verify", "Check the repository's integrity");
    auto* rd = cmd->add_flag("--read-data", args->read_data,
                             "Also decrypt every chunk and check its ID (needs the recovery key)");
    cmd->add_option("--read-data-subset", args->subset, "Like --read-data for a random N% of packs")
        ->excludes(rd);
    cmd->add_option("--file", g.backup_file,
                    "Check a backup file ('coffer export') instead of the repository");
    cmd->callback([&g, &exit_code, args] { exit_code = run_verify(g, *args); });
}

}  // namespace coffer::cli
