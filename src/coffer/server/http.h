// HttpServer: the daemon's plain-HTTP endpoints (GET /metrics, GET /healthz) on a loopback
// address by default, served by cpp-httplib on a thread of its own. Handlers run on that
// thread and must be thread-safe. Only GET is served; anything else is 404/405.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "coffer/util/status.h"

namespace httplib {
class Server;
}

namespace coffer::server {

struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "text/plain; charset=utf-8";
};

class HttpServer {
public:
    using Handler = std::function<Response()>;
    // listen is "host:port" (IPv4 literal, "localhost" or "[v6]"; port 0 picks a free one).
    // Code::invalid_argument for a malformed address, Code::io when it cannot bind.
    static Result<std::unique_ptr<HttpServer>> start(const std::string& listen, Handler metrics,
                                                     Handler health);
    ~HttpServer();  // stops serving and joins the thread
    int port() const { return m_port; }
    const std::string& host() const { return m_host; }

private:
    HttpServer() = default;
    std::unique_ptr<httplib::Server> m_server;
    std::thread m_thread;
    std::string m_host;
    int m_port = 0;
};

// Splits "host:port" ("[::1]:9180" for IPv6). Code::invalid_argument naming the problem.
Result<std::pair<std::string, int>> split_listen(const std::string& listen);

}  // namespace coffer::server
