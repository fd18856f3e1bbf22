// TLS: the S3 client verifies the server's certificate, and ca_file makes a private CA
// trusted. The server is `openssl s_server -www` on 127.0.0.1 with a self-signed certificate
// made for the test: not an S3 server, but it answers a GET with 200 once TLS is established,
// which is all this needs to tell a verified connection from a refused one.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "coffer/s3/client.h"
#include "store/temp_dir.h"

extern char** environ;

namespace coffer::s3 {
namespace {

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    ::close(fd);
    return port;
}

bool accepts(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

pid_t spawn(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    if (posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

int run(std::vector<std::string> args) {
    pid_t pid = spawn(std::move(args));
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class S3Tls : public ::testing::Test {
protected:
    void SetUp() override {
        cert = dir.path() + "/cert.pem";
        key = dir.path() + "/key.pem";
        ASSERT_EQ(run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                       "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                       "subjectAltName=IP:127.0.0.1"}),
                  0);
        port = free_port();
        ASSERT_GT(port, 0);
        server = spawn({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                        "-cert", cert, "-key", key, "-www", "-quiet"});
        ASSERT_GT(server, 0);
        for (int i = 0; i < 100 && !accepts(port); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ASSERT_TRUE(accepts(port)) << "openssl s_server did not start";
    }
    void TearDown() override {
        if (server > 0) {
            kill(server, SIGTERM);
            waitpid(server, nullptr, 0);
        }
    }
    Options options(const std::string& ca_file) const {
        Options o;
        o.endpoint = "https://127.0.0.1:" + std::to_string(port);
        o.access_key_id = "AKID";
        o.secret_access_key = "SECRET";
        o.ca_file = ca_file;
        o.max_attempts = 1;
        return o;
    }

    store::testing::TempDir dir;
    std::string cert, key;
    int port = 0;
    pid_t server = -1;
};

TEST_F(S3Tls, AnUntrustedCertificateIsRefusedAndCaFileTrustsIt) {
    auto untrusted = Client::create(options(""));
    ASSERT_TRUE(untrusted.ok()) << untrusted.status().to_string();
    auto refused = (*untrusted)->get("bucket", "key");
    ASSERT_FALSE(refused.ok()) << "a self-signed certificate was accepted";
    EXPECT_NE(refused.status().message().find("certificate"), std::string::npos)
        << refused.status().to_string();

    auto trusted = Client::create(options(cert));
    ASSERT_TRUE(trusted.ok()) << trusted.status().to_string();
    auto got = (*trusted)->get("bucket", "key");
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_FALSE(got->data.empty());

    auto missing = Client::create(options(dir.path() + "/no-such-ca.pem"));
    if (missing.ok()) {
        auto r = (*missing)->get("bucket", "key");
        EXPECT_FALSE(r.ok()) << "a missing ca_file must not fall back to trusting the server";
    }
}

}  // namespace
}  // namespace coffer::s3
