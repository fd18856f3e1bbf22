#include "coffer/server/daemon.h"

#include <algorithm>

namespace coffer::server {

namespace {

std::string iso(int64_t ns) {
    time_t s = static_cast<time_t>(ns / 1000000000);
    struct tm tm {};
    gmtime_r(&s, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

Daemon::Daemon(std::vector<SetPlan> plans, StateDb& db, DaemonOptions options, DaemonHooks hooks)
    : m_plans(std::move(plans)), m_db(db), m_opts(options), m_hooks(std::move(hooks)) {
    for (const auto& p : m_plans) m_config_schedules.emplace(p.name, p.schedule);
    // Here, not in run(): the API may read and change them before the loop starts.
    m_load_status = load_overrides();
}

std::vector<SetPlan> Daemon::plans() const {
    std::lock_guard lock(m_plans_mu);
    return m_plans;
}

std::optional<SetPlan> Daemon::plan(const std::string& set) const {
    std::lock_guard lock(m_plans_mu);
    for (const auto& p : m_plans)
        if (p.name == set) return p;
    return std::nullopt;
}

schedule::Schedule Daemon::schedule_of(const SetPlan& plan) const {
    std::lock_guard lock(m_plans_mu);
    return plan.schedule;
}

bool Daemon::paused(const std::string& set) const {
    std::lock_guard lock(m_plans_mu);
    auto it = m_overrides.find(set);
    return it != m_overrides.end() && it->second.paused;
}

SetOverride Daemon::override_of(const std::string& set) const {
    std::lock_guard lock(m_plans_mu);
    auto it = m_overrides.find(set);
    return it == m_overrides.end() ? SetOverride{} : it->second;
}

Status Daemon::load_overrides() {
    for (auto& p : m_plans) {
        TRY_ASSIGN(SetOverride o, m_db.set_override(p.name));
        if (!o.schedule.empty()) {
            auto s = schedule::Schedule::parse(o.schedule, o.timezone);
            if (!s.ok()) {
                // Written by set_schedule() after the same parse; only a hand-edited or newer
                // database gets here. The config's schedule is the safe fallback.
                event({{"event", "override_ignored"},
                       {"alert", true},
                       {"set", p.name},
                       {"error", s.status().message()}});
                o.schedule.clear();
            } else {
                std::lock_guard lock(m_plans_mu);
                p.schedule = *s;
            }
        }
        std::lock_guard lock(m_plans_mu);
        m_overrides[p.name] = o;
    }
    return ok_status();
}

Status Daemon::change_override(
    const std::string& set, const std::string& by,
    const std::function<void(SetOverride&, schedule::Schedule&)>& change) {
    std::lock_guard lock(m_plans_mu);
    auto plan = std::find_if(m_plans.begin(), m_plans.end(),
                             [&](const SetPlan& p) { return p.name == set; });
    if (plan == m_plans.end())
        return not_found("the daemon runs no set '" + set +
                         "' (only sets with a schedule in its config)");
    auto it = m_overrides.find(set);
    SetOverride o = it == m_overrides.end() ? SetOverride{} : it->second;
    // Only the schedule changes: the daemon thread reads the plan's other fields unlocked.
    schedule::Schedule changed = plan->schedule;
    change(o, changed);
    o.changed_by = by;
    o.changed_ns = m_hooks.now();
    TRY(m_db.put_set_override(set, o));
    plan->schedule = std::move(changed);
    // As the StateDb does: an override back to every default is no override, and says nobody
    // changed anything.
    if (o.schedule.empty() && !o.paused && o.retention_args.empty())
        m_overrides.erase(set);
    else
        m_overrides[set] = o;
    return ok_status();
}

Status Daemon::set_schedule(const std::string& set, std::optional<schedule::Schedule> schedule,
                            const std::string& by) {
    TRY(change_override(set, by, [&](SetOverride& o, schedule::Schedule& in_force) {
        o.schedule = schedule ? schedule->expression() : "";
        o.timezone = schedule ? schedule->timezone() : "";
        in_force = schedule ? *schedule : m_config_schedules.at(set);
    }));
    {
        std::lock_guard lock(m_plans_mu);
        m_changed.insert(set);
    }
    const schedule::Schedule now_in_force = plan(set)->schedule;
    event({{"event", "schedule_changed"},
           {"set", set},
           {"schedule", now_in_force.expression()},
           {"timezone", now_in_force.timezone()},
           {"from", schedule ? "api" : "config"},
           {"by", by}});
    if (m_hooks.wake) m_hooks.wake();
    return ok_status();
}

Status Daemon::set_paused(const std::string& set, bool paused, const std::string& by) {
    TRY(change_override(set, by, [&](SetOverride& o, schedule::Schedule&) { o.paused = paused; }));
    event({{"event", paused ? "paused" : "resumed"}, {"set", set}, {"by", by}});
    return ok_status();
}

Status Daemon::set_retention(const std::string& set, std::vector<std::string> forget_args,
                             std::string policy_json, const std::string& by) {
    const bool from_config = forget_args.empty();
    TRY(change_override(set, by, [&](SetOverride& o, schedule::Schedule&) {
        o.retention_args = std::move(forget_args);
        o.retention_json = policy_json;
    }));
    event({{"event", "retention_changed"},
           {"set", set},
           {"from", from_config ? "config" : "api"},
           {"policy", policy_json},
           {"by", by}});
    return ok_status();
}

Status Daemon::apply_schedule_changes() {
    std::set<std::string> changed;
    {
        std::lock_guard lock(m_plans_mu);
        changed.swap(m_changed);
    }
    for (const auto& p : m_plans) {
        if (!changed.count(p.name)) continue;
        int64_t due = schedule_of(p).next_after(m_hooks.now());
        // A run already due (waiting behind another job) still runs: the new schedule counts
        // from it.
        if (auto it = m_due.find(p.name); it != m_due.end() && it->second <= m_hooks.now())
            due = it->second;
        m_due[p.name] = due;
        TRY(m_db.set_next_due(p.name, due));
        event({{"event", "scheduled"}, {"set", p.name}, {"next", iso(due)}});
    }
    return ok_status();
}

bool Daemon::has_work() const {
    if (has_requests()) return true;
    std::lock_guard lock(m_plans_mu);
    return !m_changed.empty();
}

void Daemon::event(nlohmann::json e) {
    e["time"] = iso(m_hooks.now());
    if (m_hooks.on_event) m_hooks.on_event(e);
}

Facts Daemon::facts() const {
    std::lock_guard lock(m_facts_mu);
    return m_facts;
}

Status Daemon::run() {
    const int64_t start = m_hooks.now();
    TRY_ASSIGN(int interrupted, m_db.close_interrupted(start));
    if (interrupted)
        event({{"event", "runs_interrupted"},
               {"count", interrupted},
               {"message", "runs cut short when the daemon last stopped"}});
    TRY(m_load_status);
    for (const auto& p : m_plans) {
        TRY_ASSIGN(auto stored, m_db.next_due(p.name));
        // A stored time later than the schedule's next one means the schedule changed (say
        // @weekly to @hourly) while the daemon was down: the new schedule wins.
        const schedule::Schedule sched = schedule_of(p);
        int64_t due = sched.next_after(start);
        if (stored) due = std::min(due, *stored);
        if (stored && *stored <= start) {
            if (m_opts.catch_up) {
                event({{"event", "missed"},
                       {"set", p.name},
                       {"scheduled", iso(*stored)},
                       {"message", "due while the daemon was down: running it once now"}});
            } else {
                event({{"event", "missed"},
                       {"set", p.name},
                       {"scheduled", iso(*stored)},
                       {"message", "due while the daemon was down: skipped (catch_up = false)"}});
                due = sched.next_after(start);
            }
        }
        m_due[p.name] = due;
        TRY(m_db.set_next_due(p.name, due));
        nlohmann::json e = {{"event", "scheduled"},
                            {"set", p.name},
                            {"schedule", sched.expression()},
                            {"timezone", sched.timezone()},
                            {"next", iso(due)}};
        if (paused(p.name)) e["paused"] = true;
        event(e);
    }
    for (const auto& p : m_plans) {
        if (!p.drill) continue;
        const std::string key = p.name + "#drill";
        TRY_ASSIGN(auto stored, m_db.next_due(key));
        int64_t due = p.drill->next_after(start);
        if (stored) due = std::min(due, *stored);
        if (stored && *stored <= start && !m_opts.catch_up) due = p.drill->next_after(start);
        m_drill_due[p.name] = due;
        TRY(m_db.set_next_due(key, due));
        event({{"event", "scheduled"},
               {"set", p.name},
               {"job", "drill"},
               {"schedule", p.drill->expression()},
               {"next", iso(due)}});
    }
    refresh_and_check();
    while (!m_stopping) {
        const SetPlan* next = nullptr;
        for (const auto& p : m_plans)
            if (!next || m_due[p.name] < m_due[next->name]) next = &p;
        const SetPlan* drill = nullptr;
        for (const auto& p : m_plans)
            if (p.drill && (!drill || m_drill_due[p.name] < m_drill_due[drill->name])) drill = &p;
        int64_t wake = next ? std::min(m_due[next->name], m_next_check) : m_next_check;
        if (drill) wake = std::min(wake, m_drill_due[drill->name]);
        if (has_work()) wake = m_hooks.now();
        if (!m_hooks.sleep_until(wake) || m_stopping) break;
        TRY(apply_schedule_changes());
        bool aborted = false;
        TRY_ASSIGN(bool requested, run_request(&aborted));
        if (aborted) break;
        if (requested) {
            refresh_and_check();
            continue;
        }
        bool ran = false;
        // A drill due no later than the next backup goes first; they never overlap.
        if (drill && m_hooks.now() >= m_drill_due[drill->name] &&
            (!next || m_drill_due[drill->name] <= m_due[next->name])) {
            int64_t scheduled = m_drill_due[drill->name];
            TRY_ASSIGN(JobResult r, job(*drill, "drill", scheduled));
            if (r.outcome == "aborted") break;
            m_drill_due[drill->name] = drill->drill->next_after(std::max(m_hooks.now(), scheduled));
            TRY(m_db.set_next_due(drill->name + "#drill", m_drill_due[drill->name]));
            if (m_stopping) break;
            event({{"event", "scheduled"},
                   {"set", drill->name},
                   {"job", "drill"},
                   {"next", iso(m_drill_due[drill->name])}});
            refresh_and_check();
            continue;
        }
        if (next && m_hooks.now() >= m_due[next->name]) {
            int64_t scheduled = m_due[next->name];
            if (paused(next->name)) {
                // Its RPO is still watched: a long pause shows as a late set, as it should.
                event({{"event", "skipped"},
                       {"set", next->name},
                       {"scheduled", iso(scheduled)},
                       {"message", "scheduled backups of this set are paused"}});
            } else {
                TRY_ASSIGN(bool aborted, run_set(*next, scheduled));
                ran = true;
                // A run cut short by stop() keeps its due time, so the next start runs it again.
                if (aborted) break;
            }
            int64_t after = std::max(m_hooks.now(), scheduled);
            m_due[next->name] = schedule_of(*next).next_after(after);
            TRY(m_db.set_next_due(next->name, m_due[next->name]));
            if (m_stopping) break;
            event({{"event", "scheduled"}, {"set", next->name}, {"next", iso(m_due[next->name])}});
        }
        // After every run (what it changed shows at once in /metrics), and between runs.
        if (ran)
            refresh_and_check();
        else
            check_if_due();
    }
    event({{"event", "stopped"}});
    return ok_status();
}

Result<JobResult> Daemon::job(const SetPlan& plan, const std::string& name, int64_t scheduled_ns,
                              const JobInput& input) {
    Run run;
    run.set = plan.name;
    run.job = name;
    run.scheduled_ns = scheduled_ns;
    run.start_ns = m_hooks.now();
    TRY_ASSIGN(run.id, m_db.begin_run(plan.name, name, scheduled_ns, run.start_ns));
    event({{"event", "job_started"}, {"set", plan.name}, {"job", name}});
    JobResult r = m_hooks.run_job(plan.name, name, input, [this] { check_if_due(); });
    run.end_ns = m_hooks.now();
    run.outcome = r.outcome;
    run.error = r.error;
    run.bytes_read = r.bytes_read;
    run.bytes_added = r.bytes_added;
    run.snapshot = r.snapshot;
    if (!r.report.is_null())
        run.report = r.report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    TRY(m_db.end_run(run));
    nlohmann::json e = {{"event", "job_finished"},
                        {"set", plan.name},
                        {"job", name},
                        {"outcome", r.outcome},
                        {"duration_s", double(run.end_ns - run.start_ns) / 1e9}};
    if (!r.error.empty()) e["error"] = r.error;
    if (name == "backup" && r.outcome == "ok") {
        e["snapshot"] = r.snapshot;
        e["bytes_read"] = r.bytes_read;
        e["bytes_added"] = r.bytes_added;
    }
    event(e);
    if (r.outcome == "failed")
        event({{"event", "job_failed"},
               {"alert", true},
               {"set", plan.name},
               {"job", name},
               {"error", r.error}});
    return r;
}

Result<bool> Daemon::run_set(const SetPlan& plan, int64_t scheduled_ns, JobResult* backup_result,
                             const JobInput& input) {
    TRY_ASSIGN(JobResult backup, job(plan, "backup", scheduled_ns, input));
    if (backup_result) *backup_result = backup;
    if (backup.outcome == "aborted") return true;
    if (backup.outcome != "ok" || m_stopping) return false;
    const SetOverride o = override_of(plan.name);
    if (plan.retention || !o.retention_args.empty()) {
        JobInput policy;
        policy.args = o.retention_args;  // empty: the config's policy
        TRY_ASSIGN(JobResult forget, job(plan, "forget", scheduled_ns, policy));
        if (m_stopping) return false;  // the backup is done; what follows runs next time
        if (forget.outcome == "ok" && m_opts.prune) TRY(job(plan, "prune", scheduled_ns).status());
    }
    if (m_opts.mirror && !m_stopping) TRY(job(plan, "mirror", scheduled_ns).status());
    return false;
}

Result<int64_t> Daemon::request(const std::string& set, const std::string& job,
                                const std::string& by, JobInput input) {
    const SetPlan* plan = nullptr;
    for (const auto& p : m_plans)
        if (p.name == set) plan = &p;
    if (!plan)
        return not_found("the daemon runs no set '" + set +
                         "' (only sets with a schedule in its config)");
    if (job != "backup" && job != "drill" && job != "restore")
        return invalid_argument("job '" + job + "' cannot be requested: backup, drill or restore");
    int64_t id;
    {
        std::lock_guard lock(m_req_mu);
        for (const auto& [qid, q] : m_requests) {
            if (q.state == "done" || q.set != set || q.job != job) continue;
            // Two restores of one set are never the same request, and never both wanted.
            if (job == "restore")
                return already_exists("a restore of set '" + set + "' is already " + q.state +
                                      " (job " + std::to_string(qid) + "): wait for it to end");
            // Asking again while one waits is the same request: repeated "backup now" calls
            // cannot pile up in front of the schedule.
            if (q.state == "queued") return qid;
        }
        id = m_next_request++;
        Request r;
        r.id = id;
        r.set = set;
        r.job = job;
        r.args = input.args;
        r.by = by;
        r.requested_ns = m_hooks.now();
        m_requests[id] = r;
        input.by = by;
        input.request_id = id;
        m_inputs[id] = std::move(input);
        // Only finished requests are forgotten, oldest first.
        for (auto it = m_requests.begin(); m_requests.size() > 200 && it != m_requests.end();)
            it = it->second.state == "done" ? m_requests.erase(it) : std::next(it);
    }
    event({{"event", "requested"}, {"set", set}, {"job", job}, {"request", id}, {"by", by}});
    if (m_hooks.wake) m_hooks.wake();
    return id;
}

std::optional<Request> Daemon::request_state(int64_t id) const {
    std::lock_guard lock(m_req_mu);
    auto it = m_requests.find(id);
    if (it == m_requests.end()) return std::nullopt;
    return it->second;
}

bool Daemon::has_requests() const {
    std::lock_guard lock(m_req_mu);
    for (const auto& [id, r] : m_requests)
        if (r.state == "queued") return true;
    return false;
}

Result<bool> Daemon::run_request(bool* aborted) {
    Request r;
    JobInput input;  // its secret is wiped when this returns
    {
        std::lock_guard lock(m_req_mu);
        auto it = std::find_if(m_requests.begin(), m_requests.end(),
                               [](const auto& e) { return e.second.state == "queued"; });
        if (it == m_requests.end()) return false;
        it->second.state = "running";
        it->second.started_ns = m_hooks.now();
        r = it->second;
        if (auto in = m_inputs.find(r.id); in != m_inputs.end()) {
            input = std::move(in->second);
            m_inputs.erase(in);
        }
    }
    const SetPlan* plan = nullptr;
    for (const auto& p : m_plans)
        if (p.name == r.set) plan = &p;
    JobResult result;
    const int64_t now = m_hooks.now();
    Status failed;
    if (r.job == "drill" || r.job == "restore") {
        auto ran = job(*plan, r.job, now, input);
        if (ran.ok()) {
            result = std::move(*ran);
            *aborted = result.outcome == "aborted";
        } else {
            failed = ran.status();
        }
    } else {
        auto ran = run_set(*plan, now, &result, input);
        if (ran.ok())
            *aborted = *ran;
        else
            failed = ran.status();
    }
    // A job that could not even be recorded (the state database failed) still ends: a
    // client polling it must not see "running" forever.
    if (!failed.ok()) {
        result.outcome = "failed";
        result.error = failed.message();
    }
    {
        std::lock_guard lock(m_req_mu);
        if (auto it = m_requests.find(r.id); it != m_requests.end()) {
            it->second.state = "done";
            it->second.finished_ns = m_hooks.now();
            it->second.result = result;
        }
    }
    if (!failed.ok()) return failed;
    return true;
}

void Daemon::check_if_due() {
    if (m_hooks.now() >= m_next_check) refresh_and_check();
}

void Daemon::refresh_and_check() {
    m_next_check = m_hooks.now() + m_opts.check_interval_ns;
    if (!m_hooks.facts) return;
    auto f = m_hooks.facts();
    if (!f.ok()) {
        event({{"event", "facts_failed"}, {"error", f.status().message()}});
        return;
    }
    {
        std::lock_guard lock(m_facts_mu);
        m_facts = *f;
    }
    int64_t now = m_hooks.now();
    for (const auto& p : m_plans) {
        if (!p.rpo_ns) continue;
        auto it = f->sets.find(p.name);
        // A plain value and a flag: GCC 12 warns (wrongly) about a copied optional here.
        bool have = it != f->sets.end() && it->second.newest_ns.has_value();
        int64_t newest = have ? *it->second.newest_ns : 0;
        bool late = !have || now - newest > *p.rpo_ns;
        bool& alerted = m_rpo_alerted[p.name];
        if (late && !alerted) {
            nlohmann::json e = {{"event", "rpo_violated"},
                                {"alert", true},
                                {"set", p.name},
                                {"rpo_s", *p.rpo_ns / 1000000000}};
            if (have) {
                e["newest_snapshot"] = iso(newest);
                e["age_s"] = (now - newest) / 1000000000;
            } else {
                e["newest_snapshot"] = nullptr;
            }
            event(e);
        } else if (!late && alerted) {
            event({{"event", "rpo_ok"}, {"set", p.name}});
        }
        alerted = late;
    }
}

}  // namespace coffer::server
