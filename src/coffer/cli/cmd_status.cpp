// coffer status: one look at every objective. Per set: the newest snapshot, its age against the
// RPO (OK / LATE), the daemon's last run, and the newest snapshot at every location (primary
// and mirrors); the last restore drill (from the audit log) with its measured RTO. Exits 3 when
// any set is LATE anywhere, its last drill failed, or it had no drill within drill_every, so it
// serves as a monitoring check. Host key only.
#include <cstdio>

#include "coffer/cli/common.h"
#include "coffer/retention/policy.h"
#include "coffer/server/state.h"

namespace coffer::cli {

namespace {

constexpr int k_exit_objective = 3;  // an objective is violated (as mirror --check's "behind")

std::string when(std::optional<int64_t> ns) {
    return ns ? repo::format_rfc3339(*ns).substr(0, 19) + "Z" : std::string("-");
}

std::string age_text(int64_t ns) {
    return retention::format_duration(std::max<int64_t>(0, ns / 1000000000));
}

struct Location {
    std::string url;
    std::string role;
    std::map<std::string, SetSnapshots> sets;
    std::string error;  // could not be read
};

Location read_location(const GlobalOptions& g, const std::string& url, const std::string& role) {
    Location loc{url, role, {}, {}};
    GlobalOptions m = g;
    m.repo = url;
    m.config.clear();  // the config was applied already; it must not replace url
    auto opened = open_repository(m, KeyNeed::host);
    if (!opened.ok()) {
        loc.error = opened.status().message();
        return loc;
    }
    auto sets = snapshots_by_set(*opened->repo);
    if (!sets.ok())
        loc.error = sets.status().message();
    else
        loc.sets = std::move(*sets);
    return loc;
}

int run_status(GlobalOptions& g) {
    auto cfg = load_config(g);
    if (!cfg.ok()) return fail(cfg.status());
    // The primary must be readable: its failure is the command's (a key problem exits 6...).
    {
        GlobalOptions p = g;
        p.config.clear();
        auto opened = open_repository(p, KeyNeed::host);
        if (!opened.ok()) return fail(opened.status());
    }
    std::vector<Location> locations = {read_location(g, g.repo, "primary")};
    if (!locations[0].error.empty()) return fail(internal_error(locations[0].error));
    for (const auto& m : cfg->repository.mirrors)
        locations.push_back(read_location(g, m, "mirror"));
    std::string state =
        cfg->server.state_dir.empty() ? default_daemon_state_dir() : cfg->server.state_dir;
    auto db = server::StateDb::open_existing(state);

    const int64_t now = repo::now_unix_ns();
    bool violated = false;
    nlohmann::json sets = nlohmann::json::array();
    auto drills_of_set = drills_by_set(g);  // one read of the audit log for every set
    for (const auto& set : cfg->sets) {
        nlohmann::json js = {{"set", set.name}};
        if (set.rpo_seconds) js["rpo"] = retention::format_duration(*set.rpo_seconds);
        nlohmann::json per_location = nlohmann::json::array();
        std::string verdict = "OK";
        for (const auto& loc : locations) {
            nlohmann::json jl = {{"location", loc.url}, {"role", loc.role}};
            auto it = loc.sets.find(set.name);
            std::optional<int64_t> newest =
                it == loc.sets.end() ? std::nullopt : it->second.newest_ns;
            jl["newest_snapshot"] = when(newest);
            jl["snapshots"] = it == loc.sets.end() ? 0 : it->second.count;
            std::string status = "OK";
            if (!loc.error.empty()) {
                status = "UNREADABLE";
                jl["error"] = loc.error;
            } else if (set.rpo_seconds &&
                       (!newest || now - *newest > *set.rpo_seconds * 1000000000)) {
                status = "LATE";
            } else if (!set.rpo_seconds) {
                status = "NO RPO";
            }
            if (newest) jl["age"] = age_text(now - *newest);
            jl["status"] = status;
            if (status == "LATE" || status == "UNREADABLE") {
                violated = true;
                verdict = status;
            } else if (status == "NO RPO" && verdict == "OK") {
                verdict = status;
            }
            per_location.push_back(jl);
        }
        js["status"] = verdict;
        js["locations"] = per_location;
        if (db.ok()) {
            auto last = (*db)->last_run(set.name, "backup");
            if (last.ok() && *last) {
                const server::Run& r = **last;
                js["last_run"] = {
                    {"outcome", r.outcome},
                    {"start", when(r.start_ns)},
                    {"duration_s", r.end_ns ? double(r.end_ns - r.start_ns) / 1e9 : 0},
                    {"error", r.error}};
            }
        }
        if (set.rto_seconds) js["rto"] = retention::format_duration(*set.rto_seconds);
        // The last restore drill, from this host's audit log: a failed one, or none within
        // drill_every, is a violated objective like a LATE snapshot.
        const auto& drills = drills_of_set[set.name];
        js["last_drill"] = nullptr;
        if (!drills.empty()) {
            const nlohmann::json& d = drills.back();
            js["last_drill"] = {{"started", d.value("started", "")},
                                {"ok", d.value("ok", false)},
                                {"snapshot_id", d.value("snapshot_id", "")},
                                {"rto", d.value("rto", nlohmann::json::object())},
                                {"rpo", d.value("rpo", nlohmann::json::object())}};
            if (!d.value("ok", false)) {
                js["drill_status"] = "DRILL FAILED";
                violated = true;
            }
        }
        if (set.drill_every_seconds) {
            js["drill_every"] = retention::format_duration(*set.drill_every_seconds);
            int64_t last_ns = 0;
            if (!drills.empty())
                if (auto t = repo::parse_rfc3339(drills.back().value("started", "")); t.ok())
                    last_ns = *t;
            if (!js.contains("drill_status") &&
                (!last_ns || now - last_ns > *set.drill_every_seconds * 1000000000)) {
                js["drill_status"] = "DRILL OVERDUE";
                violated = true;
            }
        }
        if (!js.contains("drill_status")) js["drill_status"] = drills.empty() ? "NO DRILL" : "OK";
        sets.push_back(js);
    }
    if (g.json) {
        print_json({{"sets", sets}, {"ok", !violated}});
        return violated ? k_exit_objective : k_exit_ok;
    }
    for (const auto& js : sets) {
        std::printf("set %s: %s", js["set"].get<std::string>().c_str(),
                    js["status"].get<std::string>().c_str());
        if (js.contains("rpo")) std::printf(" (rpo %s)", js["rpo"].get<std::string>().c_str());
        if (js.contains("last_run")) {
            const auto& r = js["last_run"];
            std::printf(", last run %s at %s", r["outcome"].get<std::string>().c_str(),
                        r["start"].get<std::string>().c_str());
            if (!r["error"].get<std::string>().empty())
                std::printf(": %s", r["error"].get<std::string>().c_str());
        }
        std::printf("\n");
        for (const auto& jl : js["locations"]) {
            std::printf(
                "  %-8s %-10s newest %s%s%s  %s\n", jl["role"].get<std::string>().c_str(),
                jl["status"].get<std::string>().c_str(),
                jl["newest_snapshot"].get<std::string>().c_str(),
                jl.contains("age") ? (" (" + jl["age"].get<std::string>() + " ago)").c_str() : "",
                "", jl["location"].get<std::string>().c_str());
        }
        const std::string drill_status = js["drill_status"];
        if (js["last_drill"].is_object()) {
            const auto& d = js["last_drill"];
            std::string rto;
            if (d["rto"].contains("measured_s")) {
                const auto& m = d["rto"]["measured_s"];
                rto = ", rto " + (m.is_number()   ? human_duration(m.get<double>())
                                  : m.is_string() ? m.get<std::string>() + " s"
                                                  : "?");
                if (js.contains("rto")) rto += " of " + js["rto"].get<std::string>();
            }
            std::printf("  drill    %-10s last %s %s%s\n", drill_status.c_str(),
                        d["started"].get<std::string>().substr(0, 19).c_str(),
                        d["ok"].get<bool>() ? "passed" : "FAILED", rto.c_str());
        } else if (drill_status != "NO DRILL") {
            std::printf("  drill    %-10s no drill within %s\n", drill_status.c_str(),
                        js["drill_every"].get<std::string>().c_str());
        } else if (js.contains("rto")) {
            std::printf("  rto %s: not measured yet (no restore drill has run: coffer drill)\n",
                        js["rto"].get<std::string>().c_str());
        }
    }
    if (violated)
        std::printf(
            "objectives violated: see LATE / UNREADABLE / DRILL FAILED / DRILL OVERDUE "
            "above\n");
    return violated ? k_exit_objective : k_exit_ok;
}

}  // namespace

void register_status(CLI::App& app, GlobalOptions& g, int& exit_code) {
    CLI::App* cmd = app.add_subcommand(
        "status", "Each set's newest snapshot against its RPO, per location (exit 3 if LATE)");
    cmd->callback([&g, &exit_code] { exit_code = run_status(g); });
}

}  // namespace coffer::cli
