// End-to-end: `coffer serve`'s HTTPS API, with users and tokens made by `coffer user add` and
// `coffer token create`. The policy table of docs/api.md is read and every row is called by
// every role, and without credentials; every other method on those paths is 405; the server has
// no route the table lacks. Expired, revoked and tampered tokens and a tampered cookie are 401.
// A backup asked for through the API runs, its job is found under its own set only, and its
// snapshot is listed under that set only. The calls land in the audit log as "<user> via api",
// without any token.
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "coffer/crypto/crypto.h"
#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

const char* const k_roles[] = {"viewer", "auditor", "operator", "admin"};

struct PolicyRow {
    std::string method, path;
    std::map<std::string, std::string> access;  // role -> "yes", "no", "public"
};

// The "| Method | Path | viewer | ..." table of docs/api.md.
std::vector<PolicyRow> policy_table() {
    std::string here = __FILE__;
    std::string docs = here.substr(0, here.rfind("/tests/")) + "/docs/api.md";
    std::ifstream in(docs);
    EXPECT_TRUE(in) << "cannot read " << docs;
    std::vector<PolicyRow> rows;
    std::string line;
    std::regex row(R"(^\| (GET|POST|PUT|DELETE) \| (\S+) \| (\w+) \| (\w+) \| (\w+) \| (\w+) \|$)");
    while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_match(line, m, row)) continue;
        PolicyRow r{m[1], m[2], {}};
        for (int i = 0; i < 4; ++i) r.access[k_roles[i]] = m[3 + i];
        rows.push_back(std::move(r));
    }
    return rows;
}

class ApiCli : public ::testing::Test {
protected:
    void SetUp() override {
        repo.init();
        for (const char* set : {"app", "other"}) {
            make_dir(tmp / set);
            write_file(tmp / set + "/" + set + ".conf", std::string("name = ") + set + "\n");
        }
        write_file(cfg, "[repository]\nurl = " + toml(repo.repo) +
                            "\nhost_key = " + toml(repo.host_key) + "\n\n[server]\nstate_dir = " +
                            toml(tmp / "state") + "\nlisten = \"127.0.0.1:" + std::to_string(port) +
                            "\"\n\n" + set_toml("app") + set_toml("other"));
        write_file(tmp / "pw", password + "\n", 0600);
        for (const char* role : k_roles) {
            std::string user = std::string(role) + "-user";
            RunResult add =
                coffer({"user", "add", user, "--role", role, "--password-file", tmp / "pw"});
            ASSERT_EQ(add.exit_code, 0) << add.describe();
            tokens[role] = token_for(user, {});
        }
    }
    std::string set_toml(const std::string& name) const {
        return "[[set]]\nname = \"" + name +
               "\"\nschedule = \"@daily\"\n[[set.source]]\nname = \"files\"\ntype = "
               "\"files\"\npaths = [" +
               toml(tmp / name) + "]\n\n";
    }
    RunResult coffer(std::vector<std::string> args, RunOptions o = {}) const {
        return run_with_config(repo, cfg, std::move(args), std::move(o));
    }
    std::string token_for(const std::string& user, std::vector<std::string> extra) {
        std::vector<std::string> args = {"token", "create", "--user", user};
        args.insert(args.end(), extra.begin(), extra.end());
        RunResult t = coffer(args);
        EXPECT_EQ(t.exit_code, 0) << t.describe();
        std::string token = t.out.substr(0, t.out.find('\n'));
        EXPECT_EQ(token.rfind("coffer_", 0), 0u) << t.describe();
        return token;
    }
    std::unique_ptr<httplib::SSLClient> client() const {
        auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
        c->set_ca_cert_path((tmp / "state/tls/cert.pem").c_str());
        c->enable_server_certificate_verification(true);
        c->set_read_timeout(30, 0);
        return c;
    }
    httplib::Result call(const std::string& method, const std::string& path,
                         const std::string& token, const std::string& body = "{}",
                         httplib::Headers headers = {}) const {
        if (!token.empty()) headers.insert({"Authorization", "Bearer " + token});
        auto c = client();
        if (method == "GET") return c->Get(path.c_str(), headers);
        if (method == "POST") return c->Post(path.c_str(), headers, body, "application/json");
        if (method == "PUT") return c->Put(path.c_str(), headers, body, "application/json");
        return c->Delete(path.c_str(), headers);
    }
    int status(const std::string& method, const std::string& path, const std::string& token,
               httplib::Headers headers = {}) const {
        auto r = call(method, path, token, "{}", std::move(headers));
        EXPECT_TRUE(r) << method << " " << path << ": " << httplib::to_string(r.error());
        return r ? r->status : -1;
    }
    // The job a 202 answer started, polled until done (60 s at most) as `role`.
    nlohmann::json wait_job(const std::string& set, const httplib::Result& started,
                            const std::string& role = "admin") const {
        EXPECT_TRUE(started && started->status == 202) << (started ? started->body : "no answer");
        if (!started || started->status != 202) return nlohmann::json::object();
        std::string id = std::to_string(nlohmann::json::parse(started->body)["id"].get<int64_t>());
        nlohmann::json done = nlohmann::json::object();
        for (int i = 0; i < 600 && done.value("state", "") != "done"; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            auto r = call("GET", "/api/v1/sets/" + set + "/jobs/" + id, tokens.at(role));
            if (r && r->status == 200) done = nlohmann::json::parse(r->body);
        }
        EXPECT_EQ(done.value("state", ""), "done") << done.dump();
        return done;
    }
    void TearDown() override { stop(); }
    void stop() {
        stopping = true;
        if (daemon.joinable()) daemon.join();
    }
    // Starts the daemon; it runs until stop().
    // global: options before the command (`coffer --recovery-key-file K serve`).
    void serve(std::vector<std::string> global = {}) {
        RunOptions o;
        o.timeout_s = 120;
        o.term_when = [this] { return stopping.load(); };
        global.push_back("serve");
        daemon = std::thread([this, o, global] { served = coffer(global, o); });
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (!exists(tmp / "state/tls/cert.pem")) continue;
            if (auto h = client()->Get("/healthz"); h && h->status == 200) return;
        }
        stop();
        FAIL() << "coffer serve did not answer over TLS within 30 s\n" << served.describe();
    }

    TempDir tmp;
    Repo repo{tmp.path()};
    std::string cfg = tmp / "coffer.toml";
    int port = free_port();
    const std::string password = "a long and secret password";
    std::map<std::string, std::string> tokens;
    std::atomic<bool> stopping{false};
    RunResult served;
    std::thread daemon;
};

TEST_F(ApiCli, EveryEndpointEveryRoleEveryMethodAgreesWithDocsApiMd) {
    std::string expired = token_for("admin-user", {"--expires", "1s"});
    std::string revoked = token_for("admin-user", {"--label", "to revoke"});
    RunResult rv = coffer({"token", "revoke", revoked.substr(7, 12)});
    ASSERT_EQ(rv.exit_code, 0) << rv.describe();
    ASSERT_NO_FATAL_FAILURE(serve());

    // A backup through the API: a job of its set, done with a snapshot of that set only.
    auto started = call("POST", "/api/v1/sets/app/backup", tokens["operator"]);
    nlohmann::json done = wait_job("app", started, "auditor");
    ASSERT_EQ(done.value("state", ""), "done") << done.dump();
    std::string job = std::to_string(done["id"].get<int64_t>());
    EXPECT_EQ(done["outcome"], "ok") << done.dump();
    EXPECT_EQ(done["requested_by"], "operator-user");
    std::string snapshot = done["snapshot"];
    ASSERT_FALSE(snapshot.empty()) << done.dump();
    EXPECT_EQ(status("GET", "/api/v1/sets/other/jobs/" + job, tokens["admin"]), 404);
    auto app_snaps = call("GET", "/api/v1/sets/app/snapshots", tokens["auditor"]);
    auto other_snaps = call("GET", "/api/v1/sets/other/snapshots", tokens["auditor"]);
    ASSERT_TRUE(app_snaps && other_snaps);
    EXPECT_TRUE(contains(app_snaps->body, snapshot)) << app_snaps->body;
    EXPECT_FALSE(contains(other_snaps->body, snapshot)) << other_snaps->body;
    EXPECT_EQ(status("GET", "/api/v1/sets/nope/snapshots", tokens["admin"]), 404);

    // The table, row by row and role by role; then without credentials.
    auto rows = policy_table();
    ASSERT_GE(rows.size(), 20u) << "docs/api.md's policy table was not found";
    auto concrete = [&](std::string path) {
        for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
                 {"{set}", "app"}, {"{user}", "ghost"}}) {
            size_t at = path.find(from);
            if (at != std::string::npos) path.replace(at, from.size(), to);
        }
        size_t at = path.find("{id}");
        if (at != std::string::npos)
            path.replace(at, 4, contains(path, "/jobs/") ? job : std::string("000000000000"));
        return path;
    };
    std::map<std::string, std::set<std::string>> methods_of;
    for (const auto& row : rows) {
        methods_of[row.path].insert(row.method);
        std::string path = concrete(row.path);
        for (const char* role : k_roles) {
            SCOPED_TRACE(row.method + " " + row.path + " as " + role);
            int got = status(row.method, path, tokens[role]);
            if (row.access.at(role) == "no")
                EXPECT_EQ(got, 403);
            else
                EXPECT_TRUE(got != 401 && got != 403 && got > 0 && got < 500) << got;
        }
        int anonymous = status(row.method, path, "");
        if (row.access.at("admin") == "public")
            EXPECT_TRUE(anonymous != 401 && anonymous != 403 && anonymous < 500)
                << row.path << ": " << anonymous;
        else
            EXPECT_EQ(anonymous, 401) << row.method << " " << row.path;
    }
    for (const auto& [path, methods] : methods_of)
        for (const char* m : {"GET", "POST", "PUT", "DELETE"}) {
            if (!methods.count(m)) {
                EXPECT_EQ(status(m, concrete(path), tokens["admin"]), 405) << m << " " << path;
            }
        }

    // The server serves exactly the table's routes.
    auto api = call("GET", "/api/v1/openapi.json", "");
    ASSERT_TRUE(api && api->status == 200);
    std::set<std::string> served_routes, documented;
    const auto description = nlohmann::json::parse(api->body);
    for (const auto& [path, ops] : description["paths"].items())
        for (const auto& [method, op] : ops.items()) {
            std::string m = method;
            for (auto& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            served_routes.insert(m + " " + path);
        }
    for (const auto& row : rows) documented.insert(row.method + " " + row.path);
    EXPECT_EQ(served_routes, documented);
    // docs/openapi.json is the served description, kept in sync by this test:
    // COFFER_UPDATE_DOCS=1 rewrites it.
    std::string here = __FILE__;
    const std::string kept = here.substr(0, here.rfind("/tests/")) + "/docs/openapi.json";
    if (const char* update = std::getenv("COFFER_UPDATE_DOCS");
        update && std::string(update) == "1")
        write_file(kept, description.dump(2) + "\n");
    auto in_docs = nlohmann::json::parse(exists(kept) ? read_file(kept) : "", nullptr, false);
    EXPECT_EQ(in_docs, description)
        << "docs/openapi.json is not what the server describes: run this test with "
           "COFFER_UPDATE_DOCS=1 and commit the file";

    // The dashboard is part of the binary, under the same headers as the API.
    auto page = client()->Get("/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_TRUE(contains(page->body, "/dashboard/app.js"));
    EXPECT_TRUE(contains(page->get_header_value("Content-Security-Policy"), "default-src 'self'"));
    auto script = client()->Get("/dashboard/app.js");
    ASSERT_TRUE(script);
    EXPECT_EQ(script->status, 200);
    EXPECT_TRUE(contains(script->body, "/api/v1/login"));

    // Bad credentials.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the 1 s token is past
    EXPECT_EQ(status("GET", "/api/v1/status", expired), 401);
    EXPECT_EQ(status("GET", "/api/v1/status", revoked), 401);
    std::string tampered = tokens["admin"];
    tampered.back() = tampered.back() == '0' ? '1' : '0';
    EXPECT_EQ(status("GET", "/api/v1/status", tampered), 401);
    auto login = client()->Post(
        "/api/v1/login", nlohmann::json{{"user", "admin-user"}, {"password", password}}.dump(),
        "application/json");
    ASSERT_TRUE(login && login->status == 200) << (login ? login->body : "no answer");
    std::string cookie = login->get_header_value("Set-Cookie");
    cookie = cookie.substr(0, cookie.find(';'));
    EXPECT_EQ(status("GET", "/api/v1/users", "", {{"Cookie", cookie}}), 200);
    std::string bad_cookie = cookie;
    bad_cookie.back() = bad_cookie.back() == 'a' ? 'b' : 'a';
    EXPECT_EQ(status("GET", "/api/v1/users", "", {{"Cookie", bad_cookie}}), 401);

    stop();
    EXPECT_EQ(served.exit_code, 0) << served.describe();
    auto events = json_lines(served.out);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.front()["event"], "started") << served.out;
    EXPECT_FALSE(events.front().value("tls_fingerprint_sha256", "").empty()) << served.out;
    bool generated = false;
    for (const auto& e : events) generated = generated || e["event"] == "tls_certificate_generated";
    EXPECT_TRUE(generated) << served.out;

    // On the audit record, as the API's users, with no secret.
    RunResult log = coffer({"audit", "show", "--json"});
    ASSERT_EQ(log.exit_code, 0) << log.describe();
    for (const char* needle : {"\"actor\":\"operator-user via api\"", "\"action\":\"api.denied\"",
                               "\"action\":\"api.auth\"", "\"action\":\"api.login\"",
                               "\"action\":\"token.create\"", "\"action\":\"user.add\""})
        EXPECT_TRUE(contains(log.out, needle)) << needle;
    for (const auto& [role, token] : tokens)
        EXPECT_FALSE(contains(log.out, token.substr(20))) << "a token reached the audit log";
    EXPECT_FALSE(contains(log.out, password));
}

// A restore through the API, as the dashboard's dialog sends it: refused without the set's name
// typed out or without a key, failed (and nothing changed) with another repository's key, then
// in place with the key in the body (hooks, safety snapshot, checks in the job's report), and
// into a target directory. The key reaches neither the audit log nor the daemon's log.
TEST_F(ApiCli, AnAdminRestoresInPlaceWithTheKeyInTheRequestAndNothingElseDoes) {
    ASSERT_NO_FATAL_FAILURE(serve());
    nlohmann::json backed =
        wait_job("app", call("POST", "/api/v1/sets/app/backup", tokens["operator"]));
    ASSERT_EQ(backed.value("outcome", ""), "ok") << backed.dump();
    const std::string original = read_file(tmp / "app/app.conf");
    write_file(tmp / "app/app.conf", "name = changed after the backup\n");
    write_file(tmp / "app/new.conf", "written after the backup\n");

    const std::string key = read_file(repo.recovery_key);
    const std::string key_line = key.substr(0, key.find('\n'));
    auto restore = [&](const std::string& token, nlohmann::json body) {
        return call("POST", "/api/v1/sets/app/restore", token, body.dump());
    };
    auto refused = restore(tokens["admin"], {{"recovery_key", key_line}});
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400) << refused->body;
    EXPECT_TRUE(contains(refused->body, "send \\\"confirm\\\": \\\"app\\\"")) << refused->body;
    refused = restore(tokens["admin"], {{"confirm", "other"}, {"recovery_key", key_line}});
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400) << refused->body;
    refused = restore(tokens["admin"], {{"confirm", "app"}});
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400) << refused->body;
    EXPECT_TRUE(contains(refused->body, "recovery key")) << refused->body;
    // A share list that could not fit the pipe to the child is refused before it is queued.
    refused = restore(tokens["admin"],
                      {{"confirm", "app"},
                       {"recovery_shares", std::vector<std::string>(33, std::string(1000, 'a'))}});
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400) << refused->body;
    refused = restore(tokens["admin"], {{"confirm", "app"}, {"snapshot", "--target=/"}});
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400) << refused->body;
    // A scratch target is a plain absolute directory: not the root, nothing that climbs out.
    for (const char* bad : {"/", "/srv/../etc", "/srv/./x", "relative/dir", "/srv/.."}) {
        refused = restore(tokens["admin"], {{"target", bad}, {"recovery_key", key_line}});
        ASSERT_TRUE(refused);
        EXPECT_EQ(refused->status, 400) << bad << ": " << refused->body;
    }
    EXPECT_EQ(restore(tokens["operator"], {{"confirm", "app"}, {"recovery_key", key_line}})->status,
              403);
    EXPECT_EQ(read_file(tmp / "app/app.conf"), "name = changed after the backup\n");

    make_dir(tmp / "stranger");
    Repo stranger(tmp / "stranger");
    stranger.init();
    const std::string wrong = read_file(stranger.recovery_key);
    nlohmann::json failed = wait_job(
        "app", restore(tokens["admin"],
                       {{"confirm", "app"}, {"recovery_key", wrong.substr(0, wrong.find('\n'))}}));
    EXPECT_EQ(failed.value("outcome", ""), "failed") << failed.dump();
    EXPECT_TRUE(contains(failed.value("error", ""), "recovery key")) << failed.dump();
    EXPECT_EQ(read_file(tmp / "app/app.conf"), "name = changed after the backup\n");

    nlohmann::json done =
        wait_job("app", restore(tokens["admin"], {{"confirm", "app"}, {"recovery_key", key_line}}));
    ASSERT_EQ(done.value("outcome", ""), "ok") << done.dump();
    EXPECT_EQ(done["requested_by"], "admin-user");
    EXPECT_EQ(done["snapshot"], backed["snapshot"]);
    ASSERT_TRUE(done.contains("report")) << done.dump();
    EXPECT_EQ(done["report"].value("ok", false), true) << done.dump();
    EXPECT_EQ(read_file(tmp / "app/app.conf"), original);
    EXPECT_FALSE(exists(tmp / "app/new.conf"));
    for (const auto& arg : done["args"]) EXPECT_FALSE(contains(arg.get<std::string>(), "crk1"));

    nlohmann::json scratch =
        wait_job("app", restore(tokens["admin"], {{"target", tmp / "scratch"},
                                                  {"snapshot", backed["snapshot"]},
                                                  {"recovery_key", key_line}}));
    ASSERT_EQ(scratch.value("outcome", ""), "ok") << scratch.dump();
    EXPECT_EQ(read_file(tmp / ("scratch/files" + (tmp / "app/app.conf"))), original);

    stop();
    RunResult log = coffer({"audit", "show", "--json"});
    ASSERT_EQ(log.exit_code, 0) << log.describe();
    EXPECT_TRUE(contains(log.out, "\"action\":\"restore.request\"")) << log.out;
    EXPECT_TRUE(contains(log.out, "(for api user admin-user)")) << log.out;
    EXPECT_TRUE(contains(log.out, "POST /api/v1/sets/{set}/restore")) << log.out;
    const std::string secret_part = key_line.substr(key_line.size() - 20);
    EXPECT_FALSE(contains(log.out, secret_part)) << "the recovery key reached the audit log";
    EXPECT_FALSE(contains(served.out + served.err, secret_part)) << "the key reached the log";
}

// A daemon given the recovery key file on its command line (not in the config the child
// reads) restores without a key in the request: the child is handed the daemon's file.
TEST_F(ApiCli, ARestoreWithoutAKeyInTheRequestUsesTheKeyFileTheDaemonWasGiven) {
    ASSERT_NO_FATAL_FAILURE(serve({"--recovery-key-file", repo.recovery_key}));
    nlohmann::json backed =
        wait_job("app", call("POST", "/api/v1/sets/app/backup", tokens["operator"]));
    ASSERT_EQ(backed.value("outcome", ""), "ok") << backed.dump();
    const std::string original = read_file(tmp / "app/app.conf");
    write_file(tmp / "app/app.conf", "name = changed after the backup\n");
    nlohmann::json done = wait_job("app", call("POST", "/api/v1/sets/app/restore", tokens["admin"],
                                               nlohmann::json{{"confirm", "app"}}.dump()));
    EXPECT_EQ(done.value("outcome", ""), "ok") << done.dump();
    EXPECT_EQ(read_file(tmp / "app/app.conf"), original);
    stop();
}

// Day-to-day operations through the API: a schedule changed (and kept over a restart of the
// daemon, until it is deleted back to the config's), paused and resumed; a drill and its report;
// the retention policy; no mirrors; the audit log exported and verified offline from the files
// the API returned.
TEST_F(ApiCli, SchedulesChangePauseAndResumeAndDrillsRetentionAndExportAreServed) {
    write_file(cfg, "[repository]\nurl = " + toml(repo.repo) + "\nhost_key = " +
                        toml(repo.host_key) + "\nrecovery_key_file = " + toml(repo.recovery_key) +
                        "\n\n[server]\nstate_dir = " + toml(tmp / "state") +
                        "\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n\n" +
                        set_toml("app") + "[set.retention]\nkeep_last = 3\n\n" + set_toml("other"));
    ASSERT_NO_FATAL_FAILURE(serve());
    auto get = [&](const std::string& path, const std::string& role = "admin") {
        auto r = call("GET", path, tokens[role]);
        EXPECT_TRUE(r && r->status == 200) << path << ": " << (r ? r->body : "no answer");
        return r && r->status == 200 ? nlohmann::json::parse(r->body) : nlohmann::json::object();
    };
    auto backups = [&] {
        int n = 0;
        const nlohmann::json runs = get("/api/v1/sets/app/runs");  // alive through the loop
        for (const auto& run : runs["runs"]) n += run["job"] == "backup";
        return n;
    };
    auto schedule = get("/api/v1/sets/app/schedule", "viewer");
    EXPECT_EQ(schedule["schedule"], "@daily");
    EXPECT_EQ(schedule["from"], "config");
    EXPECT_EQ(schedule["paused"], false);
    auto bad = call("PUT", "/api/v1/sets/app/schedule", tokens["admin"],
                    nlohmann::json{{"schedule", "@every sometimes"}}.dump());
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400) << bad->body;
    auto changed = call("PUT", "/api/v1/sets/app/schedule", tokens["admin"],
                        nlohmann::json{{"schedule", "@every 1s"}}.dump());
    ASSERT_TRUE(changed && changed->status == 200) << (changed ? changed->body : "no answer");
    EXPECT_EQ(nlohmann::json::parse(changed->body)["from"], "api");
    // The new schedule runs at once; backups of "other" stay on the config's @daily.
    int n = 0;
    for (int i = 0; i < 100 && (n = backups()) < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_GE(n, 2) << "no backups on the schedule set through the API";
    auto paused = call("POST", "/api/v1/sets/app/pause", tokens["admin"]);
    ASSERT_TRUE(paused && paused->status == 200) << (paused ? paused->body : "no answer");
    EXPECT_EQ(nlohmann::json::parse(paused->body)["paused"], true);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a running one ends
    const int at_pause = backups();
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    EXPECT_EQ(backups(), at_pause) << "a paused set was backed up on its schedule";
    EXPECT_EQ(get("/api/v1/sets/app")["paused"], true);
    auto resumed = call("POST", "/api/v1/sets/app/resume", tokens["admin"]);
    ASSERT_TRUE(resumed && resumed->status == 200);
    for (int i = 0; i < 50 && backups() == at_pause; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_GT(backups(), at_pause) << "no backup after resume";

    // A drill (of a backup asked for just before it) and its report.
    auto backup = call("POST", "/api/v1/sets/other/backup", tokens["operator"]);
    ASSERT_TRUE(backup && backup->status == 202) << (backup ? backup->body : "no answer");
    auto drill = call("POST", "/api/v1/sets/other/drill", tokens["operator"]);
    ASSERT_TRUE(drill && drill->status == 202) << (drill ? drill->body : "no answer");
    nlohmann::json drills;
    for (int i = 0; i < 300; ++i) {
        drills = get("/api/v1/sets/other/drills", "auditor");
        if (!drills["drills"].empty() && drills["drills"][0]["outcome"] != "running") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(drills["drills"].size(), 1u) << drills.dump();
    EXPECT_EQ(drills["drills"][0]["outcome"], "ok") << drills.dump();
    ASSERT_TRUE(drills["drills"][0].contains("report")) << drills.dump();
    EXPECT_FALSE(drills["drills"][0]["report"].dump().find("check") == std::string::npos)
        << drills.dump();

    auto retention = get("/api/v1/sets/app/retention", "viewer");
    EXPECT_EQ(retention["policy"]["keep_last"], 3) << retention.dump();
    EXPECT_EQ(retention["applied_after_backup"], true);
    EXPECT_EQ(get("/api/v1/sets/other/retention")["describe"], "keep everything");
    // A policy set through the API for "other" (none in its config) is applied after its next
    // backup: two backups and keep_last 1 leave one snapshot.
    for (const auto& wrong : {nlohmann::json{{"keep_last", 0}}, nlohmann::json{{"keep_ever", 3}},
                              nlohmann::json::object(), nlohmann::json{{"keep_within", "soon"}}}) {
        auto refused = call("PUT", "/api/v1/sets/other/retention", tokens["admin"], wrong.dump());
        ASSERT_TRUE(refused);
        EXPECT_EQ(refused->status, 400) << wrong.dump() << ": " << refused->body;
    }
    auto kept = call("PUT", "/api/v1/sets/other/retention", tokens["admin"],
                     nlohmann::json{{"keep_last", 1}}.dump());
    ASSERT_TRUE(kept && kept->status == 200) << (kept ? kept->body : "no answer");
    EXPECT_EQ(get("/api/v1/sets/other/retention")["from"], "api");
    EXPECT_EQ(get("/api/v1/sets/other/retention")["describe"], "keep-last 1");
    EXPECT_EQ(wait_job("other", call("POST", "/api/v1/sets/other/backup", tokens["operator"]))
                  .value("outcome", ""),
              "ok");
    const nlohmann::json other_snaps = get("/api/v1/sets/other/snapshots");
    EXPECT_EQ(other_snaps["snapshots"].size(), 1u) << other_snaps.dump();
    auto back = call("DELETE", "/api/v1/sets/other/retention", tokens["admin"]);
    ASSERT_TRUE(back && back->status == 200);
    EXPECT_EQ(get("/api/v1/sets/other/retention")["from"], "config");
    EXPECT_EQ(get("/api/v1/mirrors", "viewer")["configured"], false);

    // The export, written out by the auditor and verified with nothing but the files.
    auto exported = get("/api/v1/audit/export", "auditor");
    ASSERT_TRUE(exported.contains("files")) << exported.dump();
    make_dir(tmp / "export");
    for (const auto& [name, text] : exported["files"].items()) {
        ASSERT_EQ(name.find('/'), std::string::npos);
        write_file(tmp / "export" + "/" + name, text.get<std::string>());
    }
    RunResult key = coffer({"audit", "key"});
    ASSERT_EQ(key.exit_code, 0) << key.describe();
    RunResult offline = run_process(coffer_bin(),
                                    {"audit", "verify", "--offline", tmp / "export",
                                     "--trusted-key", key.out.substr(0, key.out.find('\n'))},
                                    {repo.base_env()});
    EXPECT_EQ(offline.exit_code, 0) << offline.describe();
    EXPECT_TRUE(contains(offline.out, ": ok: ")) << offline.describe();
    EXPECT_FALSE(contains(offline.out, "self-consistent only")) << offline.describe();
    bool pause_recorded = false;
    std::istringstream entries(exported["files"].value("entries.ndjson", ""));
    for (std::string line; std::getline(entries, line);) {
        auto e = nlohmann::json::parse(line, nullptr, false);
        auto leaf = e.is_object() ? crypto::base64_decode(e.value("leaf", "")) : std::nullopt;
        pause_recorded =
            pause_recorded ||
            (leaf && contains(std::string(leaf->begin(), leaf->end()), "/api/v1/sets/{set}/pause"));
    }
    EXPECT_TRUE(pause_recorded) << "the export lacks the pause request";

    // The changed schedule survives a restart of the daemon; DELETE goes back to the config's.
    stop();
    stopping = false;
    served = {};
    ASSERT_NO_FATAL_FAILURE(serve());
    schedule = get("/api/v1/sets/app/schedule");
    EXPECT_EQ(schedule["schedule"], "@every 1s");
    EXPECT_EQ(schedule["changed_by"], "admin-user");
    auto reverted = call("DELETE", "/api/v1/sets/app/schedule", tokens["admin"]);
    ASSERT_TRUE(reverted && reverted->status == 200);
    EXPECT_EQ(nlohmann::json::parse(reverted->body)["schedule"], "@daily");
    EXPECT_EQ(nlohmann::json::parse(reverted->body)["from"], "config");
}

}  // namespace
}  // namespace coffer::e2e
