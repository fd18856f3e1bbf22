// ApiServer over real TLS on loopback, with a generated certificate the client verifies: one
// route per permission, called by every role with a token and with a session, must answer as
// policy.h says (and without credentials, with an expired, revoked or tampered token, or a
// tampered cookie, 401); a session must send its CSRF token for anything but GET; unknown paths
// are 404 and wrong methods 405; TLS below 1.2 is refused; failed authentication locks the
// client out (429, even with a good token) and lands in the audit events, which never hold a
// secret.
#include "coffer/api/server.h"

#include <httplib.h>
#include <openssl/ssl.h>

#include <mutex>

#include <gtest/gtest.h>

#include "store/temp_dir.h"

namespace coffer::api {
namespace {

constexpr int64_t k_s = 1000000000;

class ApiServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = AccessDb::open(tmp.path() + "/state");
        ASSERT_TRUE(opened.ok()) << opened.status().to_string();
        db = std::move(*opened);
        auto cert = ensure_certificate("", "", tmp.path() + "/state", "127.0.0.1");
        ASSERT_TRUE(cert.ok()) << cert.status().to_string();
        certificate = *cert;
        for (Role r : k_roles) {
            std::string name(role_name(r));
            ASSERT_TRUE(db->add_user(name, r, password).ok());
            auto t = db->create_token(name, std::nullopt, now + 3600 * k_s, "", now);
            ASSERT_TRUE(t.ok());
            tokens[r] = t->secret;
        }
    }
    void start(int max_failures = 1000) {
        ServerOptions o;
        o.listen = "127.0.0.1:0";
        o.certificate = certificate;
        o.access = db.get();
        o.now = [this] { return now.load(); };
        o.max_failures = max_failures;
        o.on_audit = [this](const nlohmann::json& e) {
            std::lock_guard lock(mu);
            audit.push_back(e);
        };
        o.health = [] { return PlainResponse{200, "{\"status\":\"ok\"}\n", "application/json"}; };
        o.metrics = [] { return PlainResponse{200, "coffer_up 1\n", "text/plain"}; };
        for (Permission p : k_permissions)
            for (const char* method : {"GET", "POST"})
                o.routes.push_back({method,
                                    "/api/v1/probe/" + std::string(permission_name(p)) + "/{id}", p,
                                    [](const ApiRequest& r) {
                                        return ApiReply{200, {{"id", r.params.at("id")}}, {}};
                                    },
                                    "probe"});
        auto s = ApiServer::start(std::move(o));
        ASSERT_TRUE(s.ok()) << s.status().to_string();
        server = std::move(*s);
    }
    std::unique_ptr<httplib::SSLClient> client() {
        auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", server->port());
        c->set_ca_cert_path(certificate.cert_path.c_str());
        c->enable_server_certificate_verification(true);
        return c;
    }
    int status(const std::string& method, const std::string& path, httplib::Headers headers,
               const std::string& body = "") {
        auto c = client();
        httplib::Result r =
            method == "GET"    ? c->Get(path.c_str(), headers)
            : method == "POST" ? c->Post(path.c_str(), headers, body, "application/json")
            : method == "PUT"  ? c->Put(path.c_str(), headers, body, "application/json")
                               : c->Delete(path.c_str(), headers);
        EXPECT_TRUE(r) << method << " " << path << ": " << httplib::to_string(r.error());
        return r ? r->status : -1;
    }
    static httplib::Headers bearer(const std::string& token) {
        return {{"Authorization", "Bearer " + token}};
    }
    std::string audit_text() {
        std::lock_guard lock(mu);
        std::string all;
        for (const auto& e : audit) all += e.dump() + "\n";
        return all;
    }
    size_t audited(const std::string& action, const std::string& outcome) {
        std::lock_guard lock(mu);
        size_t n = 0;
        for (const auto& e : audit) n += e["action"] == action && e["outcome"] == outcome;
        return n;
    }
    // Logs in as user; returns the cookie header and the CSRF token.
    std::pair<std::string, std::string> login(const std::string& user) {
        auto r = client()->Post("/api/v1/login",
                                nlohmann::json{{"user", user}, {"password", password}}.dump(),
                                "application/json");
        EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
        if (!r || r->status != 200) return {};
        std::string set_cookie = r->get_header_value("Set-Cookie");
        for (const char* flag : {"Secure", "HttpOnly", "SameSite=Strict"})
            EXPECT_NE(set_cookie.find(flag), std::string::npos) << set_cookie;
        return {set_cookie.substr(0, set_cookie.find(';')),
                nlohmann::json::parse(r->body)["csrf_token"]};
    }

    static constexpr Role k_roles[] = {Role::viewer, Role::auditor, Role::operator_, Role::admin};
    static constexpr Permission k_permissions[] = {Permission::status, Permission::snapshots,
                                                   Permission::run, Permission::audit,
                                                   Permission::manage};
    store::testing::TempDir tmp;
    std::unique_ptr<AccessDb> db;
    Certificate certificate;
    std::unique_ptr<ApiServer> server;
    std::map<Role, std::string> tokens;
    std::atomic<int64_t> now{1'800'000'000 * k_s};
    const std::string password = "a password long enough";
    std::mutex mu;
    std::vector<nlohmann::json> audit;
};

TEST_F(ApiServerTest, EveryRoleGetsWhatThePolicyAllowsWithATokenAndWithASession) {
    start();
    for (Role role : k_roles) {
        auto [cookie, csrf] = login(std::string(role_name(role)));
        for (Permission p : k_permissions) {
            std::string path = "/api/v1/probe/" + std::string(permission_name(p)) + "/x1";
            int expected = role_allows(role, p) ? 200 : 403;
            SCOPED_TRACE(std::string(role_name(role)) + " on " + path);
            EXPECT_EQ(status("GET", path, bearer(tokens[role])), expected);
            EXPECT_EQ(status("POST", path, bearer(tokens[role]), "{}"), expected);
            EXPECT_EQ(status("GET", path, {{"Cookie", cookie}}), expected);
            EXPECT_EQ(status("POST", path, {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}, "{}"),
                      expected);
            // Without the CSRF token (or with another one) a session changes nothing.
            EXPECT_EQ(status("POST", path, {{"Cookie", cookie}}, "{}"), 403);
            std::string wrong = csrf;
            wrong.back() = wrong.back() == '0' ? '1' : '0';  // same length, one digit off
            EXPECT_EQ(status("POST", path, {{"Cookie", cookie}, {"X-CSRF-Token", wrong}}, "{}"),
                      403);
        }
    }
    EXPECT_GT(audited("api.denied", "refused"), 0u);
    EXPECT_GT(audited("api.login", "ok"), 3u);
    EXPECT_GT(audited("api.POST /api/v1/probe/status/{id}", "ok"), 0u);
}

TEST_F(ApiServerTest, MissingExpiredRevokedOrTamperedCredentialsAreRefused) {
    start();
    const std::string path = "/api/v1/probe/status/1";
    EXPECT_EQ(status("GET", path, {}), 401);
    EXPECT_EQ(status("GET", path, {{"Authorization", "Basic YWRtaW46YWRtaW4="}}), 401);
    std::string tampered = tokens[Role::admin];
    tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'a' ? 'b' : 'a';
    EXPECT_EQ(status("GET", path, bearer(tampered)), 401);
    EXPECT_EQ(status("GET", path, {{"Cookie", "coffer_session=" + std::string(64, 'a')}}), 401);
    auto [cookie, csrf] = login("viewer");
    std::string bad_cookie = cookie;
    bad_cookie.back() = bad_cookie.back() == 'a' ? 'b' : 'a';
    EXPECT_EQ(status("GET", path, {{"Cookie", bad_cookie}}), 401);
    EXPECT_EQ(status("GET", path, {{"Cookie", cookie}}), 200);
    // /metrics needs the status permission, as the sets it describes do; /healthz nothing.
    EXPECT_EQ(status("GET", "/metrics", {}), 401);
    EXPECT_EQ(status("GET", "/metrics", bearer(tokens[Role::auditor])), 200);

    auto list = db->list_tokens("admin");
    ASSERT_TRUE(db->revoke_token((*list)[0].id, now).ok());
    EXPECT_EQ(status("GET", path, bearer(tokens[Role::admin])), 401);
    now += 3601 * k_s;  // the others' expiry and the session's are past
    EXPECT_EQ(status("GET", path, bearer(tokens[Role::viewer])), 401);
    now += 8 * 3600 * k_s;
    EXPECT_EQ(status("GET", path, {{"Cookie", cookie}}), 401);

    // Logging out ends the session at once.
    auto [cookie2, csrf2] = login("auditor");
    EXPECT_EQ(status("POST", "/api/v1/logout", {{"Cookie", cookie2}, {"X-CSRF-Token", csrf2}}),
              200);
    EXPECT_EQ(status("GET", path, {{"Cookie", cookie2}}), 401);

    // Wrong routes and methods; public routes need nothing.
    EXPECT_EQ(status("GET", "/api/v1/nothing", bearer(tokens[Role::operator_])), 404);
    EXPECT_EQ(status("DELETE", path, {}), 405);
    EXPECT_EQ(status("GET", "/api/v1/login", {}), 405);
    EXPECT_EQ(status("GET", "/api/v1/openapi.json", {}), 200);
    EXPECT_EQ(status("GET", "/healthz", {}), 200);
    EXPECT_EQ(status("POST", "/api/v1/login", {}, "not json"), 400);
    // A body that is not declared JSON (what a cross-site form can send) is refused.
    auto form = client()->Post("/api/v1/login", "user=admin&password=x",
                               "application/x-www-form-urlencoded");
    ASSERT_TRUE(form);
    EXPECT_EQ(form->status, 415);
    // A password typed into the name field is not written down as who tried.
    EXPECT_EQ(status("POST", "/api/v1/login", {},
                     nlohmann::json{{"user", "hunter2 is my password"}, {"password", "x"}}.dump()),
              401);
    EXPECT_EQ(audit_text().find("hunter2"), std::string::npos);
    EXPECT_EQ(status("POST", "/api/v1/login", {},
                     nlohmann::json{{"user", "admin"}, {"password", "wrong password!"}}.dump()),
              401);

    std::string log = audit_text();
    for (const auto& [role, token] : tokens)
        EXPECT_EQ(log.find(token.substr(20)), std::string::npos) << "a token secret was audited";
    EXPECT_EQ(log.find(password), std::string::npos) << "a password was audited";
    EXPECT_EQ(log.find(cookie.substr(cookie.find('=') + 1)), std::string::npos);
    EXPECT_NE(log.find("revoked token"), std::string::npos) << log;
    EXPECT_NE(log.find("expired token"), std::string::npos) << log;
}

TEST_F(ApiServerTest, ADeeplyNestedBodyIsRefusedBeforeParsingAndTheServerGoesOn) {
    start();
    // Nested deep enough to overflow a worker's stack if anything walked it by recursion (the
    // body's wipe did): refused before it is parsed, and the server goes on answering.
    auto deep = client()->Post("/api/v1/login", std::string(450000, '[') + std::string(450000, ']'),
                               "application/json");
    ASSERT_TRUE(deep);
    EXPECT_EQ(deep->status, 400);
    EXPECT_NE(deep->body.find("nests deeper than 32 levels"), std::string::npos) << deep->body;
    EXPECT_EQ(status("GET", "/healthz", {}), 200);
    // Brackets inside strings do not count: this one is parsed, and fails as a login.
    EXPECT_EQ(status("POST", "/api/v1/login", {},
                     nlohmann::json{{"user", std::string(100, '[')}, {"password", "x"}}.dump()),
              401);
}

TEST_F(ApiServerTest, FailedAuthenticationLocksTheClientOutAndIsAudited) {
    start(/*max_failures=*/5);
    const std::string path = "/api/v1/probe/status/1";
    for (int i = 0; i < 5; ++i) {
        std::string guess = "coffer_0123456789ab_" + std::string(63, '0') + std::to_string(i);
        EXPECT_EQ(status("GET", path, bearer(guess)), 401);
    }
    // Locked out: even a valid token and a right password get 429 until the window passes.
    EXPECT_EQ(status("GET", path, bearer(tokens[Role::admin])), 429);
    EXPECT_EQ(status("POST", "/api/v1/login", {},
                     nlohmann::json{{"user", "admin"}, {"password", password}}.dump()),
              429);
    EXPECT_EQ(audited("api.auth", "refused"), 5u);
    EXPECT_EQ(audited("api.auth.locked-out", "refused"), 1u);
    now += 61 * k_s;
    EXPECT_EQ(status("GET", path, bearer(tokens[Role::admin])), 200);
}

TEST_F(ApiServerTest, OnlyTls12AndUpAndTheCertificateVerifies) {
    start();
    EXPECT_EQ(server->min_tls_version(), TLS1_2_VERSION);
    ASSERT_FALSE(certificate.fingerprint.empty());
    EXPECT_EQ(certificate.fingerprint.size(), 32u * 3 - 1);
    EXPECT_EQ(status("GET", "/healthz", {}), 200);  // verified against the generated cert

    for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
        auto c = client();
        SSL_CTX* ctx = c->ssl_context();
        ASSERT_NE(ctx, nullptr);
        SSL_CTX_set_security_level(ctx, 0);  // let the client offer what the server must refuse
        SSL_CTX_set_min_proto_version(ctx, version);
        SSL_CTX_set_max_proto_version(ctx, version);
        auto r = c->Get("/healthz");
        EXPECT_FALSE(r) << "TLS version " << version << " was accepted";
    }
    auto c = client();
    SSL_CTX_set_min_proto_version(c->ssl_context(), TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c->ssl_context(), TLS1_2_VERSION);
    auto r = c->Get("/healthz");
    EXPECT_TRUE(r && r->status == 200);

    // The OpenAPI description lists every route with the roles that may call it.
    auto api = client()->Get("/api/v1/openapi.json");
    ASSERT_TRUE(api && api->status == 200);
    auto j = nlohmann::json::parse(api->body);
    EXPECT_EQ(j["openapi"], "3.0.3");
    EXPECT_EQ(j["paths"]["/api/v1/probe/manage/{id}"]["get"]["x-coffer-roles"],
              nlohmann::json::array({"admin"}));
}

}  // namespace
}  // namespace coffer::api
