#include "coffer/api/server.h"

#include <httplib.h>
#include <openssl/ssl.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <string_view>
#include <vector>

#include "coffer/server/http.h"
#include "coffer/util/bytes.h"

namespace coffer::api {

namespace {

// No route takes a body nested more than a few levels; a deeper one is refused before anything
// walks it (a million '[' fit in the 1 MiB a body may have).
constexpr int k_max_body_depth = 32;

bool nests_deeper_than(std::string_view text, int limit) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return true;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return false;
}

}  // namespace

namespace {

constexpr const char* k_cookie = "coffer_session";

std::vector<std::string> segments(const std::string& path) {
    std::vector<std::string> out;
    size_t pos = 1;
    while (pos <= path.size()) {
        size_t end = path.find('/', pos);
        if (end == std::string::npos) end = path.size();
        out.push_back(path.substr(pos, end - pos));
        pos = end + 1;
    }
    return out;
}

// "/api/v1/sets/{set}" against a path; the {name}s land in params.
bool match(const std::string& pattern, const std::string& path,
           std::map<std::string, std::string>& params) {
    auto p = segments(pattern), s = segments(path);
    if (p.size() != s.size()) return false;
    std::map<std::string, std::string> found;
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i].size() > 2 && p[i].front() == '{' && p[i].back() == '}') {
            if (s[i].empty()) return false;
            found[p[i].substr(1, p[i].size() - 2)] = s[i];
        } else if (p[i] != s[i]) {
            return false;
        }
    }
    params = std::move(found);
    return true;
}

std::string cookie_value(const httplib::Request& req, const std::string& name) {
    std::string header = req.get_header_value("Cookie");
    size_t pos = 0;
    while (pos < header.size()) {
        size_t end = header.find(';', pos);
        if (end == std::string::npos) end = header.size();
        std::string part = header.substr(pos, end - pos);
        size_t a = part.find_first_not_of(' ');
        if (a != std::string::npos) part = part.substr(a);
        if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
        pos = end + 1;
    }
    return {};
}

void security_headers(httplib::Response& res) {
    res.set_header("Strict-Transport-Security", "max-age=31536000");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src "
                   "'self'; frame-ancestors 'none'");
    res.set_header("Cache-Control", "no-store");
}

void send(httplib::Response& res, const ApiReply& reply) {
    res.status = reply.status;
    for (const auto& [k, v] : reply.headers) res.set_header(k, v);
    res.set_content(
        reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
        "application/json");
}

}  // namespace

struct ApiServer::Impl {
    ServerOptions opts;
    std::unique_ptr<httplib::SSLServer> server;
    const std::vector<Route>* routes = nullptr;
    std::mutex mu;  // failures
    std::map<std::string, std::deque<int64_t>> failures;

    int64_t now() const { return opts.now ? opts.now() : system_now_ns(); }

    void audit(const std::string& action, const std::string& outcome, const std::string& user,
               const std::string& client, nlohmann::json details) {
        if (!opts.on_audit) return;
        opts.on_audit({{"action", action},
                       {"outcome", outcome},
                       {"user", user},
                       {"client", client},
                       {"details", std::move(details)}});
    }

    // True while client has used up its failures in the window.
    bool locked_out(const std::string& client) {
        std::lock_guard lock(mu);
        auto it = failures.find(client);
        if (it == failures.end()) return false;
        int64_t cutoff = now() - opts.failure_window_ns;
        while (!it->second.empty() && it->second.front() <= cutoff) it->second.pop_front();
        if (it->second.empty()) {
            failures.erase(it);  // the map holds only clients failing now
            return false;
        }
        return static_cast<int>(it->second.size()) >= opts.max_failures;
    }

    // A login attempt counts as a failure from before Argon2 runs, so that parallel attempts
    // cannot all pass the lockout check while the first ones are still being verified; a
    // successful one takes its mark back.
    bool reserve_attempt(const std::string& client) {
        std::lock_guard lock(mu);
        auto& q = failures[client];
        int64_t cutoff = now() - opts.failure_window_ns;
        while (!q.empty() && q.front() <= cutoff) q.pop_front();
        if (static_cast<int>(q.size()) >= opts.max_failures) return false;
        q.push_back(now());
        return true;
    }
    void release_attempt(const std::string& client) {
        std::lock_guard lock(mu);
        auto it = failures.find(client);
        if (it == failures.end() || it->second.empty()) return;
        it->second.pop_back();
        if (it->second.empty()) failures.erase(it);
    }
    bool just_locked(const std::string& client) {
        std::lock_guard lock(mu);
        auto it = failures.find(client);
        return it != failures.end() && static_cast<int>(it->second.size()) == opts.max_failures;
    }

    // Counts a failure; true when it is the one that locks the client out.
    bool fail(const std::string& client) {
        std::lock_guard lock(mu);
        auto& q = failures[client];
        q.push_back(now());
        return static_cast<int>(q.size()) == opts.max_failures;
    }

    // What a changing request did, for the audit log: the route's parameters and the body's
    // plain fields, never a password, a token or a recovery key.
    static nlohmann::json audit_details(const ApiRequest& r, const ApiReply& reply) {
        nlohmann::json d = {{"path", r.path},
                            {"status", reply.status},
                            {"via", r.principal ? r.principal->via : ""}};
        for (const auto& [k, v] : r.params) d["params"][k] = v;
        if (r.body.is_object())
            for (const char* key :
                 {"user", "role", "label", "expires", "confirm", "snapshot", "before", "target"})
                if (r.body.contains(key) && r.body[key].is_string())
                    d["body"][key] = r.body[key].get<std::string>().substr(0, 200);
        if (reply.body.is_object())
            for (const char* key : {"id", "user", "role"})
                if (reply.body.contains(key) && !reply.body[key].is_null())
                    d["result"][key] = reply.body[key];
        return d;
    }

    ApiReply failed_auth(const ApiRequest& r, const std::string& why) {
        bool now_locked = fail(r.client);
        audit("api.auth", "refused", "", r.client,
              {{"method", r.method}, {"path", r.path}, {"reason", why}});
        if (now_locked)
            audit("api.auth.locked-out", "refused", "", r.client,
                  {{"failures", opts.max_failures},
                   {"window_s", opts.failure_window_ns / 1000000000}});
        // Why (unknown, revoked, expired...) is for the audit log, not for whoever guesses.
        return ApiReply::error(401, "authentication failed");
    }

    // Fills r.principal from the bearer token or the session cookie; an error reply if the
    // credentials are missing or bad. csrf_ok: the cookie path's check for unsafe methods.
    std::optional<ApiReply> authenticate(const httplib::Request& req, ApiRequest& r) {
        if (locked_out(r.client))
            return ApiReply::error(429, "too many failed authentications from " + r.client +
                                            ": wait a minute and try again");
        std::string auth = req.get_header_value("Authorization");
        if (!auth.empty()) {
            if (auth.rfind("Bearer ", 0) != 0)
                return failed_auth(r, "the Authorization header is not \"Bearer <token>\"");
            std::string why;
            auto p = opts.access->authenticate_token(auth.substr(7), now(), why);
            if (!p.ok()) return internal(p.status());
            if (!*p) return failed_auth(r, why);
            r.principal = **p;
            return std::nullopt;
        }
        std::string cookie = cookie_value(req, k_cookie);
        if (cookie.empty())
            return ApiReply::error(401,
                                   "authentication required: send \"Authorization: Bearer "
                                   "<token>\" (coffer token create) or log in");
        auto s = opts.access->authenticate_session(cookie, now());
        if (!s.ok()) return internal(s.status());
        if (!*s) return failed_auth(r, "unknown or expired session");
        r.principal = (*s)->first;
        r.csrf = (*s)->second.csrf;
        if (r.method != "GET" && r.method != "HEAD") {
            std::string csrf = req.get_header_value("X-CSRF-Token");
            if (csrf.empty() || !ct_equal(as_bytes(csrf), as_bytes((*s)->second.csrf))) {
                audit("api.csrf", "refused", r.principal->user, r.client,
                      {{"method", r.method}, {"path", r.path}});
                return ApiReply::error(403, "missing or wrong X-CSRF-Token for this session");
            }
        }
        return std::nullopt;
    }

    // A 500 that tells the client nothing of the host (paths, SQLite); the audit hook has it.
    ApiReply internal(const Status& st) {
        audit("api.error", "failed", "", "", {{"error", st.message()}});
        return ApiReply::error(500, "internal error (the daemon's audit log has it)");
    }

    ApiReply login(const ApiRequest& r) {
        if (!r.body.is_object() || !r.body.contains("user") || !r.body["user"].is_string() ||
            !r.body.contains("password") || !r.body["password"].is_string())
            return ApiReply::error(400, "send {\"user\": \"...\", \"password\": \"...\"}");
        std::string user = r.body["user"];
        // Only a well-formed name is recorded as who tried: anything else (a password typed
        // into the name field, a megabyte of text) would be written into the signed log.
        const bool named = check_user_name(user).ok();
        const std::string who = named ? user : "";
        if (!reserve_attempt(r.client))
            return ApiReply::error(
                429, "too many failed logins from " + r.client + ": wait a minute and try again");
        auto found = named
                         ? opts.access->check_password(user, r.body["password"].get<std::string>())
                         : Result<std::optional<User>>(std::optional<User>());
        if (!found.ok()) {
            release_attempt(r.client);
            return internal(found.status());
        }
        if (!*found) {
            audit("api.login", "refused", who, r.client,
                  {{"reason", named ? "wrong user or password" : "malformed user name"}});
            if (just_locked(r.client))
                audit("api.auth.locked-out", "refused", who, r.client,
                      {{"failures", opts.max_failures}});
            return ApiReply::error(401, "wrong user name or password");
        }
        release_attempt(r.client);
        auto session = opts.access->create_session(user, now() + opts.session_ttl_ns, now());
        if (!session.ok()) return internal(session.status());
        audit("api.login", "ok", user, r.client, {{"role", role_name((*found)->role)}});
        ApiReply reply{200,
                       {{"user", user},
                        {"role", role_name((*found)->role)},
                        {"csrf_token", session->second.csrf},
                        {"expires_in_s", opts.session_ttl_ns / 1000000000}},
                       {}};
        reply.headers.push_back(
            {"Set-Cookie", std::string(k_cookie) + "=" + session->first +
                               "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=" +
                               std::to_string(opts.session_ttl_ns / 1000000000)});
        return reply;
    }

    void dispatch(const httplib::Request& req, httplib::Response& res) {
        security_headers(res);
        ApiRequest r;
        r.method = req.method;
        r.path = req.path;
        r.client = req.remote_addr;
        if (r.path.rfind("/api/", 0) != 0) {
            serve_plain(req, r, res);
            return;
        }
        const Route* route = nullptr;
        bool path_known = false;
        std::vector<std::string> allowed;
        for (const auto& candidate : *routes) {
            std::map<std::string, std::string> params;
            if (!match(candidate.pattern, r.path, params)) continue;
            path_known = true;
            allowed.push_back(candidate.method);
            if (candidate.method == r.method && !route) {
                route = &candidate;
                r.params = std::move(params);
            }
        }
        if (!route) {
            if (!path_known) return send(res, ApiReply::error(404, "no such endpoint: " + r.path));
            std::string list;
            for (const auto& m : allowed) list += (list.empty() ? "" : ", ") + m;
            res.set_header("Allow", list);
            return send(res, ApiReply::error(405, r.method + " is not allowed on " + r.path +
                                                      " (allowed: " + list + ")"));
        }
        r.route = route->pattern;
        for (const auto& [k, v] : req.params)
            if (!r.query.count(k)) r.query[k] = v;
        if (!req.body.empty()) {
            // Only JSON: a cross-site form (text/plain, urlencoded) cannot send it without a
            // CORS preflight, which this server never answers, so no page elsewhere can post
            // here in a visitor's name (login CSRF included).
            std::string type = req.get_header_value("Content-Type");
            if (type.rfind("application/json", 0) != 0)
                return send(res, ApiReply::error(415, "send the body as application/json"));
            if (nests_deeper_than(req.body, k_max_body_depth))
                return send(res,
                            ApiReply::error(400, "the request body nests deeper than " +
                                                     std::to_string(k_max_body_depth) + " levels"));
            r.body = nlohmann::json::parse(req.body, nullptr, false);
            if (r.body.is_discarded())
                return send(res, ApiReply::error(400, "the request body is not JSON"));
        }
        if (route->permission) {
            if (auto refused = authenticate(req, r)) return send(res, *refused);
            if (!r.principal->allows(*route->permission)) {
                audit("api.denied", "refused", r.principal->user, r.client,
                      {{"method", r.method},
                       {"path", r.path},
                       {"role", role_name(r.principal->role)},
                       {"needs", permission_name(*route->permission)}});
                return send(
                    res, ApiReply::error(403, "role " + std::string(role_name(r.principal->role)) +
                                                  " may not " + r.method + " " + route->pattern));
            }
        }
        ApiReply reply;
        try {
            reply = route->handler(r);
        } catch (const std::exception& e) {
            reply = internal(internal_error(e.what()));
        }
        if (r.method != "GET" && route->pattern != "/api/v1/login")
            audit("api." + r.method + " " + route->pattern, reply.status < 400 ? "ok" : "failed",
                  r.principal ? r.principal->user : "", r.client, audit_details(r, reply));
        send(res, reply);
    }

    void serve_plain(const httplib::Request& req, const ApiRequest& r, httplib::Response& res) {
        if (r.method != "GET" && r.method != "HEAD") {
            res.status = 405;
            res.set_content("{\"error\":\"only GET here\"}\n", "application/json");
            return;
        }
        PlainResponse out;
        if (r.path == "/healthz" && opts.health) {
            out = opts.health();
        } else if (r.path == "/metrics" && opts.metrics) {
            // Set names, RPO state and run outcomes: what the status permission shows, so the
            // same credentials (Prometheus sends a bearer token). metrics_listen, when set,
            // is the operator's choice of an open, plain-HTTP copy.
            ApiRequest ar = r;
            if (auto refused = authenticate(req, ar)) return send(res, *refused);
            out = opts.metrics();
        } else if (auto a = opts.assets.find(r.path); a != opts.assets.end())
            out = {200, a->second.body, a->second.content_type};
        else
            out = {404, "{\"error\":\"not found\"}\n", "application/json"};
        res.status = out.status;
        res.set_content(out.body, out.content_type);
    }
};

Result<std::unique_ptr<ApiServer>> ApiServer::start(ServerOptions options) {
    if (!options.access) return invalid_argument("ApiServer needs an AccessDb");
    TRY_ASSIGN(auto hp, server::split_listen(options.listen));
    std::unique_ptr<ApiServer> s(new ApiServer());
    s->m_impl = std::make_unique<Impl>();
    Impl& impl = *s->m_impl;
    impl.opts = std::move(options);
    impl.server = std::make_unique<httplib::SSLServer>(impl.opts.certificate.cert_path.c_str(),
                                                       impl.opts.certificate.key_path.c_str());
    if (!impl.server->is_valid())
        return invalid_argument("cannot use TLS certificate " + impl.opts.certificate.cert_path +
                                " with key " + impl.opts.certificate.key_path);
    SSL_CTX* ctx = impl.server->ssl_context();
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        return internal_error("cannot set TLS 1.2 as the minimum version");

    // The built-in routes first; they answer the same way whatever the caller adds.
    s->m_routes.push_back({"POST", "/api/v1/login", std::nullopt,
                           [&impl](const ApiRequest& r) { return impl.login(r); },
                           "Log in with user and password: sets the session cookie and returns "
                           "the CSRF token"});
    s->m_routes.push_back({"POST", "/api/v1/logout", Permission::status,
                           [&impl](const ApiRequest& r) {
                               // A bearer token has no session to end; the cookie's is ended here.
                               (void)r;
                               return ApiReply{
                                   200,
                                   {{"logged_out", true}},
                                   {{"Set-Cookie", std::string(k_cookie) + "=; Path=/; Secure; "
                                                                           "HttpOnly; "
                                                                           "SameSite=Strict; "
                                                                           "Max-Age=0"}}};
                           },
                           "End the session"});
    s->m_routes.push_back({"GET", "/api/v1/session", Permission::status,
                           [](const ApiRequest& r) {
                               ApiReply reply{200,
                                              {{"user", r.principal->user},
                                               {"role", role_name(r.principal->role)},
                                               {"via", r.principal->via}},
                                              {}};
                               // The page reloaded: same-origin script may read its own
                               // session's token again (another origin cannot read answers).
                               if (!r.csrf.empty()) reply.body["csrf_token"] = r.csrf;
                               return reply;
                           },
                           "Who the caller is (and, for a session, its CSRF token)"});
    ApiServer* self = s.get();
    s->m_routes.push_back({"GET", "/api/v1/openapi.json", std::nullopt,
                           [self](const ApiRequest&) {
                               return ApiReply{200, self->openapi(), {}};
                           },
                           "This API's OpenAPI 3 description"});
    for (auto& r : impl.opts.routes) s->m_routes.push_back(std::move(r));
    impl.opts.routes.clear();
    impl.routes = &s->m_routes;

    auto handler = [&impl](const httplib::Request& req, httplib::Response& res) {
        // Bodies carry passwords and recovery keys: wiped once answered, not just freed (the
        // buffers httplib outgrew while reading it are not: docs/api.md). httplib owns the
        // (non-const) Request and reads its body no more after this.
        struct WipeBody {
            const httplib::Request& req;
            ~WipeBody() {
                auto& body = const_cast<std::string&>(req.body);
                secure_wipe(body.data(), body.size());
            }
        } wipe{req};
        // The logout route needs the raw cookie, which only dispatch sees: end it there.
        if (req.method == "POST" && req.path == "/api/v1/logout") {
            std::string cookie = cookie_value(req, k_cookie);
            impl.dispatch(req, res);
            if (res.status == 200 && !cookie.empty()) (void)impl.opts.access->end_session(cookie);
            return;
        }
        impl.dispatch(req, res);
    };
    impl.server->Get(".*", handler);
    impl.server->Post(".*", handler);
    impl.server->Put(".*", handler);
    impl.server->Delete(".*", handler);
    impl.server->Patch(".*", handler);
    impl.server->set_payload_max_length(1 << 20);
    unsigned threads = impl.opts.threads;
    impl.server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    impl.server->set_read_timeout(10, 0);
    impl.server->set_keep_alive_max_count(100);
    // httplib writes a reply's headers and body separately: with Nagle's algorithm the body
    // waits for the client's delayed ACK, 40 ms a request (measured with wrk: 180 requests/s).
    impl.server->set_tcp_nodelay(true);

    s->m_host = hp.first;
    int port = hp.second == 0 ? impl.server->bind_to_any_port(hp.first)
                              : (impl.server->bind_to_port(hp.first, hp.second) ? hp.second : -1);
    if (port < 0)
        return io_error("cannot listen on " + impl.opts.listen +
                        " (in use, or not an address of this host): set [server] listen");
    s->m_port = port;
    s->m_thread = std::thread([&impl] { impl.server->listen_after_bind(); });
    // httplib's stop() does nothing before the loop runs: a server destroyed right after
    // start() would never be joined otherwise.
    for (int i = 0; i < 5000 && !impl.server->is_running(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!impl.server->is_running()) {
        s->m_thread.join();  // listen_after_bind returned: it will not run
        s->m_thread = std::thread();
        return io_error("the HTTPS server on " + impl.opts.listen + " did not start");
    }
    return s;
}

ApiServer::~ApiServer() {
    if (m_impl && m_impl->server) m_impl->server->stop();
    if (m_thread.joinable()) m_thread.join();
}

int ApiServer::min_tls_version() const {
    return static_cast<int>(SSL_CTX_get_min_proto_version(m_impl->server->ssl_context()));
}

namespace {

// With a stack of its own: a body's depth is bounded by dispatch, but a walk by recursion
// would still cost a frame per level on a worker's stack.
void wipe_strings(nlohmann::json& root) {
    std::vector<nlohmann::json*> todo{&root};
    while (!todo.empty()) {
        nlohmann::json* j = todo.back();
        todo.pop_back();
        if (j->is_string()) {
            auto& text = j->get_ref<std::string&>();
            secure_wipe(text.data(), text.size());
        } else if (j->is_structured()) {
            for (auto& v : *j) todo.push_back(&v);
        }
    }
}

}  // namespace

ApiRequest::~ApiRequest() {
    wipe_strings(body);
    secure_wipe(csrf.data(), csrf.size());
}

nlohmann::json ApiServer::openapi() const {
    nlohmann::json paths = nlohmann::json::object();
    for (const auto& r : m_routes) {
        std::string method = r.method;
        for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        nlohmann::json op = {{"summary", r.summary},
                             {"responses",
                              {{"200", {{"description", "OK"}}},
                               {"401", {{"description", "no or bad credentials"}}},
                               {"403", {{"description", "the role does not allow it"}}}}}};
        if (r.permission) {
            op["security"] = nlohmann::json::array(
                {{{"bearer", nlohmann::json::array()}}, {{"session", nlohmann::json::array()}}});
            op["x-coffer-permission"] = permission_name(*r.permission);
            nlohmann::json roles = nlohmann::json::array();
            for (Role role : {Role::viewer, Role::auditor, Role::operator_, Role::admin})
                if (role_allows(role, *r.permission)) roles.push_back(role_name(role));
            op["x-coffer-roles"] = roles;
        } else {
            op["security"] = nlohmann::json::array();
        }
        nlohmann::json params = nlohmann::json::array();
        for (const auto& seg : segments(r.pattern))
            if (seg.size() > 2 && seg.front() == '{')
                params.push_back({{"name", seg.substr(1, seg.size() - 2)},
                                  {"in", "path"},
                                  {"required", true},
                                  {"schema", {{"type", "string"}}}});
        if (!params.empty()) op["parameters"] = params;
        paths[r.pattern][method] = op;
    }
    return {{"openapi", "3.0.3"},
            {"info", {{"title", "coffer API"}, {"version", "1"}}},
            {"servers", nlohmann::json::array({{{"url", "/"}}})},
            {"components",
             {{"securitySchemes",
               {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}},
                {"session", {{"type", "apiKey"}, {"in", "cookie"}, {"name", k_cookie}}}}}}},
            {"paths", paths}};
}

}  // namespace coffer::api
