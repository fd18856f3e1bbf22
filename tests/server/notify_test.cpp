// Alerts: the webhook POST (to a receiver on 127.0.0.1) and the on_failure command, each with
// the event's JSON; failures of either are reported, never thrown, and never name the URL.
#include "coffer/server/notify.h"

#include <httplib.h>

#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <thread>

#include "store/temp_dir.h"

namespace coffer::server {
namespace {

class Receiver {
public:
    explicit Receiver(int status) {
        m_server.Post("/hook", [this, status](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lock(m_mu);
            m_bodies.push_back(req.body);
            m_types.push_back(req.get_header_value("Content-Type"));
            res.status = status;
        });
        m_port = m_server.bind_to_any_port("127.0.0.1");
        m_thread = std::thread([this] { m_server.listen_after_bind(); });
    }
    ~Receiver() {
        m_server.stop();
        m_thread.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port) + "/hook"; }
    std::vector<std::string> bodies() {
        std::lock_guard lock(m_mu);
        return m_bodies;
    }
    std::vector<std::string> types() {
        std::lock_guard lock(m_mu);
        return m_types;
    }

private:
    httplib::Server m_server;
    std::thread m_thread;
    int m_port = 0;
    std::mutex m_mu;
    std::vector<std::string> m_bodies, m_types;
};

const nlohmann::json k_event = {{"event", "job_failed"}, {"set", "app"}, {"error", "disk full"}};

TEST(Notifier, PostsTheEventAsJson) {
    Receiver r(204);
    Notifier n(r.url(), "");
    ASSERT_TRUE(n.enabled());
    Status st = n.notify(k_event);
    ASSERT_TRUE(st.ok()) << st.to_string();
    ASSERT_EQ(r.bodies().size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(r.bodies()[0]), k_event);
    EXPECT_EQ(r.types()[0], "application/json");
}

TEST(Notifier, ARefusingReceiverIsAnErrorWithoutTheUrl) {
    Receiver r(500);
    Notifier n(r.url() + "?token=s3cret", "");
    Status st = n.notify(k_event);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("500"), std::string::npos) << st.message();
    EXPECT_EQ(st.message().find("s3cret"), std::string::npos) << st.message();
}

TEST(Notifier, AnUnreachableReceiverFailsQuickly) {
    Notifier n("http://127.0.0.1:1/hook", "");
    EXPECT_FALSE(n.notify(k_event).ok());
}

TEST(Notifier, RunsTheCommandWithTheEventInItsEnvironment) {
    store::testing::TempDir dir;
    std::string out = dir.path() + "/event.json";
    Notifier n(
        "", "printf '%s|%s|%s' \"$COFFER_EVENT_TYPE\" \"$COFFER_SET\" \"$COFFER_EVENT\" > '" + out +
                "'");
    Status st = n.notify(k_event);
    ASSERT_TRUE(st.ok()) << st.to_string();
    std::ifstream f(out);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "job_failed|app|" + k_event.dump());
    Notifier failing("", "exit 4");
    EXPECT_FALSE(failing.notify(k_event).ok());
}

TEST(Notifier, NothingConfiguredIsDisabled) {
    EXPECT_FALSE(Notifier("", "").enabled());
}

}  // namespace
}  // namespace coffer::server
