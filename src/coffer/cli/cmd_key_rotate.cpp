// coffer key rotate-recovery: replaces the recovery key (repo/rotation.h), and with --rewrap
// moves every existing pack onto the new one (repo/rewrap.h) so that the old key can be
// destroyed.
//
// A new rotation writes the new key (--out) before it touches the repository, then the signed
// rotation statement, then the registry re-signed and the host secrets resealed beside the
// files they replace (keys/*.next), then the config: that write is the commit. After it the
// .next files replace their originals, the audit keys are resealed, this host's key file
// follows, and --rewrap runs. An interrupted run is finished by running the command again with
// the new key as the recovery key and the old one as --previous-recovery-key-file.
#include <unistd.h>

#include <cstdio>

#include "coffer/audit/journal.h"
#include "coffer/cli/common.h"
#include "coffer/repo/registry.h"
#include "coffer/repo/rewrap.h"
#include "coffer/repo/rotation.h"
#include "coffer/util/file.h"

namespace coffer::cli {

namespace {

struct RotateArgs {
    std::string out;
    std::string shares;  // K-of-N
    bool rewrap = false;
};

std::string fingerprint(const repo::RecoveryKey& key) {
    return to_hex(key.public_key).substr(0, 16);
}

// Everything after the commit; also what finishing an interrupted rotation runs.
struct Finished {
    size_t promoted = 0;
    size_t audit_resealed = 0;
    bool host_key_updated = false;
    std::optional<repo::RewrapStats> rewrap;
};

Result<Finished> finish(GlobalOptions& g, const std::shared_ptr<store::Store>& store,
                        const repo::RecoveryKey& current, const repo::RecoveryKey& previous,
                        bool rewrap) {
    Finished f;
    TRY_ASSIGN(repo::RepoConfig config, repo::Repository::read_config(*store));
    TRY_ASSIGN(f.promoted, repo::promote_staged_registry(*store, config, current));
    TRY_ASSIGN(f.audit_resealed,
               audit::reseal_audit_keys(*store, config.id.hex(), previous.private_key.view(),
                                        config.recovery_public_key));
    // This host's key file follows; one that cannot be read or rewritten does not stop the
    // rotation (it follows in memory whenever it opens the repository).
    if (auto host = load_host_key_if_present(g);
        host.ok() && *host && (*host)->repository_id == config.id) {
        auto moved = follow_rotation_in_key_file(g, *store, config, **host);
        if (moved.ok())
            f.host_key_updated = *moved;
        else if (!g.quiet)
            std::fprintf(stderr, "coffer: warning: %s\n", moved.status().message().c_str());
    }
    if (rewrap) {
        TRY_ASSIGN(f.rewrap, repo::rewrap_packs(store, current, previous));
    }
    return f;
}

void report(const GlobalOptions& g, const Finished& f, const nlohmann::json& extra) {
    if (g.json) {
        nlohmann::json j = extra;
        j["registry_files_promoted"] = f.promoted;
        j["audit_keys_resealed"] = f.audit_resealed;
        j["host_key_file_updated"] = f.host_key_updated;
        if (f.rewrap) {
            const auto& r = *f.rewrap;
            j["rewrap"] = {{"packs_rewrapped", r.packs_rewrapped},
                           {"packs_current", r.packs_current},
                           {"index_written", r.index_written},
                           {"index_removed", r.index_removed},
                           {"index_retained", r.index_retained},
                           {"packs_removed", r.packs_removed},
                           {"packs_retained", r.packs_retained},
                           {"bytes_written", r.bytes_written},
                           {"complete", r.complete()},
                           {"problems", r.problems}};
        }
        print_json(j);
        return;
    }
    if (g.quiet) return;
    if (f.host_key_updated) std::printf("this host's key file now records the new recovery key\n");
    if (!f.rewrap) {
        std::printf(
            "packs written before the rotation still open only with the old recovery key: keep it\n"
            "until 'coffer key rotate-recovery --rewrap --previous-recovery-key-file OLD' has\n"
            "moved them (restore meanwhile with --previous-recovery-key-file OLD beside the new "
            "key)\n");
        return;
    }
    const auto& r = *f.rewrap;
    std::printf(
        "rewrap: %zu packs rewrapped (%s), %zu already on the new key, %zu old packs "
        "removed, %zu index objects replaced\n",
        r.packs_rewrapped, human_bytes(r.bytes_written).c_str(), r.packs_current, r.packs_removed,
        r.index_removed);
    for (const auto& p : r.problems) std::fprintf(stderr, "coffer: problem: %s\n", p.c_str());
    if (r.packs_retained || r.index_retained)
        std::printf(
            "%zu old packs and %zu replaced index objects are kept by Object Lock until %s: "
            "the old key opens them until then; run --rewrap again afterwards\n",
            r.packs_retained, r.index_retained,
            repo::format_rfc3339(r.retained_until).substr(0, 19).c_str());
    if (r.complete())
        std::printf(
            "every pack is sealed to the new recovery key: the old one opens nothing in "
            "this repository and can be destroyed (copies elsewhere, such as mirrors, "
            "are not rewrapped)\n");
}

int run_rotate(GlobalOptions& g, const RotateArgs& a) {
    if (Status st = apply_config_if_given(g); !st.ok()) return fail(st);
    auto store = open_store(g);
    if (!store.ok()) return fail(store.status());
    auto config = repo::Repository::read_config(**store);
    if (!config.ok()) return fail(config.status());
    g.audit.target = config->id.hex();
    auto recovery = load_recovery_key_if_given(g);
    if (!recovery.ok()) return fail(recovery.status());
    if (!*recovery)
        return fail(
            wrong_key(std::string("rotating the recovery key needs it: ") + k_recovery_key_hint));
    const repo::RecoveryKey& current = **recovery;
    auto role = repo::recovery_key_role(**store, *config, current);
    if (!role.ok()) return fail(role.status());
    if (*role == repo::RecoveryKeyRole::previous) {
        auto r = repo::rotation_from(**store, *config, current);
        return fail(wrong_key(
            "this recovery key was rotated out on " +
            (r.ok() ? r->created.substr(0, 19) : std::string("an earlier run")) +
            ": pass the key that replaced it as --recovery-key-file and this one as "
            "--previous-recovery-key-file to finish the rotation (add --rewrap to move the "
            "packs)"));
    }

    // --previous-recovery-key-file (a global option): finish a rotation, or rewrap after one.
    if (previous_recovery_key_given(g)) {
        // Finishing an interrupted rotation, or rewrapping after one made without --rewrap.
        auto loaded = load_previous_recovery_key_if_given(g);
        if (!loaded.ok()) return fail(loaded.status());
        auto& previous = *loaded;
        auto prole = repo::recovery_key_role(**store, *config, *previous, true);
        if (!prole.ok()) return fail(prole.status().with_context("--previous-recovery-key-file"));
        if (*prole == repo::RecoveryKeyRole::current)
            return fail(invalid_argument(
                "--previous-recovery-key-file is the repository's current recovery key: pass the "
                "key it replaced"));
        // A rewrap already recorded as done has nothing left to move; the steps before it are
        // repeated all the same (they are idempotent).
        bool rewrapped = *prole == repo::RecoveryKeyRole::retired;
        auto done = finish(g, *store, current, *previous, a.rewrap && !rewrapped);
        if (!done.ok()) return fail(done.status());
        g.audit.details = {{"finished", true},
                           {"rewrap", a.rewrap},
                           {"from", fingerprint(*previous)},
                           {"to", fingerprint(current)}};
        if (done->rewrap) g.audit.details["rewrap_complete"] = done->rewrap->complete();
        if (!g.json && !g.quiet)
            std::printf("rotation from recovery key %s to %s finished\n",
                        fingerprint(*previous).c_str(), fingerprint(current).c_str());
        report(g, *done, {{"repository_id", config->id.hex()}, {"finished", true}});
        return done->rewrap && !done->rewrap->complete() ? k_exit_incomplete : k_exit_ok;
    }

    if (a.out.empty())
        return fail(invalid_argument(
            "rotate-recovery needs --out: where to write the new recovery key (a file, or with "
            "--shares K-of-N a directory for the shares), before anything changes"));
    if (::access(a.out.c_str(), F_OK) == 0 && a.shares.empty())
        return fail(already_exists(a.out + " already exists; refusing to overwrite it (choose "
                                           "another --out)"));
    repo::RecoveryKey next = repo::RecoveryKey::generate();

    // 1. The new key where the operator keeps it, before the repository depends on it.
    std::vector<std::string> share_paths;
    std::vector<repo::RecoveryShare> shares;
    if (!a.shares.empty()) {
        auto kn = repo::parse_k_of_n(a.shares);
        if (!kn.ok()) return fail(kn.status());
        auto split = repo::split_recovery_key(next, kn->first, kn->second);
        if (!split.ok()) return fail(split.status());
        shares = std::move(*split);
        auto w = write_share_files(shares, a.out, config->id.hex());
        if (!w.ok()) return fail(w.status().with_context("new recovery shares"));
        share_paths = std::move(*w);
    } else {
        std::string key_text = next.to_text();
        std::string text;
        text.reserve(key_text.size() + 1);  // no reallocation leaves a copy unwiped
        text = key_text;
        text += '\n';
        secure_wipe(key_text.data(), key_text.size());
        Status st = write_new_file(a.out, as_bytes(text), 0600);
        secure_wipe(text.data(), text.size());
        if (!st.ok()) return fail(st.with_context("new recovery key file " + a.out));
    }
    std::string where = a.shares.empty() ? a.out : "the share files in " + a.out;
    // 2. The repository, up to and past the commit (repo/rotation.h).
    auto statement = repo::rotate_recovery_key(**store, current, next);
    if (!statement.ok()) {
        auto now = repo::Repository::read_config(**store);
        if (now.ok() && now->recovery_public_key == config->recovery_public_key)
            return fail(statement.status().with_context(
                "rotation stopped before the repository changed (it still uses the old recovery "
                "key; " +
                where + " holds a key nothing uses: destroy it)"));
        return fail(statement.status().with_context(
            "the repository now uses the new recovery key (" + where +
            "), but the rotation did not finish: run 'coffer key rotate-recovery' again with "
            "--recovery-key-file NEW --previous-recovery-key-file OLD" +
            (a.rewrap ? " --rewrap" : "")));
    }
    g.audit.details = {{"from", fingerprint(current)},
                       {"to", fingerprint(next)},
                       {"rewrap", a.rewrap},
                       {"statement", *statement}};
    if (!g.json && !g.quiet) {
        std::printf("recovery key of repository %s rotated: %s replaces %s\n",
                    config->id.short_hex().c_str(), fingerprint(next).c_str(),
                    fingerprint(current).c_str());
        if (a.shares.empty())
            std::printf("new recovery key written to %s (mode 0600): move it off this host now\n",
                        a.out.c_str());
    }
    if (!shares.empty() && !g.json) print_shares(g, shares, share_paths, config->id.hex());
    // 3. Everything else follows from the config.
    auto done = finish(g, *store, next, current, a.rewrap);
    if (!done.ok())
        return fail(done.status().with_context(
            "the repository now uses the new recovery key (" + where +
            "), but the rotation did not finish: run 'coffer key rotate-recovery' again with "
            "--recovery-key-file NEW --previous-recovery-key-file OLD" +
            (a.rewrap ? " --rewrap" : "")));
    if (done->rewrap) g.audit.details["rewrap_complete"] = done->rewrap->complete();
    nlohmann::json extra = {{"repository_id", config->id.hex()},
                            {"from", fingerprint(current)},
                            {"to", fingerprint(next)}};
    if (a.shares.empty())
        extra["recovery_key_file"] = a.out;
    else
        extra["share_files"] = share_paths;
    report(g, *done, extra);
    return done->rewrap && !done->rewrap->complete() ? k_exit_incomplete : k_exit_ok;
}

}  // namespace

void register_key_rotate(CLI::App* key, GlobalOptions& g, int& exit_code) {
    auto a = std::make_shared<RotateArgs>();
    CLI::App* cmd = key->add_subcommand(
        "rotate-recovery",
        "Replace the recovery key; with --rewrap move every pack to the new one (needs the "
        "recovery key)");
    cmd->add_option("--out", a->out,
                    "Where to write the new recovery key (with --shares: a directory for the "
                    "share files); written before anything else changes");
    cmd->add_option("--shares", a->shares, "Write the new key as K-of-N shares, e.g. 2-of-3");
    cmd->add_flag("--rewrap", a->rewrap,
                  "Re-seal every existing pack's data key to the new key and remove the old "
                  "packs, so that the old key opens nothing");
    cmd->callback([&g, &exit_code, a] {
        exit_code = run_rotate(g, *a);
        audit_command(g, "key.rotate-recovery", exit_code);
    });
}

}  // namespace coffer::cli
