// The routes `coffer serve` adds to the HTTPS API (api/server.h): what the daemon knows (sets,
// their RPO/RTO, runs, requested jobs), what the repository holds (snapshots, read with the
// host key), the audit log (read and verified by a child `coffer audit`, as an operator would),
// and the users and tokens (api/access.h). docs/api.md lists them with the roles that may call
// each; tests/e2e/api_test.cpp checks the server against that table.
#include "coffer/cli/serve_api.h"

#include "coffer/cli/serve_api_util.h"
#include "coffer/util/file.h"

#include <poll.h>
#include <unistd.h>

#include "coffer/retention/policy.h"
#include "coffer/source/process.h"

namespace coffer::cli {

namespace {

using api::ApiReply;
using api::ApiRequest;
using api::Permission;

}  // namespace

nlohmann::json run_json(const server::Run& r) {
    return {{"id", r.id},
            {"set", r.set},
            {"job", r.job},
            {"scheduled", iso(r.scheduled_ns)},
            {"start", iso(r.start_ns)},
            {"end", iso(r.end_ns)},
            {"outcome", r.outcome},
            {"bytes_read", r.bytes_read},
            {"bytes_added", r.bytes_added},
            {"snapshot", r.snapshot},
            {"error", r.error}};
}

namespace {

nlohmann::json request_json(const server::Request& r) {
    nlohmann::json j = {{"id", r.id},
                        {"set", r.set},
                        {"job", r.job},
                        {"state", r.state},
                        {"requested_by", r.by},
                        {"requested", iso(r.requested_ns)},
                        {"started", iso(r.started_ns)},
                        {"finished", iso(r.finished_ns)}};
    if (!r.args.empty()) j["args"] = r.args;
    if (r.state == "done") {
        j["outcome"] = r.result.outcome;
        j["error"] = r.result.error;
        j["snapshot"] = r.result.snapshot;
        if (!r.result.report.is_null()) j["report"] = r.result.report;
    }
    return j;
}

// 202 with the job a request queued (for POST backup, drill, restore).
ApiReply job_reply(const ServeApi& s, const Result<int64_t>& id) {
    if (!id.ok()) return from_status(id.status());
    auto state = s.daemon.request_state(*id);
    if (!state) return ApiReply{202, {{"id", *id}, {"state", "queued"}}, {}};
    return ApiReply{202, request_json(*state), {}};
}

bool one_line(const std::string& s, size_t max) {
    return !s.empty() && s.size() <= max && s.find_first_of("\r\n") == std::string::npos;
}

// POST /api/v1/sets/{set}/restore's body, checked and turned into a `coffer restore --set`
// job: the same choices and the same typed confirmation as the command line. Values go as
// --flag=value, so none can pass for an option.
Result<server::JobInput> restore_input(const ServeApi& s, const std::string& set,
                                       const nlohmann::json& body) {
    server::JobInput in;
    // By reference: the body's strings are wiped when the request ends (api::ApiRequest), and
    // copies of a key would not be.
    auto text = [&](const char* field, std::string& out) -> Status {
        if (!body.contains(field)) return ok_status();
        if (!body[field].is_string() || !one_line(body[field].get_ref<const std::string&>(), 4096))
            return invalid_argument(std::string("\"") + field + "\" must be a one-line string");
        out = body[field].get<std::string>();
        return ok_status();
    };
    // The key's copies are wiped on every way out, a refused request's too.
    std::string key, secret;
    struct Wipe {
        std::string& key;
        std::string& secret;
        ~Wipe() {
            secure_wipe(key.data(), key.size());
            secure_wipe(secret.data(), secret.size());
        }
    } wipe{key, secret};
    std::string snapshot, before, target, confirm;
    TRY(text("snapshot", snapshot));
    TRY(text("before", before));
    TRY(text("target", target));
    TRY(text("confirm", confirm));
    TRY(text("recovery_key", key));
    if (!snapshot.empty() && !before.empty())
        return invalid_argument("send \"snapshot\" or \"before\", not both");
    if (!snapshot.empty()) {
        if (snapshot.find_first_not_of("0123456789abcdef") != std::string::npos)
            return invalid_argument("\"snapshot\" is a snapshot id (hex, or a prefix of one)");
        in.args.push_back("--snapshot=" + snapshot);
    }
    if (!before.empty()) {
        if (!repo::parse_rfc3339(before).ok())
            return invalid_argument("\"before\" must be a time such as 2026-12-01T12:00:00Z");
        in.args.push_back("--before=" + before);
    }
    if (!target.empty()) {
        bool plain = target.front() == '/' && target != "/";
        for (size_t at = 0; plain && at < target.size();) {
            size_t end = target.find('/', at + 1);
            if (end == std::string::npos) end = target.size();
            std::string_view part(target.data() + at + 1, end - at - 1);
            plain = part != ".." && part != ".";
            at = end;
        }
        if (!plain)
            return invalid_argument(
                "\"target\" must be an absolute directory on the server, other than /, "
                "without . or .. in it");
        in.args.push_back("--target=" + target);
    } else if (confirm != set) {
        return invalid_argument("a restore in place replaces the live data: send \"confirm\": \"" +
                                set +
                                "\" (the set's name typed out), or a \"target\"; nothing "
                                "was changed");
    }
    if (target.empty()) in.args.push_back("--confirm=" + confirm);
    if (body.contains("sources")) {
        if (!body["sources"].is_array())
            return invalid_argument("\"sources\" is a list of the set's source names");
        for (const auto& src : body["sources"]) {
            if (!src.is_string() || !one_line(src.get<std::string>(), 200))
                return invalid_argument("\"sources\" is a list of the set's source names");
            in.args.push_back("--source=" + src.get<std::string>());
        }
    }
    if (!key.empty()) {
        in.args.push_back("--recovery-key-file=-");
        secret.reserve(key.size() + 1);
        secret += key;
        secret += '\n';
    }
    if (body.contains("recovery_shares")) {
        if (!key.empty())
            return invalid_argument("send \"recovery_key\" or \"recovery_shares\", not both");
        if (!body["recovery_shares"].is_array() || body["recovery_shares"].empty())
            return invalid_argument("\"recovery_shares\" is a list of share texts (crs1-...)");
        // K of at most 255 shares, each a line of some 150 characters: far below the pipe's
        // 64 KiB, which the daemon fills before the child starts reading.
        if (body["recovery_shares"].size() > 32)
            return invalid_argument("send at most 32 recovery shares (K of them are enough)");
        secret.reserve(32 * 4097 + key.size() + 1);
        for (const auto& share : body["recovery_shares"]) {
            if (!share.is_string() || !one_line(share.get_ref<const std::string&>(), 1024))
                return invalid_argument("each recovery share is a one-line string (crs1-...)");
            in.args.push_back("--recovery-share=-");
            secret += share.get_ref<const std::string&>();
            secret += '\n';
        }
    }
    if (secret.empty() && s.g.recovery_key_file.empty())
        return invalid_argument(
            "a restore needs the recovery key: send \"recovery_key\" (its text, crk1-...) or "
            "\"recovery_shares\"; the daemon holds none");
    // The daemon's own key file, which may have come from its command line, not the config
    // the child reads.
    if (secret.empty()) in.args.push_back("--recovery-key-file=" + s.g.recovery_key_file);
    in.secret = SecretBytes(as_bytes(secret));
    return in;
}

}  // namespace

Child run_child(const ServeApi& s, std::vector<std::string> args) {
    std::vector<std::string> argv = {s.exe, "--config", s.config_path, "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    Child c;
    auto p = source::Process::start("", source::Pipe::from_stdout, {}, argv);
    if (!p.ok()) {
        c.error = p.status().message();
        return c;
    }
    char buf[8192];
    for (;;) {
        ssize_t n = ::read((*p)->fd(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (c.out.size() < (16 << 20)) c.out.append(buf, static_cast<size_t>(n));
    }
    Status st = (*p)->wait("coffer " + args.front());
    c.exit_code = (*p)->exit_code();
    if (c.exit_code != 0) {
        std::string tail = (*p)->stderr_tail();
        size_t at = tail.rfind("coffer: ");
        c.error = at == std::string::npos ? st.message() : tail.substr(at + 8);
        while (!c.error.empty() && c.error.back() == '\n') c.error.pop_back();
    }
    return c;
}

namespace {

nlohmann::json set_json(const ServeApi& s, const server::SetPlan& p, const server::Facts& f,
                        int64_t now) {
    nlohmann::json j = {{"set", p.name},
                        {"schedule", p.schedule.expression()},
                        {"timezone", p.schedule.timezone()}};
    auto it = f.sets.find(p.name);
    bool have = it != f.sets.end() && it->second.newest_ns.has_value();
    j["snapshots"] = it != f.sets.end() ? it->second.snapshots : 0;
    j["newest_snapshot"] = have ? iso(*it->second.newest_ns) : "";
    if (p.rpo_ns) {
        j["rpo_s"] = *p.rpo_ns / 1000000000;
        j["rpo_status"] = !have ? "late" : now - *it->second.newest_ns > *p.rpo_ns ? "late" : "ok";
    } else {
        j["rpo_status"] = "none";
    }
    if (p.rto_ns) j["rto_s"] = *p.rto_ns / 1000000000;
    if (have) j["age_s"] = (now - *it->second.newest_ns) / 1000000000;
    if (auto last = s.db.last_run(p.name, ""); last.ok() && *last) j["last_run"] = run_json(**last);
    if (auto ok = s.db.last_success(p.name, "backup"); ok.ok() && *ok)
        j["last_success"] = iso((*ok)->end_ns);
    if (auto drill = s.db.last_run(p.name, "drill"); drill.ok() && *drill)
        j["last_drill"] = run_json(**drill);
    if (auto due = s.db.next_due(p.name); due.ok() && *due) j["next_due"] = iso(**due);
    const server::SetOverride o = s.daemon.override_of(p.name);
    j["schedule_from"] = o.schedule.empty() ? "config" : "api";
    j["paused"] = o.paused;
    return j;
}

}  // namespace

nlohmann::json token_json(const api::TokenInfo& t, int64_t now_ns) {
    const char* status = t.revoked_ns                             ? "revoked"
                         : t.expires_ns && t.expires_ns <= now_ns ? "expired"
                                                                  : "active";
    return {{"id", t.id},
            {"user", t.user},
            {"role", api::role_name(t.role)},
            {"label", t.label},
            {"status", status},
            {"created", iso(t.created_ns)},
            {"expires", iso(t.expires_ns)},
            {"revoked", iso(t.revoked_ns)},
            {"last_used", iso(t.last_used_ns)}};
}

std::vector<api::Route> serve_routes(ServeApi& s) {
    std::vector<api::Route> routes;

    add_route(
        routes, "GET", "/api/v1/status", Permission::status,
        [&s](const ApiRequest&) {
            auto f = s.daemon.facts();
            const int64_t now = repo::now_unix_ns();
            nlohmann::json sets = nlohmann::json::array();
            bool protected_all = true;
            for (const auto& p : s.daemon.plans()) {
                auto j = set_json(s, p, f, now);
                protected_all = protected_all && j["rpo_status"] != "late";
                sets.push_back(std::move(j));
            }
            return ApiReply{200,
                            {{"protected", protected_all},
                             {"sets", sets},
                             {"repository_bytes", f.repository_bytes},
                             {"facts_read", iso(f.read_ns)}},
                            {}};
        },
        "Every set's newest snapshot, RPO status, last run and drill: is the platform "
        "protected?");
    add_route(
        routes, "GET", "/api/v1/sets", Permission::status,
        [&s](const ApiRequest&) {
            auto f = s.daemon.facts();
            nlohmann::json sets = nlohmann::json::array();
            for (const auto& p : s.daemon.plans())
                sets.push_back(set_json(s, p, f, repo::now_unix_ns()));
            return ApiReply{200, {{"sets", sets}}, {}};
        },
        "The sets the daemon runs");
    add_set_route(
        s, routes, "GET", "/api/v1/sets/{set}", Permission::status,
        [&s](const ApiRequest&, const server::SetPlan& plan) {
            return ApiReply{200, set_json(s, plan, s.daemon.facts(), repo::now_unix_ns()), {}};
        },
        "One set: schedule, RPO/RTO, newest snapshot, last run, next due");
    add_set_route(
        s, routes, "GET", "/api/v1/sets/{set}/snapshots", Permission::snapshots,
        [&s](const ApiRequest&, const server::SetPlan& plan) {
            const std::string& set = plan.name;
            std::lock_guard lock(s.repo_mu);
            auto opened = open_repository(s.g, KeyNeed::host);
            if (!opened.ok()) return from_status(opened.status());
            auto list = opened->repo->list_snapshots();
            if (!list.ok()) return from_status(list.status());
            nlohmann::json out = nlohmann::json::array();
            for (const auto& snap : *list) {
                if (snap.set != set) continue;
                out.push_back({{"id", snap.id.hex()},
                               {"time", repo::format_rfc3339(snap.time_ns)},
                               {"hostname", snap.hostname},
                               {"incomplete", snap.incomplete},
                               {"size", snap.summary.total_bytes},
                               {"added", snap.summary.data_added}});
            }
            return ApiReply{200, {{"set", set}, {"snapshots", out}}, {}};
        },
        "The set's snapshots, oldest first");
    add_set_route(
        s, routes, "GET", "/api/v1/sets/{set}/runs", Permission::snapshots,
        [&s](const ApiRequest&, const server::SetPlan& plan) {
            const std::string& set = plan.name;
            auto runs = s.db.recent_runs(500);
            if (!runs.ok()) return from_status(runs.status());
            nlohmann::json out = nlohmann::json::array();
            for (const auto& run : *runs)
                if (run.set == set) out.push_back(run_json(run));
            return ApiReply{200, {{"set", set}, {"runs", out}}, {}};
        },
        "The set's recent runs (backups, retention, prune, mirror, drills), newest first");
    for (const char* job : {"backup", "drill"}) {
        std::string pattern = std::string("/api/v1/sets/{set}/") + job;
        std::string kind = job;
        add_set_route(
            s, routes, "POST", pattern, Permission::run,
            [&s, kind](const ApiRequest& r, const server::SetPlan& plan) {
                return job_reply(s, s.daemon.request(plan.name, kind, r.principal->user));
            },
            kind == "backup" ? "Run a backup of the set now (then its retention, prune, mirror); "
                               "returns a job to poll"
                             : "Run a restore drill of the set now; returns a job to poll");
    }
    add_set_route(
        s, routes, "POST", "/api/v1/sets/{set}/restore", Permission::manage,
        [&s](const ApiRequest& r, const server::SetPlan& plan) {
            const std::string& set = plan.name;
            auto input = restore_input(s, set, r.body);
            if (!input.ok()) return from_status(input.status());
            return job_reply(
                s, s.daemon.request(set, "restore", r.principal->user, std::move(*input)));
        },
        "Restore the set: in place (destructive: needs \"confirm\" with the set's name, runs "
        "the hooks, takes a safety snapshot) or into a \"target\" directory; with the "
        "recovery key or shares in the body; returns a job to poll");
    add_route(
        routes, "GET", "/api/v1/sets/{set}/jobs/{id}", Permission::snapshots,
        [&s](const ApiRequest& r) {
            const std::string set = r.params.at("set");
            char* end = nullptr;
            long long id = std::strtoll(r.params.at("id").c_str(), &end, 10);
            auto state = end && *end == '\0' ? s.daemon.request_state(id) : std::nullopt;
            // A job of another set is not found here: ids do not cross sets.
            if (!state || state->set != set)
                return ApiReply::error(404,
                                       "no job " + r.params.at("id") + " of set '" + set + "'");
            nlohmann::json j = request_json(*state);
            if (state->state == "running") {
                j["running_s"] = (repo::now_unix_ns() - state->started_ns) / 1000000000;
                if (auto text = read_file(job_progress_file(s.state_dir, id)); text.ok()) {
                    std::string line(as_chars(*text));
                    while (!line.empty() && line.back() == '\n') line.pop_back();
                    if (!line.empty()) j["progress"] = line;
                }
            }
            return ApiReply{200, j, {}};
        },
        "A requested job: queued, running (for how long, and its progress line: files and "
        "bytes done of the total, rate, ETA), or done with its outcome");

    add_route(
        routes, "GET", "/api/v1/audit", Permission::audit,
        [&s](const ApiRequest& r) {
            std::vector<std::string> args = {"audit", "show"};
            if (auto it = r.query.find("action"); it != r.query.end())
                args.push_back("--action=" + it->second);
            if (auto it = r.query.find("since"); it != r.query.end())
                args.push_back("--since=" + it->second);
            Child c = run_child(s, args);
            if (c.exit_code != 0) return ApiReply::error(500, "audit show: " + c.error);
            nlohmann::json entries = nlohmann::json::array();
            size_t pos = 0;
            while (pos < c.out.size()) {
                size_t end = c.out.find('\n', pos);
                if (end == std::string::npos) end = c.out.size();
                auto e = nlohmann::json::parse(c.out.substr(pos, end - pos), nullptr, false);
                if (!e.is_discarded()) entries.push_back(std::move(e));
                pos = end + 1;
            }
            return ApiReply{200, {{"entries", entries}}, {}};
        },
        "The audit log's entries (?action=, ?since=)");
    add_route(
        routes, "POST", "/api/v1/audit/verify", Permission::audit,
        [&s](const ApiRequest&) {
            Child c = run_child(s, {"audit", "verify"});
            auto j = nlohmann::json::parse(c.out, nullptr, false);
            nlohmann::json out = {{"verified", c.exit_code == 0}, {"exit_code", c.exit_code}};
            if (!j.is_discarded()) out["report"] = j;
            if (!c.error.empty()) out["error"] = c.error;
            return ApiReply{200, out, {}};
        },
        "Verify the audit log (tree, checkpoints, keys, local against repository)");

    add_route(
        routes, "GET", "/api/v1/users", Permission::manage,
        [&s](const ApiRequest&) {
            auto users = s.access.list_users();
            if (!users.ok()) return from_status(users.status());
            nlohmann::json out = nlohmann::json::array();
            for (const auto& u : *users)
                out.push_back({{"user", u.name},
                               {"role", api::role_name(u.role)},
                               {"created", iso(u.created_ns)}});
            return ApiReply{200, {{"users", out}}, {}};
        },
        "The users and their roles");
    add_route(
        routes, "POST", "/api/v1/users", Permission::manage,
        [&s](const ApiRequest& r) {
            auto role = api::parse_role(body_string(r, "role"));
            if (!role)
                return ApiReply::error(400,
                                       "send {\"user\", \"role\" (admin, operator, auditor, "
                                       "viewer), \"password\"}");
            Status st =
                s.access.add_user(body_string(r, "user"), *role, body_string(r, "password"));
            if (!st.ok()) return from_status(st);
            return ApiReply{
                201, {{"user", body_string(r, "user")}, {"role", api::role_name(*role)}}, {}};
        },
        "Add a user");
    add_route(
        routes, "DELETE", "/api/v1/users/{user}", Permission::manage,
        [&s](const ApiRequest& r) {
            if (r.params.at("user") == r.principal->user)
                return ApiReply::error(409, "you cannot remove yourself: another admin can");
            Status st = s.access.remove_user(r.params.at("user"));
            if (!st.ok()) return from_status(st);
            return ApiReply{200, {{"removed", r.params.at("user")}}, {}};
        },
        "Remove a user with its tokens and sessions");
    add_route(
        routes, "PUT", "/api/v1/users/{user}/role", Permission::manage,
        [&s](const ApiRequest& r) {
            auto role = api::parse_role(body_string(r, "role"));
            if (!role)
                return ApiReply::error(400, "send {\"role\": \"admin|operator|auditor|viewer\"}");
            Status st = s.access.set_role(r.params.at("user"), *role);
            if (!st.ok()) return from_status(st);
            return ApiReply{
                200, {{"user", r.params.at("user")}, {"role", api::role_name(*role)}}, {}};
        },
        "Change a user's role (takes effect on its next request)");
    add_route(
        routes, "GET", "/api/v1/tokens", Permission::manage,
        [&s](const ApiRequest& r) {
            auto user = r.query.count("user") ? r.query.at("user") : std::string();
            auto tokens = s.access.list_tokens(user);
            if (!tokens.ok()) return from_status(tokens.status());
            nlohmann::json out = nlohmann::json::array();
            const int64_t now = repo::now_unix_ns();
            for (const auto& t : *tokens) out.push_back(token_json(t, now));
            return ApiReply{200, {{"tokens", out}}, {}};
        },
        "The API tokens (never their secrets)");
    add_route(
        routes, "POST", "/api/v1/tokens", Permission::manage,
        [&s](const ApiRequest& r) {
            std::optional<api::Role> role;
            if (!body_string(r, "role").empty()) {
                role = api::parse_role(body_string(r, "role"));
                if (!role) return ApiReply::error(400, "unknown role " + body_string(r, "role"));
            }
            const int64_t now = repo::now_unix_ns();
            int64_t expires = now + 90LL * 86400 * 1000000000;
            if (std::string e = body_string(r, "expires"); !e.empty()) {
                auto d = retention::parse_duration(e);
                if (!d.ok() || *d <= 0 || *d > 100LL * 366 * 86400)
                    return ApiReply::error(400, "expires must be a duration such as \"30d\"");
                expires = now + *d * 1000000000;
            }
            auto t = s.access.create_token(body_string(r, "user"), role, expires,
                                           body_string(r, "label"), now);
            if (!t.ok()) return from_status(t.status());
            return ApiReply{201,
                            {{"token", t->secret},
                             {"id", t->info.id},
                             {"user", t->info.user},
                             {"role", api::role_name(t->info.role)},
                             {"expires", iso(expires)}},
                            {}};
        },
        "Create a token (returned once)");
    add_route(
        routes, "DELETE", "/api/v1/tokens/{id}", Permission::manage,
        [&s](const ApiRequest& r) {
            Status st = s.access.revoke_token(r.params.at("id"), repo::now_unix_ns());
            if (!st.ok()) return from_status(st);
            return ApiReply{200, {{"revoked", r.params.at("id")}}, {}};
        },
        "Revoke a token");
    add_operation_routes(s, routes);
    return routes;
}

}  // namespace coffer::cli
