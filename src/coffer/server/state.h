// StateDb: the daemon's own record of what it ran (start, end, outcome, bytes, error) and when
// each set is next due, in SQLite at <state dir>/state.db.
//
// It is local and disposable (principle 1: the repository is the truth): losing it loses the
// run history and the catch-up bookkeeping, never a backup. Runs still marked "running" when
// the daemon starts were cut short by a crash and are closed as "interrupted".
// Thread-safe (one connection behind a mutex; SQLite in WAL mode, so `coffer status` can read
// while the daemon writes).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "coffer/util/status.h"

struct sqlite3;

namespace coffer::server {

struct Run {
    int64_t id = 0;
    std::string set;
    std::string job;  // "backup", "forget", "prune", "mirror"
    int64_t scheduled_ns = 0;
    int64_t start_ns = 0;
    int64_t end_ns = 0;   // 0 while running
    std::string outcome;  // "running", "ok", "failed", "aborted", "interrupted", "skipped"
    uint64_t bytes_read = 0;
    uint64_t bytes_added = 0;
    std::string snapshot;  // the snapshot a backup made
    std::string error;     // one line
    std::string report;    // a drill's or restore's JSON report, when it gave one
};

// What an admin changed through the API about a set, over its config: another schedule (empty:
// the config's), paused (scheduled backups skipped; asked-for runs and drills still run),
// another retention policy.
struct SetOverride {
    std::string schedule, timezone;
    bool paused = false;
    // Another retention policy: `coffer forget` flags ("--keep-last=3", ...), and the policy as
    // JSON for showing it; empty: the config's.
    std::vector<std::string> retention_args;
    std::string retention_json;
    std::string changed_by;
    int64_t changed_ns = 0;
};

class StateDb {
public:
    // Creates the directory (0700) and the database when missing.
    static Result<std::unique_ptr<StateDb>> open(const std::string& dir);
    // Read-only, for `coffer status`; Code::not_found when there is no database yet.
    static Result<std::unique_ptr<StateDb>> open_existing(const std::string& dir);
    ~StateDb();

    Result<int64_t> begin_run(const std::string& set, const std::string& job, int64_t scheduled_ns,
                              int64_t start_ns);
    Status end_run(const Run& run);  // by run.id: end_ns, outcome, bytes, snapshot, error
    // Closes runs left "running" by a crash; returns how many.
    Result<int> close_interrupted(int64_t now_ns);

    // The newest run of set and job (any job when job is empty), or nullopt.
    Result<std::optional<Run>> last_run(const std::string& set, const std::string& job);
    Result<std::optional<Run>> last_success(const std::string& set, const std::string& job);
    Result<uint64_t> failures(const std::string& set, const std::string& job);
    Result<std::vector<Run>> recent_runs(size_t limit);

    Status set_next_due(const std::string& set, int64_t due_ns);
    Result<std::optional<int64_t>> next_due(const std::string& set);

    // The set's override (defaults when none was made); a default one removes the row.
    Result<SetOverride> set_override(const std::string& set);
    Status put_set_override(const std::string& set, const SetOverride& o);

private:
    explicit StateDb(sqlite3* db) : m_db(db) {}
    Status exec(const std::string& sql);

    std::mutex m_mu;
    sqlite3* m_db;
};

}  // namespace coffer::server
