// End-to-end: `coffer serve` with @every schedules against a real repository. It makes backups,
// applies retention and prune, serves /metrics and /healthz that reflect them, posts a failing
// set's event to a webhook, stops cleanly on SIGTERM (aborting a running backup without leaving
// a snapshot), and `coffer status` reports the objectives.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

// Receives webhook POSTs on 127.0.0.1.
class WebhookReceiver {
public:
    WebhookReceiver() {
        m_server.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lock(m_mu);
            m_bodies.push_back(req.body);
            res.status = 204;
        });
        m_port = m_server.bind_to_any_port("127.0.0.1");
        m_thread = std::thread([this] { m_server.listen_after_bind(); });
    }
    ~WebhookReceiver() {
        m_server.stop();
        m_thread.join();
    }
    int port() const { return m_port; }
    std::vector<std::string> bodies() {
        std::lock_guard lock(m_mu);
        return m_bodies;
    }

private:
    httplib::Server m_server;
    std::thread m_thread;
    int m_port = 0;
    std::mutex m_mu;
    std::vector<std::string> m_bodies;
};

class ServeCli : public ::testing::Test {
protected:
    void SetUp() override {
        repo.init();
        make_dir(data);
        write_file(data + "/app.conf", "setting = 1\n");
        write_file(data + "/blob.bin", prng_bytes(200000, 3));
    }
    std::string head(const std::string& extra_server = "", const std::string& mirror = "") const {
        return "[repository]\nurl = " + toml(repo.repo) + "\nhost_key = " + toml(repo.host_key) +
               (mirror.empty() ? "" : "\nmirrors = [" + toml(mirror) + "]") +
               "\n\n[server]\nstate_dir = " + toml(tmp / "state") +
               "\nlisten = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:" + std::to_string(port) +
               "\"\nprune_grace = \"0s\"\n" + extra_server + "\n";
    }
    std::string app_set(const std::string& rpo) const {
        return "[[set]]\nname = \"app\"\nschedule = \"@every 2s\"\nrpo = \"" + rpo +
               "\"\nretention = { keep_last = 2 }\n[[set.source]]\nname = \"files\"\n"
               "type = \"files\"\npaths = [" +
               toml(data) + "]\n\n";
    }
    RunResult coffer(std::vector<std::string> args, RunOptions o = {}) const {
        return run_with_config(repo, cfg, std::move(args), std::move(o));
    }
    size_t snapshots_of(const std::string& set) const {
        RunResult r = repo.run({"snapshots", "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.describe();
        size_t n = 0;
        for (const auto& s : r.json()) n += s["set"] == set;
        return n;
    }

    TempDir tmp;
    Repo repo{tmp.path()};
    std::string data = tmp / "data";
    std::string cfg = tmp / "coffer.toml";
    int port = free_port();
};

TEST_F(ServeCli, BacksUpOnScheduleAppliesRetentionAndReportsThroughMetricsStatusAndWebhook) {
    WebhookReceiver hook;
    std::string mirror = tmp / "mirror";
    write_file(cfg,
               head("webhook_url = \"http://127.0.0.1:" + std::to_string(hook.port()) + "/hook\"",
                    mirror) +
                   app_set("1h") +
                   "[[set]]\nname = \"broken\"\nschedule = \"@every 3s\"\n"
                   "[[set.source]]\nname = \"dump\"\ntype = \"command\"\n"
                   "backup_command = \"echo the dump tool failed >&2; exit 1\"\n");
    RunResult serve;
    RunOptions o;
    o.term_after_ms = 9000;
    std::thread daemon([&] { serve = coffer({"serve"}, o); });

    // While it runs: /metrics shows the backups as they happen.
    httplib::Client client("127.0.0.1", port);
    std::string metrics;
    int health = 0;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(8);
    while (std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        if (auto h = client.Get("/healthz")) health = h->status;
        auto m = client.Get("/metrics");
        if (m && m->status == 200 && contains(m->body, "coffer_snapshots{set=\"app\"} 2")) {
            metrics = m->body;
            break;
        }
    }
    daemon.join();
    ASSERT_EQ(serve.exit_code, 0) << serve.describe();
    EXPECT_EQ(health, 200);
    ASSERT_FALSE(metrics.empty()) << "metrics never showed two snapshots of app\n"
                                  << serve.describe();
    for (const char* line :
         {"coffer_up 1", "coffer_rpo_violated{set=\"app\"} 0",
          "coffer_rpo_seconds{set=\"app\"} 3600", "coffer_last_run_success{set=\"app\"} 1",
          "coffer_last_success_timestamp_seconds{set=\"app\"}",
          "coffer_last_backup_bytes_read{set=\"app\"}", "coffer_repository_size_bytes"})
        EXPECT_TRUE(contains(metrics, line)) << line << "\n" << metrics;

    auto events = json_lines(serve.out);
    ASSERT_FALSE(events.empty()) << serve.describe();
    EXPECT_EQ(events.front()["event"], "started");
    EXPECT_EQ(events.back()["event"], "stopped");
    int app_backups = 0, forgets = 0, prunes = 0, mirrors = 0, broken_failures = 0;
    for (const auto& e : events) {
        if (e["event"] == "job_finished" && e["set"] == "app") {
            if (e["job"] == "backup" && e["outcome"] == "ok") app_backups++;
            if (e["job"] == "forget" && e["outcome"] == "ok") forgets++;
            if (e["job"] == "prune" && e["outcome"] == "ok") prunes++;
            if (e["job"] == "mirror" && e["outcome"] == "ok") mirrors++;
        }
        if (e["event"] == "job_failed" && e["set"] == "broken") {
            broken_failures++;
            EXPECT_TRUE(contains(e["error"].get<std::string>(), "dump")) << e.dump();
        }
    }
    EXPECT_GE(app_backups, 3) << serve.out;
    EXPECT_GE(forgets, 2) << serve.out;
    EXPECT_GE(prunes, 2) << serve.out;
    EXPECT_GE(mirrors, 2) << serve.out;
    EXPECT_GE(broken_failures, 1) << serve.out;
    // keep_last = 2 after every backup; SIGTERM may land between a backup and its forget.
    size_t app = snapshots_of("app");
    EXPECT_GE(app, 2u);
    EXPECT_LE(app, 3u);
    EXPECT_EQ(snapshots_of("broken"), 0u);

    bool posted = false;
    for (const auto& b : hook.bodies()) {
        auto j = nlohmann::json::parse(b, nullptr, false);
        posted |= j.is_object() && j["event"] == "job_failed" && j["set"] == "broken";
    }
    EXPECT_TRUE(posted) << "the webhook got no job_failed event for 'broken'";

    // The daemon's jobs ran as coffer commands, so each is in the audit log: the scheduled
    // backups of 'app', the failed one of 'broken'.
    RunResult audit = coffer({"audit", "show", "--json"});
    ASSERT_EQ(audit.exit_code, 0) << audit.describe();
    EXPECT_TRUE(contains(audit.out, "\"action\":\"backup\"")) << audit.out;
    EXPECT_TRUE(contains(audit.out, "\"outcome\":\"failed\"")) << audit.out;
    EXPECT_TRUE(contains(audit.out, "\"target\":\"set app\"")) << audit.out;

    RunResult status = coffer({"status", "--json"});
    EXPECT_EQ(status.exit_code, 0) << status.describe();
    nlohmann::json st = status.json();
    ASSERT_TRUE(st.is_object()) << status.describe();
    // The SIGTERM that stopped the daemon may have landed in a set's last run: that run is
    // then "aborted" with that reason (the events above show how the runs before it ended).
    auto stopped_by_term = [](const nlohmann::json& run) {
        return run["outcome"] == "aborted" && run["error"] == "stopped by SIGTERM";
    };
    for (const auto& s : st["sets"]) {
        if (s["set"] == "app") {
            EXPECT_EQ(s["status"], "OK") << s.dump();
            EXPECT_TRUE(s["last_run"]["outcome"] == "ok" || stopped_by_term(s["last_run"]))
                << s.dump();
            // The primary and the mirror the daemon kept up to date, each with its newest.
            ASSERT_EQ(s["locations"].size(), 2u) << s.dump();
            EXPECT_EQ(s["locations"][1]["role"], "mirror");
            EXPECT_EQ(s["locations"][1]["status"], "OK") << s.dump();
            EXPECT_NE(s["locations"][1]["newest_snapshot"], "-") << s.dump();
        }
        if (s["set"] == "broken") {
            EXPECT_TRUE(s["last_run"]["outcome"] == "failed" || stopped_by_term(s["last_run"]))
                << s.dump();
        }
    }
    RunResult v = repo.run({"verify"});
    EXPECT_EQ(v.exit_code, 0) << v.describe();

    // An RPO shorter than the age of the newest snapshot: status says LATE and exits 3.
    write_file(cfg, head() + app_set("1s"));
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    RunResult late = coffer({"status"});
    EXPECT_EQ(late.exit_code, 3) << late.describe();
    EXPECT_TRUE(contains(late.out, "set app: LATE")) << late.out;
}

// drill_schedule: the daemon drills each set on its own schedule, between its backups. The
// passing drill is a job like any other; the failing one alerts through the webhook, as a
// failed backup does. Both are in the audit log and in status.
TEST_F(ServeCli, DrillsOnScheduleAndAlertsOnAFailedOne) {
    WebhookReceiver hook;
    auto set = [&](const std::string& name, const std::string& check) {
        return "[[set]]\nname = " + toml(name) +
               "\nschedule = \"@every 2s\"\ndrill_schedule = \"@every 3s\"\n"
               "[[set.source]]\nname = \"files\"\ntype = \"files\"\npaths = [" +
               toml(data) + "]\n[[set.drill_check]]\nname = \"probe\"\ncommand = " + toml(check) +
               "\n\n";
    };
    write_file(
        cfg, "[repository]\nrecovery_key_file = " + toml(repo.recovery_key) + "\n" +
                 head("webhook_url = \"http://127.0.0.1:" + std::to_string(hook.port()) + "/hook\"")
                     .substr(std::string("[repository]\n").size()) +
                 set("app", "test -s \"$COFFER_DRILL_FILES_PATH" + data + "/app.conf\"") +
                 set("bad", "echo the probe failed >&2; exit 1"));
    auto o_tmp = [&] {
        RunOptions o;
        o.env["TMPDIR"] = tmp.path();
        return o;
    };
    RunOptions o = o_tmp();
    o.term_after_ms = 8000;
    RunResult serve = coffer({"serve"}, o);
    ASSERT_EQ(serve.exit_code, 0) << serve.describe();
    int app_drills = 0, bad_drills = 0;
    for (const auto& e : json_lines(serve.out)) {
        if (e.value("job", "") != "drill") continue;
        if (e["event"] == "job_finished" && e["set"] == "app" && e["outcome"] == "ok") app_drills++;
        // A drill due before the set's first backup fails for want of a snapshot; the later
        // ones fail on the check.
        if (e["event"] == "job_failed" && e["set"] == "bad" &&
            contains(e["error"].get<std::string>(), "check 'probe' failed"))
            bad_drills++;
    }
    EXPECT_GE(app_drills, 1) << serve.out;
    EXPECT_GE(bad_drills, 1) << serve.out;
    bool alerted = false;
    for (const auto& b : hook.bodies()) {
        auto j = nlohmann::json::parse(b, nullptr, false);
        alerted |= j.is_object() && j["set"] == "bad" && j.value("job", "") == "drill";
    }
    EXPECT_TRUE(alerted) << "the failed drill raised no webhook event";

    RunResult status = coffer({"status", "--json"});
    const nlohmann::json st = status.json();
    ASSERT_TRUE(st.is_object()) << status.describe();
    for (const auto& s : st["sets"]) {
        ASSERT_TRUE(s.contains("last_drill")) << s.dump();
        EXPECT_EQ(s["last_drill"]["ok"], s["set"] == "app") << s.dump();
    }
    EXPECT_EQ(status.exit_code, 3) << "the failed drill is a violated objective";
    // The daemon's state database has each drill, with the snapshot it restored.
    RunResult runs = run_process("/usr/bin/sqlite3",
                                 {tmp / "state/state.db",
                                  "SELECT count(*) FROM runs WHERE job = 'drill' AND set_name = "
                                  "'app' AND outcome = 'ok' AND length(snapshot) = 64"});
    ASSERT_EQ(runs.exit_code, 0) << runs.describe();
    EXPECT_GE(std::stoi(runs.out), 1) << runs.describe();
    // A drill the SIGTERM cut short may have left its scratch directory; the next drill
    // removes it, and leaves none of its own.
    RunResult manual = coffer({"drill", "--set", "app"}, o_tmp());
    EXPECT_EQ(manual.exit_code, 0) << manual.describe();
    for (const auto& e : std::filesystem::directory_iterator(tmp.path()))
        EXPECT_FALSE(e.path().filename().string().starts_with("coffer-drill-")) << e.path();
}

TEST_F(ServeCli, SigtermAbortsARunningBackupAndLeavesNoSnapshot) {
    write_file(cfg, head() +
                        "[[set]]\nname = \"slow\"\nschedule = \"@every 1s\"\n"
                        "[[set.source]]\nname = \"dump\"\ntype = \"command\"\n"
                        "backup_command = \"sleep 30; echo late\"\n");
    RunOptions o;
    o.term_after_ms = 2500;
    auto start = std::chrono::steady_clock::now();
    RunResult serve = coffer({"serve"}, o);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(serve.exit_code, 0) << serve.describe();
    EXPECT_LT(took, std::chrono::seconds(15)) << "it waited for the backup instead of aborting";
    bool aborted = false;
    for (const auto& e : json_lines(serve.out))
        aborted |= e["event"] == "job_finished" && e["outcome"] == "aborted";
    EXPECT_TRUE(aborted) << serve.out;
    EXPECT_EQ(snapshots_of("slow"), 0u);
    RunResult v = repo.run({"verify"});
    EXPECT_EQ(v.exit_code, 0) << v.describe();
}

TEST_F(ServeCli, ConfigWithoutSchedulesIsRefused) {
    write_file(cfg, head() +
                        "[[set]]\nname = \"app\"\n[[set.source]]\nname = \"f\"\n"
                        "type = \"files\"\npaths = [" +
                        toml(data) + "]\n");
    RunResult r = coffer({"serve"});
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_TRUE(r.one_line_error()) << r.describe();
    EXPECT_TRUE(contains(r.err, "has a schedule")) << r.describe();
}

}  // namespace
}  // namespace coffer::e2e
