#include "coffer/server/http.h"

#include <httplib.h>

namespace coffer::server {

Result<std::pair<std::string, int>> split_listen(const std::string& listen) {
    auto bad = [&](const std::string& why) {
        return invalid_argument("listen address '" + listen + "' " + why +
                                ": use host:port, e.g. 127.0.0.1:9180");
    };
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0) return bad("has no port");
    std::string host = listen.substr(0, colon);
    if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    std::string port_text = listen.substr(colon + 1);
    if (port_text.empty() || port_text.size() > 5 ||
        port_text.find_first_not_of("0123456789") != std::string::npos)
        return bad("has an invalid port");
    int port = std::stoi(port_text);
    if (port > 65535) return bad("has a port above 65535");
    return std::pair{host, port};
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& listen, Handler metrics,
                                                      Handler health) {
    TRY_ASSIGN(auto hp, split_listen(listen));
    std::unique_ptr<HttpServer> s(new HttpServer());
    s->m_server = std::make_unique<httplib::Server>();
    auto serve = [](Handler h) {
        return [h](const httplib::Request&, httplib::Response& res) {
            Response r;
            try {
                r = h();
            } catch (const std::exception& e) {
                r = {500, std::string("internal error: ") + e.what() + "\n"};
            }
            res.status = r.status;
            res.set_content(r.body, r.content_type.c_str());
        };
    };
    s->m_server->Get("/metrics", serve(std::move(metrics)));
    s->m_server->Get("/healthz", serve(std::move(health)));
    s->m_server->set_tcp_nodelay(true);  // no 40 ms Nagle wait per reply (api/server.cpp)
    s->m_host = hp.first;
    if (hp.second == 0) {
        s->m_port = s->m_server->bind_to_any_port(hp.first.c_str());
    } else {
        s->m_port = s->m_server->bind_to_port(hp.first.c_str(), hp.second) ? hp.second : -1;
    }
    if (s->m_port <= 0)
        return io_error("cannot listen on " + listen +
                        " (address in use or not on this host): set [server] listen");
    httplib::Server* raw = s->m_server.get();
    s->m_thread = std::thread([raw] { raw->listen_after_bind(); });
    return s;
}

HttpServer::~HttpServer() {
    if (m_server) m_server->stop();
    if (m_thread.joinable()) m_thread.join();
}

}  // namespace coffer::server
