// coffer audit show|verify|export|prove|rotate-key, and the hook that records every command.
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "coffer/audit/export.h"
#include "coffer/audit/journal.h"
#include "coffer/audit/log_verify.h"
#include "coffer/audit/merkle.h"
#include "coffer/audit/utf8.h"
#include "coffer/backup/file_cache.h"
#include "coffer/cli/common.h"
#include "coffer/crypto/crypto.h"
#include "coffer/repo/rotation.h"
#include "coffer/util/file.h"

namespace coffer::cli {

#define TRY_OR_FAIL(expr)                \
    do {                                 \
        Status _st = (expr);             \
        if (!_st.ok()) return fail(_st); \
    } while (0)

namespace {

std::string actor() {
    std::string user;
    if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) user = pw->pw_name;
    if (user.empty()) user = "uid " + std::to_string(::geteuid());
    std::string out = "os:" + user;
    if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo && user != sudo)
        out += " (sudo by " + std::string(sudo) + ")";
    // Set by `coffer serve` for a job an API user asked for (a restore): who asked, beside the
    // OS user that ran it, which stays the first word (anyone could set this variable).
    if (const char* api = std::getenv("COFFER_API_USER"); api && *api)
        out += " (for api user " + std::string(api).substr(0, 64) + ")";
    return out;
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "";
    return buf;
}

// Canonical JSON takes only UTF-8: a path or message in another encoding keeps its ASCII and
// gets '?' for each byte that is not part of a valid sequence, so the entry can still be written.
std::string valid_utf8(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        size_t start = i;
        uint32_t cp = 0;
        if (audit::detail::next_code_point(s, i, cp)) {
            out.append(s, start, i - start);
        } else {
            out += '?';
            i = start + 1;
        }
    }
    return out;
}

std::string host_key_path(const GlobalOptions& g) {
    return g.host_key.empty() ? default_host_key_path() : g.host_key;
}

}  // namespace

// The journal named by this host's key; the store is attached when the repository opens.
Result<audit::Journal> open_journal(GlobalOptions& g, bool with_store) {
    auto host = load_own_host_key(g);
    if (!host.ok()) return host.status();
    if (!*host)
        return not_found("no host key at " + host_key_path(g) +
                         ": the audit log belongs to a host key (pass --host-key)");
    repo::HostKey& h = **host;
    audit::JournalConfig c;
    c.repo_id = h.repository_id.hex();
    c.host_key_id = h.key_id_hex();
    c.host_name = h.host;
    c.dir = backup::default_cache_dir(c.repo_id, c.host_key_id) + "/audit";
    c.key_path = host_key_path(g) + ".audit";
    c.recovery_public_key = h.recovery_public_key;
    if (with_store && !g.repo.empty()) {
        // Only into the repository this host key belongs to: a command pointed at another one
        // (a mistake, or a test of one) must not plant this host's log there.
        auto store = open_repository_store(g);
        if (store.ok()) {
            auto config = repo::Repository::read_config(**store);
            if (config.ok() && config->id == h.repository_id) {
                c.store = *store;
                // A host key file not yet moved on by a recovery key rotation seals new audit
                // keys to the key that replaced it: one sealed to the old key would be lost
                // with it (the rewrap reseals only what is there when it runs).
                if (config->recovery_public_key != h.recovery_public_key) {
                    auto moved = repo::follow_rotations(**store, *config, h);
                    if (moved.ok() && *moved) c.recovery_public_key = h.recovery_public_key;
                }
            }
        }
    }
    return audit::Journal(std::move(c));
}

namespace {

audit::Action make_action(const std::string& action, const std::string& target,
                          const std::string& outcome, const std::string& error,
                          const nlohmann::json& details) {
    return audit::Action{actor(), host_name(),       action, valid_utf8(target),
                         outcome, valid_utf8(error), details};
}

}  // namespace

Status audit_now(GlobalOptions& g, const std::string& action, const std::string& outcome,
                 const nlohmann::json& details) {
    TRY_ASSIGN(audit::Journal journal, open_journal(g, true));
    TRY_ASSIGN(audit::Appended a,
               journal.append(make_action(action, g.audit.target, outcome, "", details)));
    if (!a.warning.empty() && !g.quiet)
        std::fprintf(stderr, "coffer: warning: %s\n", a.warning.c_str());
    return ok_status();
}

Status audit_as(GlobalOptions& g, const std::string& actor, const std::string& action,
                const std::string& target, const std::string& outcome,
                const nlohmann::json& details) {
    TRY_ASSIGN(audit::Journal journal, open_journal(g, true));
    return journal
        .append(audit::Action{valid_utf8(actor), host_name(), action, valid_utf8(target), outcome,
                              "", details})
        .status();
}

void audit_command(GlobalOptions& g, const std::string& action, int exit_code) {
    if (g.audit.recorded) return;
    std::string outcome = exit_code == k_exit_ok || exit_code == k_exit_incomplete ? "ok"
                          : exit_code == k_exit_usage                              ? "refused"
                                                                                   : "failed";
    nlohmann::json details = g.audit.details;
    details["exit_code"] = exit_code;
    auto journal = open_journal(g, true);
    // Without a usable host key there is no log to write to (a recovery-key-only restore on a
    // new machine; a broken key file, which the command itself reported): not recorded, as
    // docs/audit.md states.
    if (!journal.ok()) return;
    auto a = journal->append(make_action(g.audit.action.empty() ? action : g.audit.action,
                                         g.audit.target, outcome,
                                         exit_code == k_exit_ok ? "" : last_error(), details));
    Status st = a.status();
    // A failed command has said what failed in one line; the audit's own trouble then waits
    // for `coffer audit verify` rather than adding lines to that error.
    if (exit_code != k_exit_ok) return;
    if (a.ok() && !a->warning.empty() && !g.quiet)
        std::fprintf(stderr, "coffer: warning: %s\n", a->warning.c_str());
    if (!st.ok() && !g.json)
        std::fprintf(stderr, "coffer: warning: %s was not recorded in the audit log: %s\n",
                     action.c_str(), st.message().c_str());
}

std::vector<nlohmann::json> audit_entries(GlobalOptions& g, const std::string& action) {
    std::vector<nlohmann::json> out;
    auto j = open_journal(g, false);
    if (!j.ok()) return out;
    std::vector<std::string> leaves, cps;
    if (!j->load(leaves, cps).ok()) return out;
    for (const auto& leaf : leaves) {
        if (leaf.find("\"" + action + "\"") == std::string::npos) continue;
        auto e = nlohmann::json::parse(leaf, nullptr, false);
        if (!e.is_discarded() && e.is_object() && e.value("action", "") == action)
            out.push_back(std::move(e));
    }
    return out;
}

namespace {

struct AuditArgs {
    std::string since, action, offline_dir, trusted_checkpoint, export_dir;
    std::vector<std::string> trusted_keys;
    uint64_t entry = 0;
};

// The log as this host has it: local, else the repository's copy.
Status load_log(GlobalOptions& g, audit::Journal& j, std::vector<std::string>& leaves,
                std::vector<std::string>& checkpoints) {
    TRY(j.load(leaves, checkpoints));
    if (!leaves.empty()) return ok_status();
    TRY_ASSIGN(audit::Replica r, j.read_replica());
    leaves = std::move(r.leaves);
    checkpoints = std::move(r.checkpoints);
    if (leaves.empty())
        return not_found("no audit log yet for host key " + host_key_path(g) +
                         " (every backup, restore or other action starts it)");
    return ok_status();
}

// The config applied, the journal opened and its log read (local, else the repository's copy).
Status read_log(GlobalOptions& g, std::vector<std::string>& leaves,
                std::vector<std::string>& checkpoints) {
    TRY(apply_config_if_given(g));
    TRY_ASSIGN(audit::Journal j, open_journal(g, true));
    return load_log(g, j, leaves, checkpoints);
}

int run_show(GlobalOptions& g, const AuditArgs& a) {
    std::vector<std::string> leaves, cps;
    if (Status st = read_log(g, leaves, cps); !st.ok()) return fail(st);
    std::optional<audit::EntryTime> since;
    if (!a.since.empty()) {
        std::string t = a.since;
        if (t.size() == 10) t += "T00:00:00Z";  // a plain date
        auto parsed = audit::parse_entry_time(t);
        if (!parsed.ok())
            return fail(invalid_argument("--since " + a.since +
                                         ": give an RFC 3339 UTC time or a date, e.g. "
                                         "2026-12-01T08:00:00Z or 2026-12-01"));
        since = *parsed;
    }
    for (const auto& leaf : leaves) {
        auto e = nlohmann::json::parse(leaf, nullptr, false);
        if (e.is_discarded()) continue;
        std::string action = e.value("action", "");
        if (!a.action.empty() && action != a.action && action.rfind(a.action + ".", 0) != 0)
            continue;
        if (since) {
            auto t = audit::parse_entry_time(e.value("time", ""));
            if (t.ok() && *t < *since) continue;
        }
        if (g.json) {
            std::printf("%s\n", leaf.c_str());
            continue;
        }
        std::string line = "#" + std::to_string(e.value("index", 0)) + " " + e.value("time", "") +
                           " " + e.value("actor", "") + " " + action;
        if (!e.value("target", "").empty()) line += " " + e.value("target", "");
        line += " " + e.value("outcome", "");
        if (e.contains("error")) line += ": " + e.value("error", "");
        std::printf("%s\n", line.c_str());
    }
    return k_exit_ok;
}

audit::TrustAnchor anchor_from(const AuditArgs& a, Status& st) {
    audit::TrustAnchor anchor;
    anchor.trusted_keys = a.trusted_keys;
    if (!a.trusted_checkpoint.empty()) {
        auto bytes = read_file(a.trusted_checkpoint);
        if (!bytes.ok()) {
            st = bytes.status().with_context("--trusted-checkpoint");
            return anchor;
        }
        anchor.trusted_checkpoint = std::string(as_chars(*bytes));
    }
    return anchor;
}

int print_report(const GlobalOptions& g, const std::string& what, const audit::Report& r) {
    if (g.json) {
        print_json({{"log", what},
                    {"ok", r.status != audit::LogStatus::failed},
                    {"anchored", r.anchored},
                    {"entries", r.entries},
                    {"checkpoints", r.checkpoints},
                    {"unsigned_tail", r.unsigned_tail},
                    {"summary", r.summary()}});
    } else {
        std::printf("%s: %s\n", what.c_str(), r.summary().c_str());
    }
    return r.status == audit::LogStatus::failed ? k_exit_integrity : k_exit_ok;
}

int run_verify(GlobalOptions& g, const AuditArgs& a) {
    Status st;
    audit::TrustAnchor anchor = anchor_from(a, st);
    if (!st.ok()) return fail(st);
    if (!a.offline_dir.empty()) {
        auto r = audit::verify_export(a.offline_dir, anchor);
        if (!r.ok()) return fail(r.status());
        int code = print_report(g, "export " + a.offline_dir, *r);
        if (code == k_exit_ok && !r->anchored && !g.json)
            std::printf(
                "note: no trust anchor given: the export is self-consistent, which proves "
                "nothing about who wrote it; pass --trusted-key or --trusted-checkpoint\n");
        return code;
    }
    TRY_OR_FAIL(apply_config_if_given(g));
    auto j = open_journal(g, true);
    if (!j.ok()) return fail(j.status());
    std::vector<std::string> leaves, cps;
    // The repository's copy first, then the local log: an append in between only makes the
    // local one longer, which is what it may be.
    auto replica = j->read_replica();
    if (!replica.ok())
        return fail(replica.status().with_context("reading audit/ in the repository"));
    if (Status s = j->load(leaves, cps); !s.ok()) return fail(s);
    if (leaves.empty() && replica->leaves.empty())
        return fail(not_found("no audit log yet for host key " + host_key_path(g)));
    // This host's own key is an anchor for its own log; so is the newest checkpoint an earlier
    // verify saw, so that a log cut back below it fails even where the repository was cut too.
    auto current = j->current_verifier_key();
    if (current.ok() && !current->empty()) anchor.trusted_keys.push_back(*current);
    const std::string seen_path = j->dir() + "/seen-checkpoint";
    if (anchor.trusted_checkpoint.empty())
        if (auto seen = read_file(seen_path); seen.ok())
            anchor.trusted_checkpoint = std::string(as_chars(*seen));
    int code = k_exit_ok;
    audit::Report local;
    if (!leaves.empty()) {
        local = audit::verify_log("", leaves, cps, anchor);
        code = std::max(code, print_report(g, "local log", local));
    }
    if (!replica->leaves.empty()) {
        // The checkpoint an earlier verify saw came from the local log, which may be ahead of
        // the repository by what was not copied yet: it anchors the local log only.
        audit::TrustAnchor replica_anchor = anchor;
        if (a.trusted_checkpoint.empty()) replica_anchor.trusted_checkpoint.clear();
        audit::Report rep =
            audit::verify_log("", replica->leaves, replica->checkpoints, replica_anchor);
        code = std::max(code, print_report(g, "repository copy", rep));
        // The copies must agree: the repository's is a prefix of the local one (the local may
        // be ahead by what was not replicated yet).
        size_t n = std::min(leaves.size(), replica->leaves.size());
        for (size_t i = 0; i < n; ++i)
            if (leaves[i] != replica->leaves[i]) {
                std::printf("error: the local log and the repository's copy differ at entry %zu\n",
                            i);
                code = k_exit_integrity;
                break;
            }
        if (!leaves.empty() && replica->leaves.size() > leaves.size()) {
            std::printf(
                "error: the repository's copy has %zu entries, the local log only %zu: "
                "the local log was rolled back\n",
                replica->leaves.size(), leaves.size());
            code = k_exit_integrity;
        } else if (leaves.size() > replica->leaves.size() && !g.json) {
            std::printf(
                "note: %zu local entries are not in the repository yet (the next action "
                "copies them)\n",
                leaves.size() - replica->leaves.size());
        }
    } else if (!g.json) {
        std::printf("note: the repository holds no copy of this log yet\n");
    }
    if (code == k_exit_ok && !cps.empty())
        (void)write_file_atomic(seen_path, as_bytes(cps.back()), 0600);
    return code;
}

int run_export(GlobalOptions& g, const AuditArgs& a) {
    std::vector<std::string> leaves, cps;
    if (Status s = read_log(g, leaves, cps); !s.ok()) return fail(s);
    auto written = audit::write_export(a.export_dir, leaves, cps);
    if (!written.ok()) return fail(written);
    g.audit.target = a.export_dir;
    g.audit.details = {{"entries", leaves.size()}, {"checkpoints", cps.size()}};
    if (!g.quiet)
        std::printf("exported %zu entries and %zu checkpoints to %s (see its README.md)\n",
                    leaves.size(), cps.size(), a.export_dir.c_str());
    return k_exit_ok;
}

int run_prove(GlobalOptions& g, const AuditArgs& a) {
    std::vector<std::string> leaves, cps;
    if (Status s = read_log(g, leaves, cps); !s.ok()) return fail(s);
    if (cps.empty()) return fail(not_found("the audit log has no checkpoint yet"));
    auto parsed = audit::parse_note(cps.back());
    if (!parsed.ok()) return fail(parsed.status());
    auto cp = audit::parse_checkpoint(parsed->text);
    if (!cp.ok()) return fail(cp.status());
    if (cp->size > leaves.size())
        return fail(integrity_error("the newest checkpoint covers " + std::to_string(cp->size) +
                                    " entries but the log has " + std::to_string(leaves.size()) +
                                    ": run coffer audit verify"));
    if (a.entry >= cp->size)
        return fail(not_found("entry " + std::to_string(a.entry) +
                              " is not covered by the newest checkpoint (size " +
                              std::to_string(cp->size) + ")"));
    std::vector<Id> hashes;
    for (size_t i = 0; i < cp->size; ++i) hashes.push_back(audit::leaf_hash(as_bytes(leaves[i])));
    auto proof = audit::inclusion_proof(hashes, a.entry);
    if (!proof.ok()) return fail(proof.status());
    nlohmann::json p = nlohmann::json::array();
    for (const Id& h : *proof) p.push_back(crypto::base64_encode(h.view()));
    print_json({{"index", a.entry},
                {"tree_size", cp->size},
                {"leaf", crypto::base64_encode(as_bytes(leaves[a.entry]))},
                {"leaf_hash", crypto::base64_encode(hashes[a.entry].view())},
                {"proof", p},
                {"checkpoint", cps.back()}});
    return k_exit_ok;
}

int run_rotate(GlobalOptions& g) {
    TRY_OR_FAIL(apply_config_if_given(g));
    auto j = open_journal(g, true);
    if (!j.ok()) return fail(j.status());
    auto key = j->rotate_key(make_action("audit.key.rotate", "", "ok", "", {}));
    if (!key.ok()) return fail(key.status());
    g.audit.recorded = true;  // the rotation's own entries are the record
    std::printf("new audit key: %s\n", key->c_str());
    std::printf(
        "give it to your auditors as a trust anchor (coffer audit verify --offline DIR "
        "--trusted-key '<key>'); the old key still verifies what it signed\n");
    return k_exit_ok;
}

}  // namespace

void register_audit(CLI::App& app, GlobalOptions& g, int& exit_code) {
    CLI::App* cmd = app.add_subcommand("audit", "The tamper-evident audit log");
    cmd->require_subcommand(1);
    auto args = std::make_shared<AuditArgs>();

    CLI::App* show = cmd->add_subcommand("show", "Print audit entries");
    show->add_option("--since", args->since, "Only entries at or after this time (RFC 3339 UTC)");
    show->add_option("--action", args->action, "Only this action (and its sub-actions)");
    show->callback([&g, &exit_code, args] { exit_code = run_show(g, *args); });

    CLI::App* verify = cmd->add_subcommand(
        "verify", "Verify the log: tree, checkpoints, keys, and local against repository");
    verify->add_option("--offline", args->offline_dir,
                       "Verify an export directory, with nothing but that directory");
    verify->add_option("--trusted-key", args->trusted_keys,
                       "A trusted audit verifier key (repeatable)");
    verify->add_option("--trusted-checkpoint", args->trusted_checkpoint,
                       "A file holding a checkpoint seen before: the log must extend it");
    verify->callback([&g, &exit_code, args] { exit_code = run_verify(g, *args); });

    CLI::App* exp = cmd->add_subcommand("export", "Write the log to a directory for an auditor");
    exp->add_option("dir", args->export_dir, "Directory to create")->required();
    exp->callback([&g, &exit_code, args] {
        exit_code = run_export(g, *args);
        audit_command(g, "audit.export", exit_code);
    });

    CLI::App* prove = cmd->add_subcommand(
        "prove", "Print an inclusion proof of one entry against the newest checkpoint");
    prove->add_option("entry", args->entry, "Entry index")->required();
    prove->callback([&g, &exit_code, args] { exit_code = run_prove(g, *args); });

    CLI::App* key = cmd->add_subcommand(
        "key", "Print this host's current audit verifier key, the trust anchor for auditors");
    key->callback([&g, &exit_code] {
        exit_code = [&]() -> int {
            TRY_OR_FAIL(apply_config_if_given(g));
            auto j = open_journal(g, false);
            if (!j.ok()) return fail(j.status());
            auto k = j->current_verifier_key();
            if (!k.ok()) return fail(k.status());
            if (k->empty())
                return fail(
                    not_found("no audit key yet: the first action (backup, restore, "
                              "...) creates it"));
            std::printf("%s\n", k->c_str());
            return k_exit_ok;
        }();
    });

    CLI::App* rotate =
        cmd->add_subcommand("rotate-key", "Retire the audit signing key and activate a new one");
    rotate->callback([&g, &exit_code] {
        exit_code = run_rotate(g);
        audit_command(g, "audit.key.rotate", exit_code);
    });
}

}  // namespace coffer::cli
