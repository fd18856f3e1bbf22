// Daemon: the scheduler loop behind `coffer serve`. It runs each backup set on its schedule,
// then that set's retention (forget), prune and mirror, one job at a time, records every run
// in the StateDb, watches each set's RPO, and reports events (one JSON object each) through a
// hook that logs them and sends alerts.
//
// Everything with a side effect outside the loop is a hook, so tests drive it with a fake
// clock and fake jobs: now() and sleep_until() are the clock (sleep_until returns false once
// the daemon should stop), run_job() runs one job (the CLI runs `coffer ... backup --set X` as
// a child process), facts() reads the repository (newest snapshot per set, sizes).
// Guarantees: jobs never overlap (so never two backups of one set); a job whose scheduled time
// passed while the daemon was down runs once at start-up when catch_up is set, however many
// times it was missed; stop() lets the running job end (the hook aborts it) and starts no
// other. run() is called once, from one thread; stop() may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coffer/schedule/schedule.h"
#include "coffer/server/state.h"
#include "coffer/util/bytes.h"

namespace coffer::server {

struct SetPlan {
    std::string name;
    schedule::Schedule schedule;
    std::optional<int64_t> rpo_ns;
    std::optional<int64_t> rto_ns;
    bool retention = false;  // the set has a retention policy: forget after each backup
    // drill_schedule: a restore drill of the set (job "drill"), on its own schedule; it never
    // runs at the same time as a backup, and fails (and alerts) like one.
    std::optional<schedule::Schedule> drill;
};

struct JobResult {
    std::string outcome = "failed";  // "ok", "failed", "aborted", "skipped"
    std::string error;               // one line, when not ok
    uint64_t bytes_read = 0;
    uint64_t bytes_added = 0;
    std::string snapshot;
    nlohmann::json report;  // a drill's or restore's own report (its checks), when it gave one
};

// What a requested job is given beyond its set: command-line arguments (a restore's snapshot,
// target, confirmation) and a secret for its stdin (the recovery key or shares, one per line).
// The secret is held only until the job's child has it, never in a Request, and wiped.
struct JobInput {
    std::vector<std::string> args;
    // mutable: the runner wipes it as soon as the child's pipe holds it, though the rest of
    // the job's input is read-only to it.
    mutable SecretBytes secret;
    std::string by;          // who asked: set by Daemon::request
    int64_t request_id = 0;  // the request's id: set by Daemon::request
};

struct SetFacts {
    std::optional<int64_t> newest_ns;  // newest snapshot of the set in the repository
    uint64_t snapshots = 0;
};

struct Facts {
    std::map<std::string, SetFacts> sets;
    uint64_t repository_bytes = 0;
    int64_t read_ns = 0;  // when they were read
};

struct DaemonOptions {
    bool catch_up = true;
    bool prune = true;
    bool mirror = false;                         // the repository has mirrors
    int64_t check_interval_ns = 60'000'000'000;  // how often RPOs are checked between jobs
};

struct DaemonHooks {
    std::function<int64_t()> now;
    std::function<bool(int64_t until_ns)> sleep_until;
    // Runs one job to its end; calls tick() every second or so meanwhile, so that RPO checks
    // go on during a long (or hung) job.
    std::function<JobResult(const std::string& set, const std::string& job, const JobInput& input,
                            const std::function<void()>& tick)>
        run_job;
    std::function<Result<Facts>()> facts;
    std::function<void(const nlohmann::json& event)> on_event;
    // Wakes sleep_until() early: called by request() so that a queued run starts at once.
    std::function<void()> wake;
};

// A run asked for outside the schedule (the API's "backup now", "drill now" and restore).
struct Request {
    int64_t id = 0;
    // job: "backup" (with retention, prune and mirror), "drill" or "restore"
    std::string set, job;
    std::vector<std::string> args;  // the JobInput's arguments, for the record
    std::string by;                 // who asked (for the record)
    std::string state = "queued";   // "queued", "running", "done"
    int64_t requested_ns = 0, started_ns = 0, finished_ns = 0;
    JobResult result;  // of the backup or drill, once done
};

class Daemon {
public:
    Daemon(std::vector<SetPlan> plans, StateDb& db, DaemonOptions options, DaemonHooks hooks);

    // Runs until stop() or sleep_until() says to stop. A Status only for what prevents the
    // loop itself from working (the state database failing).
    Status run();
    void stop() { m_stopping = true; }
    bool stopping() const { return m_stopping; }

    // The latest repository facts and RPO verdicts, for /metrics (thread-safe copies).
    Facts facts() const;

    // Queues a run of set's job ("backup", "drill" or "restore") to start as soon as no other
    // job runs (jobs never overlap); returns its id, or the id of the same backup or drill
    // request still queued. A restore is never merged with another: a second one for a set
    // whose restore is queued or running is Code::already_exists. Code::not_found for a set
    // the daemon does not run, Code::invalid_argument for another job. Thread-safe.
    Result<int64_t> request(const std::string& set, const std::string& job, const std::string& by,
                            JobInput input = {});
    // A request's state (the newest 200 are kept); nullopt for an unknown id. Thread-safe.
    std::optional<Request> request_state(int64_t id) const;
    bool has_requests() const;
    // Requests queued or schedule changes not yet applied: what should wake the loop.
    bool has_work() const;
    // Copies of the plans, with the schedules in force (thread-safe).
    std::vector<SetPlan> plans() const;
    std::optional<SetPlan> plan(const std::string& set) const;

    // An admin's change to a set's schedule through the API, over the config: another schedule
    // (nullopt: back to the config's), or scheduled backups paused (RPO still watched; asked-for
    // runs and drills still run). Recorded in the StateDb, so it survives a restart, and applied
    // by the loop at once (the set's next due time is computed again). Code::not_found for a set
    // the daemon does not run. Thread-safe.
    Status set_schedule(const std::string& set, std::optional<schedule::Schedule> schedule,
                        const std::string& by);
    Status set_paused(const std::string& set, bool paused, const std::string& by);
    // Another retention policy for the set, as `coffer forget` flags and as JSON to show (both
    // empty: back to the config's); applied after the set's next backup.
    Status set_retention(const std::string& set, std::vector<std::string> forget_args,
                         std::string policy_json, const std::string& by);
    SetOverride override_of(const std::string& set) const;

private:
    // Backup, then retention, prune, mirror. True when a job was aborted (by stop()).
    // backup_result, when given, receives the backup job's result; input goes to the backup.
    Result<bool> run_set(const SetPlan& plan, int64_t scheduled_ns,
                         JobResult* backup_result = nullptr, const JobInput& input = {});
    // Runs the oldest queued request, if any; true when one ran (aborted in *aborted).
    Result<bool> run_request(bool* aborted);
    // Runs one job and records it. Returns its result.
    Result<JobResult> job(const SetPlan& plan, const std::string& name, int64_t scheduled_ns,
                          const JobInput& input = {});
    void refresh_and_check();
    void check_if_due();
    void event(nlohmann::json e);
    // Reads the StateDb's overrides into the plans (at construction).
    Status load_overrides();
    // Due times of sets whose schedule changed since the last call, computed again.
    Status apply_schedule_changes();
    schedule::Schedule schedule_of(const SetPlan& plan) const;
    bool paused(const std::string& set) const;
    // Under m_plans_mu: change() edits a copy of the set's override and of the schedule in
    // force, which are recorded in the StateDb and then kept (nothing changes if recording
    // fails). Nothing else of a plan ever changes.
    Status change_override(const std::string& set, const std::string& by,
                           const std::function<void(SetOverride&, schedule::Schedule&)>& change);

    // The vector and each plan's name never change after construction; a plan's schedule
    // does (under m_plans_mu), through set_schedule().
    std::vector<SetPlan> m_plans;
    mutable std::mutex m_plans_mu;  // m_plans[i].schedule, m_config_schedules, m_overrides,
                                    // m_changed
    std::map<std::string, schedule::Schedule> m_config_schedules;
    std::map<std::string, SetOverride> m_overrides;
    std::set<std::string> m_changed;
    Status m_load_status;  // of load_overrides() in the constructor; run() fails with it
    StateDb& m_db;
    DaemonOptions m_opts;
    DaemonHooks m_hooks;
    std::atomic<bool> m_stopping{false};
    std::map<std::string, int64_t> m_due;
    std::map<std::string, int64_t> m_drill_due;  // by set, for plans with a drill schedule
    std::map<std::string, bool> m_rpo_alerted;
    int64_t m_next_check = 0;
    mutable std::mutex m_facts_mu;
    Facts m_facts;
    mutable std::mutex m_req_mu;  // m_requests, m_next_request
    std::map<int64_t, Request> m_requests;
    std::map<int64_t, JobInput> m_inputs;  // of queued requests, until they start
    int64_t m_next_request = 1;
};

}  // namespace coffer::server
