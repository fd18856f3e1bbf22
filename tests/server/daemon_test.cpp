// The scheduler loop with a fake clock and fake jobs, over a real StateDb: job order, catch-up
// after downtime, no overlapping jobs, failures and RPO alerts, stopping, DST through a real
// time zone, and the metrics it feeds.
#include "coffer/server/daemon.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "coffer/server/metrics.h"
#include "store/temp_dir.h"

namespace coffer::server {
namespace {

constexpr int64_t k_s = 1'000'000'000;
// 2026-11-23T16:46:00Z
constexpr int64_t k_t0 = 1795452360LL * k_s;

std::string iso(int64_t ns) {
    time_t s = static_cast<time_t>(ns / k_s);
    struct tm tm {};
    gmtime_r(&s, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

SetPlan plan(const std::string& name, const std::string& expr, const std::string& tz = "UTC") {
    auto s = schedule::Schedule::parse(expr, tz);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return SetPlan{name, *s, std::nullopt, std::nullopt, false};
}

// A fake world: the clock jumps to whatever the daemon sleeps until; jobs take `job_s` seconds
// of fake time and succeed unless told otherwise; stop after `stop_after` backups.
struct World {
    store::testing::TempDir dir;
    std::unique_ptr<StateDb> db;
    int64_t now = k_t0;
    int64_t job_s = 5;
    int ticks_per_job = 0;
    bool abort_on_stop = false;  // the job that stop() interrupts ends "aborted"  // fake seconds a
                                 // job spends calling tick() before it finishes
    int stop_after = 3;
    int backups = 0;
    bool in_job = false;
    std::string fail_set;
    std::string fail_job = "backup";               // which job of fail_set fails
    std::vector<std::string> jobs;                 // "set:job@time"
    std::vector<std::vector<std::string>> inputs;  // each job's JobInput::args
    std::vector<std::string> secrets;              // and its secret
    std::vector<nlohmann::json> events;
    Facts facts;
    Daemon* daemon = nullptr;

    World() {
        auto d = StateDb::open(dir.path() + "/state");
        EXPECT_TRUE(d.ok()) << d.status().to_string();
        db = std::move(*d);
    }

    DaemonHooks hooks() {
        DaemonHooks h;
        h.now = [this] { return now; };
        h.sleep_until = [this](int64_t t) {
            if (daemon->stopping()) return false;
            now = std::max(now, t);
            return true;
        };
        h.run_job = [this](const std::string& set, const std::string& job, const JobInput& input,
                           const std::function<void()>& tick) {
            inputs.push_back(input.args);
            secrets.emplace_back(as_chars(input.secret.view()));
            for (int i = 0; i < ticks_per_job; ++i) {
                now += k_s;
                tick();
            }
            EXPECT_FALSE(in_job) << "jobs overlap";
            in_job = true;
            jobs.push_back(set + ":" + job + "@" + iso(now));
            now += job_s * k_s;
            JobResult r;
            r.outcome = set == fail_set && job == fail_job ? "failed" : "ok";
            if (r.outcome == "failed") r.error = "source 'db' failed";
            if (job == "backup" && r.outcome == "ok") {
                r.bytes_read = 1000;
                r.bytes_added = 100;
                r.snapshot = "abcd";
                facts.sets[set].newest_ns = now;
                facts.sets[set].snapshots++;
            }
            if (job == "backup" && ++backups >= stop_after) {
                daemon->stop();
                if (abort_on_stop) r = {"aborted", "stopped by SIGTERM"};
            }
            in_job = false;
            return r;
        };
        h.facts = [this]() -> Result<Facts> { return facts; };
        h.on_event = [this](const nlohmann::json& e) { events.push_back(e); };
        return h;
    }

    size_t count(const std::string& event) const {
        size_t n = 0;
        for (const auto& e : events) n += e.value("event", "") == event;
        return n;
    }
};

TEST(Daemon, RunsBackupThenRetentionThenPruneOnEachTick) {
    World w;
    SetPlan p = plan("app", "@every 30s");
    p.retention = true;
    Daemon d({p}, *w.db, {}, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    // k_t0 is a multiple of 30 s: the first tick is 30 s later, then every 30 s.
    std::vector<std::string> expected = {
        "app:backup@2026-11-23T16:46:30Z", "app:forget@2026-11-23T16:46:35Z",
        "app:prune@2026-11-23T16:46:40Z",  "app:backup@2026-11-23T16:47:00Z",
        "app:forget@2026-11-23T16:47:05Z", "app:prune@2026-11-23T16:47:10Z",
        "app:backup@2026-11-23T16:47:30Z"};
    EXPECT_EQ(w.jobs, expected);
    auto runs = w.db->recent_runs(100);
    ASSERT_TRUE(runs.ok());
    EXPECT_EQ(runs->size(), expected.size());
    for (const auto& r : *runs) EXPECT_EQ(r.outcome, "ok") << r.job;
    EXPECT_EQ(w.count("stopped"), 1u);
}

// A requested backup (the API's "backup now") runs before the next scheduled one, with its
// retention after it, never overlapping another job; a requested drill runs too; unknown sets
// and jobs are refused; the request records its outcome and snapshot.
TEST(Daemon, RequestedRunsStartAtOnceAndRecordTheirOutcome) {
    World w;
    w.stop_after = 2;
    SetPlan p = plan("app", "@hourly");
    p.retention = true;
    Daemon d({p}, *w.db, {}, w.hooks());
    w.daemon = &d;
    auto backup = d.request("app", "backup", "alice");
    ASSERT_TRUE(backup.ok()) << backup.status().to_string();
    auto drill = d.request("app", "drill", "alice");
    ASSERT_TRUE(drill.ok());
    EXPECT_EQ(d.request("nope", "backup", "alice").status().code(), Code::not_found);
    EXPECT_EQ(d.request("app", "prune", "alice").status().code(), Code::invalid_argument);
    EXPECT_EQ(d.request_state(*backup)->state, "queued");
    EXPECT_TRUE(d.has_requests());
    ASSERT_TRUE(d.run().ok());
    // Both requests at once (k_t0), then the hourly backup at 17:00, which stops the world.
    std::vector<std::string> expected = {
        "app:backup@2026-11-23T16:46:00Z", "app:forget@2026-11-23T16:46:05Z",
        "app:prune@2026-11-23T16:46:10Z", "app:drill@2026-11-23T16:46:15Z",
        "app:backup@2026-11-23T17:00:00Z"};
    EXPECT_EQ(w.jobs, expected);
    auto done = d.request_state(*backup);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->state, "done");
    EXPECT_EQ(done->result.outcome, "ok");
    EXPECT_EQ(done->result.snapshot, "abcd");
    EXPECT_EQ(done->by, "alice");
    EXPECT_GT(done->finished_ns, done->started_ns);
    EXPECT_EQ(d.request_state(*drill)->state, "done");
    EXPECT_FALSE(d.has_requests());
    EXPECT_FALSE(d.request_state(999));
    EXPECT_EQ(w.count("requested"), 2u);
}

// A restore is a request of its own: its arguments reach the job, its secret does not stay in
// the request, and a second one for the same set is refused while the first waits.
TEST(Daemon, ARequestedRestoreGetsItsInputAndIsNeverMergedWithAnother) {
    World w;
    w.stop_after = 1;
    Daemon d({plan("app", "@hourly")}, *w.db, {}, w.hooks());
    w.daemon = &d;
    JobInput in;
    in.args = {"--confirm=app", "--recovery-key-file=-"};
    in.secret = SecretBytes(as_bytes("crk1-secret\n"));
    auto restore = d.request("app", "restore", "alice", std::move(in));
    ASSERT_TRUE(restore.ok()) << restore.status().to_string();
    EXPECT_EQ(d.request("app", "restore", "bob").status().code(), Code::already_exists);
    auto queued = d.request_state(*restore);
    ASSERT_TRUE(queued);
    EXPECT_EQ(queued->args, (std::vector<std::string>{"--confirm=app", "--recovery-key-file=-"}));
    ASSERT_TRUE(d.run().ok());
    ASSERT_FALSE(w.jobs.empty());
    EXPECT_EQ(w.jobs.front(), "app:restore@2026-11-23T16:46:00Z");
    EXPECT_EQ(w.inputs.front(), queued->args);
    EXPECT_EQ(w.secrets.front(), "crk1-secret\n");
    auto done = d.request_state(*restore);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->state, "done");
    // Once it ended, another restore may be asked for.
    EXPECT_TRUE(d.request("app", "restore", "bob").ok());
}

// A paused set's scheduled backups are skipped (and said so) while the others run; a schedule
// set through the API replaces the config's, and both are read back by the next daemon.
TEST(Daemon, APausedSetIsSkippedAndAChangedScheduleRunsAndOutlivesTheDaemon) {
    World w;
    SetPlan other = plan("other", "@hourly");
    Daemon d({plan("app", "@hourly"), other}, *w.db, {}, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.set_paused("app", true, "alice").ok());
    auto every20 = schedule::Schedule::parse("@every 20m");
    ASSERT_TRUE(every20.ok());
    ASSERT_TRUE(d.set_schedule("other", *every20, "bob").ok());
    EXPECT_EQ(d.set_paused("nope", true, "alice").code(), Code::not_found);
    EXPECT_EQ(d.plan("other")->schedule.expression(), "@every 20m");
    ASSERT_TRUE(d.run().ok());
    std::vector<std::string> expected = {"other:backup@2026-11-23T17:00:00Z",
                                         "other:backup@2026-11-23T17:20:00Z",
                                         "other:backup@2026-11-23T17:40:00Z"};
    EXPECT_EQ(w.jobs, expected);
    ASSERT_GE(w.count("skipped"), 1u);
    for (const auto& e : w.events)
        if (e["event"] == "skipped") {
            EXPECT_EQ(e["set"], "app");
        }
    EXPECT_EQ(w.count("schedule_changed"), 1u);
    EXPECT_EQ(w.count("paused"), 1u);

    // The next daemon, from the same state: still paused, still every 20 minutes; resumed and
    // back to the config's schedule, app runs again on the hour.
    w.jobs.clear();
    w.backups = 0;
    w.stop_after = 2;
    Daemon again({plan("app", "@hourly"), other}, *w.db, {}, w.hooks());
    w.daemon = &again;
    EXPECT_TRUE(again.override_of("app").paused);
    EXPECT_EQ(again.override_of("other").schedule, "@every 20m");
    EXPECT_EQ(again.override_of("other").changed_by, "bob");
    ASSERT_TRUE(again.set_paused("app", false, "alice").ok());
    ASSERT_TRUE(again.set_schedule("other", std::nullopt, "bob").ok());
    EXPECT_EQ(again.override_of("other").schedule, "");
    ASSERT_TRUE(again.run().ok());
    ASSERT_EQ(w.jobs.size(), 2u);
    EXPECT_EQ(w.jobs[0].substr(0, 11), "app:backup@") << w.jobs[0];
    EXPECT_EQ(w.jobs[1].substr(0, 13), "other:backup@") << w.jobs[1];
    EXPECT_EQ(w.jobs[0].substr(w.jobs[0].size() - 6), "00:00Z") << "not on the hour";
}

// A drill schedule runs `drill` jobs between backups, never at the same time, a drill due with a
// backup first; a failed drill alerts as a failed backup does, and its due time survives too.
TEST(Daemon, DrillsRunOnTheirOwnScheduleBetweenBackupsAndAlertOnFailure) {
    World w;
    SetPlan p = plan("app", "@every 30s");
    auto drill = schedule::Schedule::parse("@every 1m", "UTC");
    ASSERT_TRUE(drill.ok());
    p.drill = *drill;
    w.fail_set = "app";
    w.fail_job = "drill";
    Daemon d({p}, *w.db, {}, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    std::vector<std::string> expected = {
        "app:backup@2026-11-23T16:46:30Z", "app:drill@2026-11-23T16:47:00Z",
        "app:backup@2026-11-23T16:47:05Z", "app:backup@2026-11-23T16:47:30Z"};
    EXPECT_EQ(w.jobs, expected);
    bool alerted = false;
    for (const auto& e : w.events)
        alerted = alerted || (e.value("event", "") == "job_failed" &&
                              e.value("job", "") == "drill" && e.value("alert", false));
    EXPECT_TRUE(alerted) << "a failed drill alerts";
    auto due = w.db->next_due("app#drill");
    ASSERT_TRUE(due.ok());
    ASSERT_TRUE(due->has_value());
    EXPECT_EQ(iso(**due), "2026-11-23T16:48:00Z");
}

TEST(Daemon, NoPruneWhenDisabledAndMirrorWhenConfigured) {
    World w;
    w.stop_after = 1;
    SetPlan p = plan("app", "@every 1m");
    p.retention = true;
    DaemonOptions o;
    o.prune = false;
    o.mirror = true;
    Daemon d({p}, *w.db, o, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    ASSERT_EQ(w.jobs.size(), 1u) << "stopping after the backup ends the run there";
    World w2;
    w2.stop_after = 2;
    Daemon d2({p}, *w2.db, o, w2.hooks());
    w2.daemon = &d2;
    ASSERT_TRUE(d2.run().ok());
    std::vector<std::string> kinds;
    for (const auto& j : w2.jobs) kinds.push_back(j.substr(0, j.find('@')));
    EXPECT_EQ(kinds,
              (std::vector<std::string>{"app:backup", "app:forget", "app:mirror", "app:backup"}));
}

TEST(Daemon, AJobMissedDuringDowntimeRunsOnceAtStartUp) {
    World w;
    w.stop_after = 2;
    // The daemon was down for three hours over an hourly schedule.
    ASSERT_TRUE(w.db->set_next_due("app", k_t0 - 3 * 3600 * k_s).ok());
    Daemon d({plan("app", "@hourly")}, *w.db, {}, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    ASSERT_EQ(w.jobs.size(), 2u);
    EXPECT_EQ(w.jobs[0], "app:backup@2026-11-23T16:46:00Z") << "at once, and only once";
    EXPECT_EQ(w.jobs[1], "app:backup@2026-11-23T17:00:00Z") << "then back on schedule";
    EXPECT_EQ(w.count("missed"), 1u);
}

TEST(Daemon, WithoutCatchUpAMissedJobWaitsForItsNextTime) {
    World w;
    w.stop_after = 1;
    ASSERT_TRUE(w.db->set_next_due("app", k_t0 - 3 * 3600 * k_s).ok());
    DaemonOptions o;
    o.catch_up = false;
    Daemon d({plan("app", "@hourly")}, *w.db, o, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    ASSERT_EQ(w.jobs.size(), 1u);
    EXPECT_EQ(w.jobs[0], "app:backup@2026-11-23T17:00:00Z");
}

TEST(Daemon, TheNextDueTimeSurvivesARestart) {
    World w;
    w.stop_after = 1;
    {
        Daemon d({plan("app", "@every 10m")}, *w.db, {}, w.hooks());
        w.daemon = &d;
        ASSERT_TRUE(d.run().ok());
    }
    auto due = w.db->next_due("app");
    ASSERT_TRUE(due.ok() && *due);
    EXPECT_EQ(iso(**due), "2026-11-23T17:00:00Z");
}

TEST(Daemon, TwoSetsTakeTurnsAndNeverOverlap) {
    World w;
    w.stop_after = 4;
    w.job_s = 40;  // longer than the schedule's gap: the other set waits for its turn
    Daemon d({plan("a", "@every 30s"), plan("b", "@every 30s")}, *w.db, {}, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    ASSERT_EQ(w.jobs.size(), 4u);
    EXPECT_EQ(w.jobs[0].substr(0, 2), "a:");
    EXPECT_EQ(w.jobs[1].substr(0, 2), "b:");
    EXPECT_EQ(w.jobs[2].substr(0, 2), "a:");
    EXPECT_EQ(w.jobs[3].substr(0, 2), "b:");
}

TEST(Daemon, AFailedBackupAlertsAndSkipsRetention) {
    World w;
    w.stop_after = 1;
    w.fail_set = "app";
    SetPlan p = plan("app", "@every 30s");
    p.retention = true;
    Daemon d({p}, *w.db, {}, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    EXPECT_EQ(w.jobs.size(), 1u) << "no forget or prune after a failed backup";
    ASSERT_EQ(w.count("job_failed"), 1u);
    for (const auto& e : w.events)
        if (e["event"] == "job_failed") {
            EXPECT_EQ(e["set"], "app");
            EXPECT_EQ(e["error"], "source 'db' failed");
            EXPECT_TRUE(e["alert"].get<bool>());
        }
    auto f = w.db->failures("app", "backup");
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(*f, 1u);
}

TEST(Daemon, AnRpoViolationAlertsOnceAndItsRecoveryIsReported) {
    World w;
    w.stop_after = 2;  // the check after the 17:00 backup runs before the 18:00 one
    SetPlan p = plan("app", "@hourly");
    p.rpo_ns = 3600 * k_s;
    w.facts.sets["app"].newest_ns = k_t0 - 2 * 3600 * k_s;  // two hours old
    DaemonOptions o;
    o.check_interval_ns = 60 * k_s;
    Daemon d({p}, *w.db, o, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    EXPECT_EQ(w.count("rpo_violated"), 1u) << "checked every minute, alerted once";
    EXPECT_EQ(w.count("rpo_ok"), 1u) << "the backup at 17:00 brought it back";
}

TEST(Daemon, RpoIsCheckedWhileALongJobRuns) {
    World w;
    w.stop_after = 1;
    w.ticks_per_job = 7200;  // a backup that takes two hours
    SetPlan p = plan("app", "@every 30s");
    p.rpo_ns = 3600 * k_s;
    w.facts.sets["app"].newest_ns = k_t0;
    DaemonOptions o;
    o.check_interval_ns = 60 * k_s;
    Daemon d({p}, *w.db, o, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    EXPECT_EQ(w.count("rpo_violated"), 1u) << "the hour passed during the backup";
}

TEST(Daemon, AStopDuringAJobKeepsItsDueTimeForTheNextStart) {
    World w;
    w.stop_after = 1;
    w.abort_on_stop = true;
    Daemon d({plan("app", "@hourly")}, *w.db, {}, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    auto due = w.db->next_due("app");
    ASSERT_TRUE(due.ok() && *due);
    EXPECT_EQ(iso(**due), "2026-11-23T17:00:00Z") << "the stopped 17:00 run is due again";
}

TEST(Daemon, AChangedScheduleWinsOverAStoredLaterDueTime) {
    World w;
    w.stop_after = 1;
    ASSERT_TRUE(w.db->set_next_due("app", k_t0 + 7 * 24 * 3600 * k_s).ok());  // from @weekly
    Daemon d({plan("app", "@hourly")}, *w.db, {}, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    ASSERT_EQ(w.jobs.size(), 1u);
    EXPECT_EQ(w.jobs[0], "app:backup@2026-11-23T17:00:00Z");
}

TEST(Daemon, RunsLeftRunningByACrashAreClosedAsInterrupted) {
    World w;
    w.stop_after = 1;
    ASSERT_TRUE(w.db->begin_run("app", "backup", k_t0 - k_s, k_t0 - k_s).ok());
    Daemon d({plan("app", "@every 30s")}, *w.db, {}, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    EXPECT_EQ(w.count("runs_interrupted"), 1u);
    auto runs = w.db->recent_runs(10);
    ASSERT_TRUE(runs.ok());
    ASSERT_EQ(runs->size(), 2u);
    EXPECT_EQ(runs->back().outcome, "interrupted");
}

// A daily job at 02:30 in Berlin: on 2026-03-29 that time does not exist (clocks jump from
// 02:00 to 03:00), so it runs at 03:00 local; on 2026-10-25 it exists twice and runs once.
TEST(Daemon, DaylightSavingChangesThroughARealTimeZone) {
    World w;
    w.now = 1774576800LL * k_s;  // 2026-03-27T02:00:00Z
    w.stop_after = 3;
    Daemon d({plan("app", "30 2 * * *", "Europe/Berlin")}, *w.db, {}, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    EXPECT_EQ(w.jobs, (std::vector<std::string>{"app:backup@2026-03-28T01:30:00Z",
                                                "app:backup@2026-03-29T01:00:00Z",
                                                "app:backup@2026-03-30T00:30:00Z"}));
    World fall;
    fall.now = 1792882800LL * k_s;  // 2026-10-24T23:00:00Z
    fall.stop_after = 2;
    Daemon d2({plan("app", "30 2 * * *", "Europe/Berlin")}, *fall.db, {}, fall.hooks());
    fall.daemon = &d2;
    ASSERT_TRUE(d2.run().ok());
    EXPECT_EQ(fall.jobs, (std::vector<std::string>{"app:backup@2026-10-25T00:30:00Z",
                                                   "app:backup@2026-10-26T01:30:00Z"}));
}

TEST(Metrics, ReflectRunsSnapshotsAndRpo) {
    World w;
    w.stop_after = 2;
    w.fail_set = "";
    SetPlan p = plan("app", "@every 30s");
    p.rpo_ns = 3600 * k_s;
    Daemon d({p, plan("idle", "@yearly")}, *w.db, {}, w.hooks());
    w.daemon = &d;
    ASSERT_TRUE(d.run().ok());
    w.facts.repository_bytes = 12345;
    auto text = render_metrics(d.plans(), w.facts, *w.db, w.now);
    ASSERT_TRUE(text.ok()) << text.status().to_string();
    for (const std::string line :
         {"coffer_up 1", "coffer_snapshots{set=\"app\"} 2", "coffer_snapshots{set=\"idle\"} 0",
          "coffer_last_backup_bytes_read{set=\"app\"} 1000",
          "coffer_last_backup_bytes_added{set=\"app\"} 100",
          "coffer_backup_failures_total{set=\"app\"} 0", "coffer_rpo_seconds{set=\"app\"} 3600",
          "coffer_rpo_violated{set=\"app\"} 0", "coffer_rpo_age_seconds{set=\"app\"} 0",
          "coffer_last_run_success{set=\"app\"} 1", "coffer_repository_size_bytes 12345",
          "# TYPE coffer_backup_failures_total counter"})
        EXPECT_NE(text->find(line + "\n"), std::string::npos) << line << "\n" << *text;
    EXPECT_EQ(text->find("coffer_last_success_timestamp_seconds{set=\"idle\"}"), std::string::npos);
}

TEST(StateDb, OpenExistingNeedsADatabase) {
    store::testing::TempDir dir;
    auto none = StateDb::open_existing(dir.path());
    EXPECT_EQ(none.status().code(), Code::not_found);
    ASSERT_TRUE(StateDb::open(dir.path()).ok());
    auto some = StateDb::open_existing(dir.path());
    ASSERT_TRUE(some.ok()) << some.status().to_string();
    auto last = (*some)->last_run("x", "");
    ASSERT_TRUE(last.ok());
    EXPECT_FALSE(last->has_value());
    EXPECT_EQ(std::filesystem::status(dir.path() + "/state.db").permissions() &
                  std::filesystem::perms::others_read,
              std::filesystem::perms::none);
}

}  // namespace
}  // namespace coffer::server
