// FaultProxy: a loopback HTTP proxy in front of the test S3 server that breaks chosen requests,
// to test what the S3 client and the repository do when the network or the server misbehaves.
//
// It listens on 127.0.0.1 at a free port and forwards each HTTP/1.1 request (Content-Length
// bodies, as the S3 client sends) to the upstream server on a connection of its own. A rule
// matches requests by method and a substring of the request target; the first matching rule
// whose turn it is acts instead of plain forwarding:
//   status         answer with an S3 error (e.g. 503 SlowDown, 500 InternalError) unforwarded
//   reset_before   read the request, then reset the connection without forwarding it
//   reset_after    forward the request (the server acts on it), then reset the connection
//                  instead of answering: the client cannot know whether its write happened
//   truncate       forward, then send the response head and half of its body, and close
//   delay          wait delay_ms, then forward normally
// Thread-safe; every rule counts the requests it matched.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace coffer::s3::testing {

struct ProxyRule {
    enum class Action { status, reset_before, reset_after, truncate, delay };
    Action action = Action::status;
    std::string method;           // "GET", "PUT", ...; empty matches any
    std::string target_contains;  // substring of the request target ("/bucket/key?query")
    uint64_t skip = 0;            // let this many matching requests through first
    int64_t times = 1;            // then act on this many (-1: every one)
    uint64_t every = 0;           // when > 0: act on every Nth match instead (skip/times unused)
    int status = 503;
    std::string code = "SlowDown";
    int delay_ms = 0;
};

class FaultProxy {
public:
    // Forwards to upstream "http://127.0.0.1:PORT". Check ok() before use.
    explicit FaultProxy(const std::string& upstream);
    ~FaultProxy();
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    bool ok() const { return m_listen_fd >= 0; }
    std::string endpoint() const;  // "http://127.0.0.1:<port>"
    void add_rule(ProxyRule rule);
    void clear_rules();
    uint64_t faults_injected() const { return m_faults.load(); }
    uint64_t requests_seen() const { return m_requests.load(); }
    // The head (request line and headers) of every request so far, oldest first, to check
    // what the client sent (e.g. Object Lock headers, which the test server ignores).
    std::vector<std::string> request_heads();

private:
    struct Armed {
        ProxyRule rule;
        uint64_t matched = 0;
    };
    void accept_loop();
    void serve(int client_fd);
    // The action for this request, if a rule fires. Takes m_mu.
    bool fire(const std::string& method, const std::string& target, ProxyRule& out);

    std::string m_upstream_host = "127.0.0.1";
    int m_upstream_port = 0;
    int m_listen_fd = -1;
    int m_port = 0;
    std::atomic<bool> m_stop{false};
    std::thread m_acceptor;
    std::mutex m_mu;
    std::vector<Armed> m_rules;
    std::vector<std::thread> m_workers;
    std::vector<int> m_open_fds;
    std::atomic<uint64_t> m_faults{0};
    std::atomic<uint64_t> m_requests{0};
    std::vector<std::string> m_heads;  // guarded by m_mu
};

}  // namespace coffer::s3::testing
