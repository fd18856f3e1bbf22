#include "s3/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

namespace coffer::s3::testing {

namespace {

bool send_all(int fd, const char* p, size_t n) {
    while (n > 0) {
        ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

bool send_all(int fd, const std::string& s) {
    return send_all(fd, s.data(), s.size());
}

// Reads into buf until it holds "\r\n\r\n"; returns the head's length (through the blank line)
// or nullopt when the peer closes first.
std::optional<size_t> read_head(int fd, std::string& buf) {
    while (true) {
        size_t end = buf.find("\r\n\r\n");
        if (end != std::string::npos) return end + 4;
        char tmp[65536];
        ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return std::nullopt;
        buf.append(tmp, static_cast<size_t>(n));
    }
}

// Makes buf hold at least want bytes; false when the peer closes first.
bool read_to(int fd, std::string& buf, size_t want) {
    while (buf.size() < want) {
        char tmp[65536];
        ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        buf.append(tmp, static_cast<size_t>(n));
    }
    return true;
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The value of a header in an HTTP head, "" when absent.
std::string header_value(const std::string& head, const std::string& name) {
    std::string lhead = lower(head);
    std::string key = "\r\n" + lower(name) + ":";
    size_t p = lhead.find(key);
    if (p == std::string::npos) return "";
    p += key.size();
    size_t e = head.find("\r\n", p);
    std::string v = head.substr(p, e - p);
    v.erase(0, v.find_first_not_of(" \t"));
    return v;
}

void reset(int fd) {
    linger l{1, 0};  // close with RST, as a crashed peer or a middlebox would
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
}

int connect_to(const std::string& host, int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

}  // namespace

FaultProxy::FaultProxy(const std::string& upstream) {
    // "http://127.0.0.1:PORT"
    size_t colon = upstream.rfind(':');
    if (!upstream.starts_with("http://127.0.0.1:") || colon == std::string::npos) return;
    m_upstream_port = std::atoi(upstream.c_str() + colon + 1);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = 0;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(fd);
        return;
    }
    m_port = ntohs(a.sin_port);
    m_listen_fd = fd;
    m_acceptor = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
    m_stop = true;
    if (m_acceptor.joinable()) m_acceptor.join();
    {
        std::lock_guard lock(m_mu);
        for (int fd : m_open_fds) ::shutdown(fd, SHUT_RDWR);  // wakes workers blocked in recv
    }
    for (auto& t : m_workers)
        if (t.joinable()) t.join();
    if (m_listen_fd >= 0) ::close(m_listen_fd);
}

std::string FaultProxy::endpoint() const {
    return "http://127.0.0.1:" + std::to_string(m_port);
}

void FaultProxy::add_rule(ProxyRule rule) {
    std::lock_guard lock(m_mu);
    m_rules.push_back({std::move(rule), 0});
}

void FaultProxy::clear_rules() {
    std::lock_guard lock(m_mu);
    m_rules.clear();
}

bool FaultProxy::fire(const std::string& method, const std::string& target, ProxyRule& out) {
    std::lock_guard lock(m_mu);
    for (auto& armed : m_rules) {
        const ProxyRule& r = armed.rule;
        if (!r.method.empty() && r.method != method) continue;
        if (target.find(r.target_contains) == std::string::npos) continue;
        uint64_t n = ++armed.matched;
        bool acts = r.every > 0 ? n % r.every == 0
                                : n > r.skip && (r.times < 0 || n <= r.skip + uint64_t(r.times));
        if (!acts) continue;
        out = r;
        return true;
    }
    return false;
}

void FaultProxy::accept_loop() {
    while (!m_stop.load()) {
        pollfd p{m_listen_fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::lock_guard lock(m_mu);
        m_open_fds.push_back(fd);
        m_workers.emplace_back([this, fd] { serve(fd); });
    }
}

void FaultProxy::serve(int client) {
    int upstream = -1;
    std::string in;  // bytes from the client not yet handled
    auto finish = [&](bool rst) {
        {
            std::lock_guard lock(m_mu);
            m_open_fds.erase(std::remove(m_open_fds.begin(), m_open_fds.end(), client),
                             m_open_fds.end());
        }
        if (rst)
            reset(client);
        else
            ::close(client);
        if (upstream >= 0) ::close(upstream);
    };
    while (!m_stop.load()) {
        auto head_len = read_head(client, in);
        if (!head_len) return finish(false);
        std::string head = in.substr(0, *head_len);
        size_t body_len =
            static_cast<size_t>(std::atoll(header_value(head, "content-length").c_str()));
        if (!read_to(client, in, *head_len + body_len)) return finish(false);
        std::string request = in.substr(0, *head_len + body_len);
        in.erase(0, *head_len + body_len);
        ++m_requests;
        {
            std::lock_guard lock(m_mu);
            if (m_heads.size() < 100000) m_heads.push_back(head);
        }

        size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
        std::string method = head.substr(0, sp1);
        std::string target = head.substr(sp1 + 1, sp2 - sp1 - 1);
        ProxyRule rule;
        bool fault = fire(method, target, rule);
        if (fault) ++m_faults;
        using A = ProxyRule::Action;
        if (fault && rule.action == A::status) {
            std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" +
                               rule.code + "</Code><Message>injected by the test proxy</Message>" +
                               "</Error>";
            std::string resp = "HTTP/1.1 " + std::to_string(rule.status) +
                               " Injected\r\nContent-Type: application/xml\r\nContent-Length: " +
                               std::to_string(method == "HEAD" ? 0 : body.size()) + "\r\n\r\n" +
                               (method == "HEAD" ? "" : body);
            if (!send_all(client, resp)) return finish(false);
            continue;
        }
        if (fault && rule.action == A::reset_before) return finish(true);
        if (fault && rule.action == A::delay)
            std::this_thread::sleep_for(std::chrono::milliseconds(rule.delay_ms));

        std::string out;
        std::optional<size_t> resp_head_len;
        // A kept-alive upstream connection the server has since closed fails at once; that
        // is no fault of the request's, so reconnect once before giving up.
        for (int tries = 0; tries < 2 && !resp_head_len; ++tries) {
            if (upstream < 0) upstream = connect_to(m_upstream_host, m_upstream_port);
            if (upstream < 0) return finish(true);
            out.clear();
            if (send_all(upstream, request)) resp_head_len = read_head(upstream, out);
            if (!resp_head_len) {
                ::close(upstream);
                upstream = -1;
                if (!out.empty()) break;
            }
        }
        if (!resp_head_len) return finish(true);
        std::string resp_head = out.substr(0, *resp_head_len);
        int status = std::atoi(resp_head.c_str() + resp_head.find(' ') + 1);
        bool has_body = method != "HEAD" && status != 204 && status != 304 && status >= 200;
        std::string cl = header_value(resp_head, "content-length");
        bool chunked = lower(header_value(resp_head, "transfer-encoding")) == "chunked";
        if (has_body && !cl.empty()) {
            if (!read_to(upstream, out, *resp_head_len + std::stoull(cl))) return finish(true);
        } else if (has_body && chunked) {
            while (out.find("\r\n0\r\n\r\n", *resp_head_len - 2) == std::string::npos)
                if (!read_to(upstream, out, out.size() + 1)) return finish(true);
        }
        if (fault && rule.action == A::reset_after) return finish(true);
        if (fault && rule.action == A::truncate) {
            size_t body = out.size() - *resp_head_len;
            send_all(client, out.data(), *resp_head_len + body / 2);
            return finish(false);
        }
        if (!send_all(client, out)) return finish(false);
        if (lower(header_value(resp_head, "connection")) == "close") return finish(false);
    }
    finish(false);
}

std::vector<std::string> FaultProxy::request_heads() {
    std::lock_guard lock(m_mu);
    return m_heads;
}

}  // namespace coffer::s3::testing
