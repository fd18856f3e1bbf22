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
#include <thread>

#include <gtest/gtest.h>

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
    void TearDown() override { stop(); }
    void stop() {
        stopping = true;
        if (daemon.joinable()) daemon.join();
    }
    // Starts the daemon; it runs until stop().
    void serve() {
        RunOptions o;
        o.timeout_s = 120;
        o.term_when = [this] { return stopping.load(); };
        daemon = std::thread([this, o] { served = coffer({"serve"}, o); });
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
    ASSERT_TRUE(started && started->status == 202) << (started ? started->body : "no answer");
    std::string job = std::to_string(nlohmann::json::parse(started->body)["id"].get<int64_t>());
    nlohmann::json done = nlohmann::json::object();
    for (int i = 0; i < 300 && done.value("state", "") != "done"; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        auto r = call("GET", "/api/v1/sets/app/jobs/" + job, tokens["auditor"]);
        if (r && r->status == 200) done = nlohmann::json::parse(r->body);
    }
    ASSERT_EQ(done.value("state", ""), "done") << done.dump();
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

}  // namespace
}  // namespace coffer::e2e
