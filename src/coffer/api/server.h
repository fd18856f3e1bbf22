// ApiServer: the HTTPS side of `coffer serve`: the JSON API under /api/v1, the dashboard's
// static files, /healthz and /metrics, on cpp-httplib's SSLServer with TLS 1.2 as the floor.
//
// Every API route names the one Permission it needs (policy.h) or is public (login, the
// OpenAPI description). A request is authenticated by "Authorization: Bearer <token>" or by
// the dashboard's session cookie; with the cookie, every method but GET must also carry the
// session's X-CSRF-Token. Then the principal is checked against the route, and only then does
// the handler run. Answers: 401 without valid credentials, 403 when the role does not allow
// it (or the CSRF token is missing), 404 for no such route, 405 for a route without that
// method, 429 while a client is locked out; every body is JSON, errors as {"error": "..."}.
//
// Failed authentication (a wrong password, token or cookie) counts against the client's
// address: after max_failures within failure_window_ns it gets 429 until the window passes,
// whatever it presents, so tokens and passwords cannot be guessed at speed. Every login,
// logout, failed authentication, denial and every request that changes something is reported
// through on_audit (never a password, token or cookie). Handlers run on the server's worker
// threads and must be thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "coffer/api/access.h"
#include "coffer/api/policy.h"
#include "coffer/api/tls.h"
#include "coffer/util/status.h"

namespace httplib {
class SSLServer;
}

namespace coffer::api {

struct ApiRequest {
    std::string method, path;
    std::string route;                          // the pattern matched, "/api/v1/sets/{set}"
    std::map<std::string, std::string> params;  // from the pattern's {name}s
    std::map<std::string, std::string> query;   // first value of each
    nlohmann::json body;                        // null when the request had none
    std::optional<Principal> principal;         // unset on public routes
    std::string csrf;    // the session's CSRF token, when authenticated by the cookie
    std::string client;  // remote address

    ApiRequest() = default;
    ApiRequest(const ApiRequest&) = default;
    ApiRequest& operator=(const ApiRequest&) = default;
    // Wipes the body's strings (passwords, recovery keys) and the CSRF token.
    ~ApiRequest();
};

struct ApiReply {
    int status = 200;
    nlohmann::json body = nlohmann::json::object();
    std::vector<std::pair<std::string, std::string>> headers;
    static ApiReply error(int status, const std::string& message) {
        return {status, {{"error", message}}, {}};
    }
};

struct Route {
    std::string method;  // GET, POST, PUT, DELETE
    std::string pattern;
    std::optional<Permission> permission;  // nullopt: public
    std::function<ApiReply(const ApiRequest&)> handler;
    std::string summary;  // for the OpenAPI description
};

struct PlainResponse {
    int status = 200;
    std::string body;
    std::string content_type = "text/plain; charset=utf-8";
};

struct Asset {
    std::string content_type;
    std::string body;
};

struct ServerOptions {
    std::string listen = "127.0.0.1:8443";
    Certificate certificate;
    AccessDb* access = nullptr;  // required
    std::vector<Route> routes;   // besides the built-in login, logout, session and openapi.json
    std::function<PlainResponse()> metrics, health;
    std::map<std::string, Asset> assets;  // by path ("/" for the dashboard's page)
    // {"action","outcome","user","client","details"}; called from worker threads.
    std::function<void(const nlohmann::json&)> on_audit;
    std::function<int64_t()> now;  // ns since the epoch; the system clock when unset
    int64_t session_ttl_ns = 8LL * 3600 * 1000000000;
    int max_failures = 10;
    int64_t failure_window_ns = 60LL * 1000000000;
    unsigned threads = 8;
};

class ApiServer {
public:
    // Code::invalid_argument for a bad listen address or certificate, Code::io when it cannot
    // bind.
    static Result<std::unique_ptr<ApiServer>> start(ServerOptions options);
    ~ApiServer();  // stops serving and joins the thread
    int port() const { return m_port; }
    const std::string& host() const { return m_host; }
    // Every route served, the built-in ones included (for docs and the authorization test).
    const std::vector<Route>& routes() const { return m_routes; }
    // The lowest TLS version the server accepts (TLS1_2_VERSION).
    int min_tls_version() const;
    // The OpenAPI 3 description of routes().
    nlohmann::json openapi() const;

    struct Impl;

private:
    ApiServer() = default;
    std::unique_ptr<Impl> m_impl;
    std::vector<Route> m_routes;
    std::thread m_thread;
    std::string m_host;
    int m_port = 0;
};

}  // namespace coffer::api
