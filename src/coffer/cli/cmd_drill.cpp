// coffer drill: a restore drill of a backup set into scratch targets (drill/drill.h), with
// its report (drill/report.h) and its record in the audit log.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "coffer/cli/common.h"
#include "coffer/crypto/crypto.h"
#include "coffer/drill/checks.h"
#include "coffer/drill/drill.h"
#include "coffer/drill/report.h"
#include "coffer/util/file.h"

namespace coffer::cli {

namespace {

struct DrillArgs {
    std::string set, snapshot, report;
    bool latest = false, keep = false;
    std::string canary_key, canary_text, canary_out;
};

// The audit log keeps numbers as integers only (canonical JSON): a drill's seconds are stored
// as decimal text. Turned back into numbers for the report's history.
void revive_seconds(nlohmann::json& j) {
    if (j.is_object()) {
        for (auto& [k, v] : j.items()) {
            if (v.is_string() && (k == "seconds" || k.ends_with("_s"))) {
                const std::string& text = v.get_ref<const std::string&>();
                char* end = nullptr;
                double d = std::strtod(text.c_str(), &end);
                if (end && *end == '\0' && end != text.c_str()) v = d;
            } else {
                revive_seconds(v);
            }
        }
    } else if (j.is_array()) {
        for (auto& v : j) revive_seconds(v);
    }
}

}  // namespace

std::map<std::string, std::vector<nlohmann::json>> drills_by_set(GlobalOptions& g) {
    std::map<std::string, std::vector<nlohmann::json>> out;
    for (auto& e : audit_entries(g, "drill")) {
        if (!e["details"].contains("drill")) continue;
        nlohmann::json d = e["details"]["drill"];
        revive_seconds(d);
        std::string set = d.value("set", "");
        out[set].push_back(std::move(d));
    }
    return out;
}

namespace {

int run_drill(GlobalOptions& g, const DrillArgs& a) {
    auto cfg = load_config(g);
    if (!cfg.ok()) return fail(cfg.status());
    const config::SetConfig* set = cfg->find_set(a.set);
    if (!set)
        return fail(not_found("no backup set '" + a.set + "' in " + cfg->path +
                              ": see coffer config check"));
    auto opened = open_repository(g, KeyNeed::recovery);
    if (!opened.ok()) return fail(opened.status());
    repo::Repository& repository = *opened->repo;
    auto all = repository.list_snapshots();
    if (!all.ok()) return fail(all.status());
    std::vector<repo::Snapshot> of_set;
    for (const auto& s : *all)
        if (s.set == set->name) of_set.push_back(s);
    std::sort(of_set.begin(), of_set.end(),
              [](const auto& x, const auto& y) { return x.time_ns < y.time_ns; });
    if (of_set.empty()) return fail(not_found("set '" + set->name + "' has no snapshot to drill"));
    // The newest backup proper: a safety snapshot holds the state a restore replaced.
    const repo::Snapshot* chosen = nullptr;
    for (const auto& x : of_set)
        if (!is_safety_snapshot(x)) chosen = &x;
    if (!a.snapshot.empty() && a.snapshot != "latest") {
        auto s = repository.find_snapshot(a.snapshot);
        if (!s.ok()) return fail(s.status());
        chosen = nullptr;
        for (const auto& x : of_set)
            if (x.id == s->id) chosen = &x;
        if (!chosen)
            return fail(invalid_argument("snapshot " + s->id.short_hex() + " is not of set '" +
                                         set->name + "'"));
    }
    if (!chosen)
        return fail(not_found("set '" + set->name +
                              "' has only safety snapshots: back it up, or drill one with "
                              "--snapshot ID"));
    g.audit.target = "set " + set->name + " snapshot " + chosen->id.hex();

    drill::Options opts;
    if (const char* tmp = std::getenv("TMPDIR"); tmp && *tmp) opts.scratch_parent = tmp;
    opts.records_dir = state_dir(repository) + "/drills";
    opts.keep = a.keep;
    auto result = drill::run(repository, *cfg, *set, *chosen, of_set, opts);
    if (!result.ok()) return fail(result.status().with_context("drill of set '" + set->name + "'"));
    nlohmann::json& r = *result;
    // On stderr in --json mode too: the daemon keeps a child's stderr.
    for (const char* key : {"swept", "leftovers"})
        for (const auto& line : r.value(key, nlohmann::json::array()))
            if (!g.quiet)
                std::fprintf(stderr, "coffer: %s: %s\n", key[0] == 's' ? "note" : "warning",
                             line.get<std::string>().c_str());

    // Earlier drills of this set, newest first, from the audit log.
    std::vector<nlohmann::json> history = drills_by_set(g)[set->name];
    std::reverse(history.begin(), history.end());

    if (!a.report.empty()) {
        std::string html = drill::render_html(r, history);
        Status st = write_file_atomic(a.report, as_bytes(html), 0600);
        std::string json_path = a.report.size() > 5 && a.report.ends_with(".html")
                                    ? a.report.substr(0, a.report.size() - 5) + ".json"
                                    : a.report + ".json";
        if (st.ok()) st = write_file_atomic(json_path, as_bytes(r.dump(2) + "\n"), 0600);
        if (!st.ok()) return fail(st.with_context("the drill ran but its report was not written"));
    }
    // The audit entry, replicated in clear to the repository, carries the result without the
    // checks' details: an SQL check's value is production data. The report keeps them.
    nlohmann::json recorded = r;
    for (auto& c : recorded["checks"]) c.erase("detail");
    if (recorded.contains("error")) recorded["error"] = "the drill did not complete";
    g.audit.details = {{"drill", recorded}};
    if (g.json)
        print_json(r);
    else
        std::fputs(drill::render_text(r).c_str(), stdout);
    if (!r.value("ok", false)) {
        std::string why = r.value("error", std::string());
        for (const auto& c : r["checks"])
            if (why.empty() && !c.value("ok", false))
                why = "check '" + c.value("check", std::string()) + "' failed";
        if (why.empty() && r.contains("cleanup_errors"))
            why = "its scratch targets were not removed: " +
                  r["cleanup_errors"][0].get<std::string>();
        if (why.empty() && r.contains("leftovers"))
            why = "an earlier drill's scratch targets could not be removed: " +
                  r["leftovers"][0].get<std::string>();
        fail(integrity_error("drill of set '" + set->name + "' failed: " + why));
        return k_exit_integrity;
    }
    bool missed = (r["rto"].contains("met") && !r["rto"]["met"].get<bool>()) ||
                  (r["rpo"].contains("met") && !r["rpo"]["met"].get<bool>());
    return missed ? k_exit_incomplete : k_exit_ok;
}

// An AES-256-GCM canary for a decrypt check: nonce | ciphertext | tag, under the key file.
int make_canary(GlobalOptions& g, const DrillArgs& a) {
    g.audit.action = "drill-canary";
    g.audit.target = a.canary_out;
    if (a.canary_text.empty())
        return fail(invalid_argument("--text must not be empty: the text a decrypt check expects"));
    auto key_file = read_secret_file(a.canary_key);
    if (!key_file.ok()) return fail(key_file.status().with_context("--key-file"));
    auto key = crypto::key_from_text(key_file->view());
    if (!key)
        return fail(invalid_argument("--key-file " + a.canary_key + " " +
                                     std::string(drill::k_key_formats)));
    Bytes canary = crypto::random_bytes(crypto::k_gcm_nonce_size);
    auto sealed = crypto::aes_gcm_seal(key->view(), canary, {}, as_bytes(a.canary_text));
    if (!sealed.ok()) return fail(sealed.status());
    append(canary, *sealed);
    Status st = write_new_file(a.canary_out, canary, 0644);
    if (!st.ok()) return fail(st);
    if (g.json)
        print_json({{"canary", a.canary_out}, {"bytes", canary.size()}});
    else if (!g.quiet)
        std::printf(
            "canary written to %s: a decrypt check with key_file = the live path of %s "
            "and expect = your text proves a drill restores that key\n",
            a.canary_out.c_str(), a.canary_key.c_str());
    return k_exit_ok;
}

}  // namespace

void register_drill(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto a = std::make_shared<DrillArgs>();
    CLI::App* cmd = app.add_subcommand(
        "drill", "Restore a backup set into scratch targets, check it, and measure RTO and RPO");
    cmd->add_option("--set", a->set, "The backup set to drill (required for a drill)");
    cmd->add_option("--snapshot", a->snapshot, "This snapshot (id or prefix; default the newest)");
    cmd->add_flag("--latest", a->latest, "The newest snapshot of the set (the default)");
    cmd->add_flag("--keep", a->keep, "Leave the scratch database and directory for inspection");
    cmd->add_option("--report", a->report,
                    "Write a self-contained HTML report here (and the JSON beside it)");
    CLI::App* canary = cmd->add_subcommand(
        "canary", "Write an AES-256-GCM canary file for a drill's decrypt check");
    canary->add_option("--key-file", a->canary_key, "The key (32 bytes raw, hex or base64)")
        ->required();
    canary->add_option("--text", a->canary_text, "The text the canary decrypts to")->required();
    canary->add_option("--out", a->canary_out, "The canary file to write (must not exist)")
        ->required();
    canary->callback([&g, &exit_code, a, cmd] {
        for (const char* drill_only : {"--set", "--snapshot", "--latest", "--keep", "--report"})
            if (cmd->count(drill_only)) {
                exit_code = fail(invalid_argument(std::string(drill_only) +
                                                  " is for a drill, not for drill canary"));
                return;
            }
        exit_code = make_canary(g, *a);
    });
    cmd->callback([&g, &exit_code, a, canary] {
        if (canary->parsed()) return;
        if (a->set.empty()) {
            exit_code = fail(invalid_argument("--set is required: the backup set to drill"));
            return;
        }
        if (a->latest && !a->snapshot.empty()) {
            exit_code = fail(invalid_argument("give one of --snapshot and --latest"));
            return;
        }
        exit_code = run_drill(g, *a);
    });
}

}  // namespace coffer::cli
