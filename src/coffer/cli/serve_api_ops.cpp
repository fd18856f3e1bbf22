// The API routes for running the platform's backups day to day: a set's schedule (view, change,
// back to the config's, pause, resume), its retention policy, its drill reports, the mirrors'
// freshness, and the audit log's export. Schedule changes go through the Daemon, which records
// them in its StateDb; the rest is read from the config, the StateDb, or a child `coffer`.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <mutex>

#include "coffer/cli/serve_api_util.h"
#include "coffer/schedule/schedule.h"
#include "coffer/util/file.h"

namespace coffer::cli {

namespace {

using api::ApiReply;
using api::ApiRequest;
using api::Permission;

nlohmann::json schedule_json(const ServeApi& s, const server::SetPlan& p) {
    const server::SetOverride o = s.daemon.override_of(p.name);
    nlohmann::json j = {{"set", p.name},
                        {"schedule", p.schedule.expression()},
                        {"timezone", p.schedule.timezone()},
                        {"from", o.schedule.empty() ? "config" : "api"},
                        {"paused", o.paused}};
    if (!o.changed_by.empty()) {
        j["changed_by"] = o.changed_by;
        j["changed"] = iso(o.changed_ns);
    }
    if (auto due = s.db.next_due(p.name); due.ok() && *due) j["next_due"] = iso(**due);
    if (p.drill) j["drill_schedule"] = p.drill->expression();
    return j;
}

nlohmann::json policy_json(const retention::Policy& p) {
    nlohmann::json j = nlohmann::json::object();
    auto put = [&j](const char* key, const std::optional<uint32_t>& v) {
        if (v) j[key] = *v;
    };
    put("keep_last", p.keep_last);
    put("keep_hourly", p.keep_hourly);
    put("keep_daily", p.keep_daily);
    put("keep_weekly", p.keep_weekly);
    put("keep_monthly", p.keep_monthly);
    put("keep_yearly", p.keep_yearly);
    if (p.keep_within_s) j["keep_within"] = retention::format_duration(*p.keep_within_s);
    return j;
}

// A retention policy from a request body, as `coffer forget` flags and as JSON: counts of 1 to
// 100000, keep_within a duration; at least one rule (keeping everything is DELETE, config's).
Result<std::pair<std::vector<std::string>, nlohmann::json>> retention_from_body(
    const nlohmann::json& body) {
    std::vector<std::string> args;
    nlohmann::json policy = nlohmann::json::object();
    if (!body.is_object()) return invalid_argument("send the policy as a JSON object");
    for (const auto& [key, value] : body.items()) {
        static const char* const counts[] = {"keep_last",   "keep_hourly",  "keep_daily",
                                             "keep_weekly", "keep_monthly", "keep_yearly"};
        bool is_count = std::find(std::begin(counts), std::end(counts), key) != std::end(counts);
        std::string flag = "--" + key;
        std::replace(flag.begin(), flag.end(), '_', '-');
        if (is_count) {
            if (!value.is_number_integer() || value.get<int64_t>() < 1 ||
                value.get<int64_t>() > 100000)
                return invalid_argument("\"" + key + "\" must be a whole number from 1 to 100000");
            args.push_back(flag + "=" + std::to_string(value.get<int64_t>()));
            policy[key] = value;
        } else if (key == "keep_within") {
            auto d = value.is_string() ? retention::parse_duration(value.get<std::string>())
                                       : Result<int64_t>(invalid_argument(""));
            if (!d.ok() || *d <= 0)
                return invalid_argument("\"keep_within\" must be a duration such as \"30d\"");
            args.push_back(flag + "=" + retention::format_duration(*d));
            policy[key] = retention::format_duration(*d);
        } else {
            return invalid_argument("unknown retention rule \"" + key +
                                    "\": keep_last, keep_hourly, keep_daily, keep_weekly, "
                                    "keep_monthly, keep_yearly, keep_within");
        }
    }
    if (args.empty())
        return invalid_argument(
            "send at least one rule, e.g. {\"keep_daily\": 7}; DELETE goes back to the config's");
    return std::make_pair(std::move(args), std::move(policy));
}

// "keep-last 3, keep-daily 7", from forget flags.
std::string retention_text(const std::vector<std::string>& args) {
    std::string out;
    for (std::string a : args) {
        a = a.substr(2);
        std::replace(a.begin(), a.end(), '=', ' ');
        out += (out.empty() ? "" : ", ") + a;
    }
    return out;
}

// The files of a directory `coffer audit export` wrote, by name (they are text: JSON lines and
// a README).
Result<nlohmann::json> read_export(const std::string& dir) {
    nlohmann::json files = nlohmann::json::object();
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (!e.is_regular_file()) continue;
        TRY_ASSIGN(Bytes data, read_file(e.path().string()));
        files[e.path().filename().string()] = std::string(as_chars(data));
    }
    if (ec) return io_error("read the export in " + dir + ": " + ec.message());
    return files;
}

}  // namespace

void add_operation_routes(ServeApi& s, std::vector<api::Route>& routes) {
    add_set_route(
        s, routes, "GET", "/api/v1/sets/{set}/schedule", Permission::status,
        [&s](const ApiRequest&, const server::SetPlan& plan) {
            return ApiReply{200, schedule_json(s, plan), {}};
        },
        "The set's schedule in force (the config's, or one set through the API), whether it is "
        "paused, its next due time");
    add_set_route(
        s, routes, "PUT", "/api/v1/sets/{set}/schedule", Permission::manage,
        [&s](const ApiRequest& r, const server::SetPlan& plan) {
            const std::string& set = plan.name;
            std::string expression = body_string(r, "schedule");
            std::string zone = body_string(r, "timezone");
            if (expression.empty())
                return ApiReply::error(400,
                                       "send {\"schedule\": \"@every 6h\" or a cron line, "
                                       "\"timezone\": \"Europe/Berlin\" (default UTC)}");
            auto parsed = schedule::Schedule::parse(expression, zone.empty() ? "UTC" : zone);
            if (!parsed.ok()) return ApiReply::error(400, parsed.status().message());
            Status st = s.daemon.set_schedule(set, *parsed, r.principal->user);
            if (!st.ok()) return from_status(st);
            return ApiReply{200, schedule_json(s, *find_plan(s, set)), {}};
        },
        "Replace the set's schedule (kept in the daemon's state over the config's until "
        "DELETE)");
    add_set_route(
        s, routes, "DELETE", "/api/v1/sets/{set}/schedule", Permission::manage,
        [&s](const ApiRequest& r, const server::SetPlan& plan) {
            const std::string& set = plan.name;
            Status st = s.daemon.set_schedule(set, std::nullopt, r.principal->user);
            if (!st.ok()) return from_status(st);
            return ApiReply{200, schedule_json(s, *find_plan(s, set)), {}};
        },
        "Go back to the config's schedule");
    for (bool pause : {true, false}) {
        add_set_route(
            s, routes, "POST", pause ? "/api/v1/sets/{set}/pause" : "/api/v1/sets/{set}/resume",
            Permission::manage,
            [&s, pause](const ApiRequest& r, const server::SetPlan& plan) {
                Status st = s.daemon.set_paused(plan.name, pause, r.principal->user);
                if (!st.ok()) return from_status(st);
                return ApiReply{200, schedule_json(s, *find_plan(s, plan.name)), {}};
            },
            pause ? "Pause the set's scheduled backups (its RPO is still watched; backup now and "
                    "drills still run)"
                  : "Resume the set's scheduled backups");
    }
    add_set_route(
        s, routes, "GET", "/api/v1/sets/{set}/retention", Permission::status,
        [&s](const ApiRequest&, const server::SetPlan& plan) {
            const std::string& set = plan.name;
            auto cfg = config::load(s.config_path);
            if (!cfg.ok()) return from_status(cfg.status());
            const config::SetConfig* found = cfg->find_set(set);
            if (!found) return not_found_set(set);
            const auto& policy = found->retention;
            const server::SetOverride o = s.daemon.override_of(set);
            nlohmann::json j = {{"set", set}, {"prune", cfg->server.prune}};
            if (!o.retention_args.empty()) {
                j["from"] = "api";
                j["policy"] = nlohmann::json::parse(o.retention_json, nullptr, false);
                j["applied_after_backup"] = true;
                j["changed_by"] = o.changed_by;
                j["config_policy"] = policy ? policy_json(*policy) : nlohmann::json::object();
            } else {
                j["from"] = "config";
                j["policy"] = policy ? policy_json(*policy) : nlohmann::json::object();
                j["applied_after_backup"] = policy.has_value() && !policy->empty();
            }
            j["describe"] = !o.retention_args.empty()    ? retention_text(o.retention_args)
                            : policy && !policy->empty() ? policy->describe()
                                                         : "keep everything";
            if (auto last = s.db.last_run(set, "forget"); last.ok() && *last)
                j["last_applied"] = run_json(**last);
            return ApiReply{200, j, {}};
        },
        "The set's retention policy in force (the config's, or one set through the API) and "
        "when it was last applied");
    add_set_route(
        s, routes, "PUT", "/api/v1/sets/{set}/retention", Permission::manage,
        [&s](const ApiRequest& r, const server::SetPlan& plan) {
            const std::string& set = plan.name;
            auto policy = retention_from_body(r.body);
            if (!policy.ok()) return from_status(policy.status());
            Status st = s.daemon.set_retention(set, policy->first, policy->second.dump(),
                                               r.principal->user);
            if (!st.ok()) return from_status(st);
            return ApiReply{200,
                            {{"set", set},
                             {"from", "api"},
                             {"policy", policy->second},
                             {"describe", retention_text(policy->first)}},
                            {}};
        },
        "Replace the set's retention policy (keep_last, keep_hourly, keep_daily, keep_weekly, "
        "keep_monthly, keep_yearly, keep_within), applied after its next backup; kept in the "
        "daemon's state over the config's until DELETE");
    add_set_route(
        s, routes, "DELETE", "/api/v1/sets/{set}/retention", Permission::manage,
        [&s](const ApiRequest& r, const server::SetPlan& plan) {
            const std::string& set = plan.name;
            Status st = s.daemon.set_retention(set, {}, "", r.principal->user);
            if (!st.ok()) return from_status(st);
            return ApiReply{200, {{"set", set}, {"from", "config"}}, {}};
        },
        "Go back to the config's retention policy");
    add_set_route(
        s, routes, "GET", "/api/v1/sets/{set}/drills", Permission::snapshots,
        [&s](const ApiRequest&, const server::SetPlan& plan) {
            const std::string& set = plan.name;
            auto runs = s.db.recent_runs(2000);
            if (!runs.ok()) return from_status(runs.status());
            nlohmann::json out = nlohmann::json::array();
            for (const auto& run : *runs) {
                if (run.set != set || run.job != "drill" || out.size() >= 100) continue;
                nlohmann::json j = run_json(run);
                if (run.end_ns) j["duration_s"] = double(run.end_ns - run.start_ns) / 1e9;
                if (plan.rto_ns && run.end_ns)
                    j["within_rto"] =
                        run.outcome == "ok" && run.end_ns - run.start_ns <= *plan.rto_ns;
                auto report = nlohmann::json::parse(run.report, nullptr, false);
                if (!run.report.empty() && !report.is_discarded()) j["report"] = report;
                out.push_back(std::move(j));
            }
            nlohmann::json body = {{"set", set}, {"drills", out}};
            if (plan.rto_ns) body["rto_s"] = *plan.rto_ns / 1000000000;
            return ApiReply{200, body, {}};
        },
        "The set's drills, newest first: outcome, duration against the RTO, and each drill's "
        "report (its checks)");
    add_route(
        routes, "GET", "/api/v1/mirrors", Permission::status,
        [&s](const ApiRequest&) {
            {
                // Read apart from s.g, which the daemon's own threads use as loaded at start.
                auto cfg = config::load(s.config_path);
                if (!cfg.ok()) return from_status(cfg.status());
                if (cfg->repository.mirrors.empty())
                    return ApiReply{200,
                                    {{"configured", false},
                                     {"current", false},
                                     {"locations", nlohmann::json::array()}},
                                    {}};
            }
            // Each check lists every location: answered from a copy for 30 s, so that a
            // dashboard left open (or a client in a loop) does not keep the stores busy.
            static std::mutex mu;
            static nlohmann::json cached;
            static int64_t cached_ns = 0;
            std::lock_guard lock(mu);
            const int64_t now = repo::now_unix_ns();
            if (cached.is_object() && now - cached_ns < 30'000'000'000)
                return ApiReply{200, cached, {}};
            Child c = run_child(s, {"mirror", "--check"});
            auto j = nlohmann::json::parse(c.out, nullptr, false);
            // Exit 3 is "a mirror is behind", which the JSON says too.
            if (j.is_discarded() || !j.is_object())
                return ApiReply::error(500, "mirror --check: " + c.error);
            j["configured"] = true;
            j["checked"] = iso(now);
            cached = j;
            cached_ns = now;
            return ApiReply{200, j, {}};
        },
        "Each location (the primary and its mirrors): newest snapshot, what it lacks, its lag");
    add_route(
        routes, "GET", "/api/v1/audit/export", Permission::audit,
        [&s](const ApiRequest&) {
            std::string base = s.state_dir + "/export-XXXXXX";
            if (!::mkdtemp(base.data()))
                return ApiReply::error(500, "cannot make a directory for the export");
            const std::string dir = base + "/audit";
            Child c = run_child(s, {"audit", "export", dir});
            Result<nlohmann::json> files =
                c.exit_code == 0 ? read_export(dir) : Result<nlohmann::json>(io_error(c.error));
            std::error_code ec;
            std::filesystem::remove_all(base, ec);
            if (!files.ok())
                return ApiReply::error(500, "audit export: " + files.status().message());
            return ApiReply{200, {{"files", *files}}, {}};
        },
        "The audit log as `coffer audit export` writes it (entries, checkpoints, keys, README), "
        "one string per file, for verifying offline with `coffer audit verify --offline DIR`");
}

}  // namespace coffer::cli
