#include "coffer/server/state.h"

#include <nlohmann/json.hpp>

#include <sqlite3.h>
#include <sys/stat.h>

#include "coffer/server/sqlite.h"
#include "coffer/util/file.h"

namespace coffer::server {

namespace {

constexpr const char* k_schema = R"sql(
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  set_name TEXT NOT NULL,
  job TEXT NOT NULL,
  scheduled_ns INTEGER NOT NULL,
  start_ns INTEGER NOT NULL,
  end_ns INTEGER NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL,
  bytes_read INTEGER NOT NULL DEFAULT 0,
  bytes_added INTEGER NOT NULL DEFAULT 0,
  snapshot TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_by_set ON runs (set_name, job, id);
CREATE TABLE IF NOT EXISTS schedule (
  set_name TEXT PRIMARY KEY,
  next_due_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS set_override (
  set_name TEXT PRIMARY KEY,
  schedule TEXT NOT NULL DEFAULT '',
  timezone TEXT NOT NULL DEFAULT '',
  paused INTEGER NOT NULL DEFAULT 0,
  retention_args TEXT NOT NULL DEFAULT '',
  retention_json TEXT NOT NULL DEFAULT '',
  changed_by TEXT NOT NULL DEFAULT '',
  changed_ns INTEGER NOT NULL DEFAULT 0
);
)sql";

constexpr const char* k_columns =
    "id, set_name, job, scheduled_ns, start_ns, end_ns, outcome, bytes_read, bytes_added, "
    "snapshot, error, report";

Run row_of(const Stmt& st) {
    Run r;
    r.id = st.i64(0);
    r.set = st.text(1);
    r.job = st.text(2);
    r.scheduled_ns = st.i64(3);
    r.start_ns = st.i64(4);
    r.end_ns = st.i64(5);
    r.outcome = st.text(6);
    r.bytes_read = static_cast<uint64_t>(st.i64(7));
    r.bytes_added = static_cast<uint64_t>(st.i64(8));
    r.snapshot = st.text(9);
    r.error = st.text(10);
    r.report = st.text(11);
    return r;
}

Result<sqlite3*> open_db(const std::string& path, int flags) {
    return open_sqlite(path, flags);
}

}  // namespace

Result<std::unique_ptr<StateDb>> StateDb::open(const std::string& dir) {
    TRY(make_dirs(dir, 0700));
    std::string path = dir + "/state.db";
    TRY_ASSIGN(sqlite3 * db, open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
    std::unique_ptr<StateDb> s(new StateDb(db));
    ::chmod(path.c_str(), 0600);
    TRY(s->exec("PRAGMA journal_mode=WAL"));
    TRY(s->exec(k_schema));
    // Databases from before drill reports were kept lack the column.
    if (!s->exec("SELECT report FROM runs LIMIT 0").ok())
        TRY(s->exec("ALTER TABLE runs ADD COLUMN report TEXT NOT NULL DEFAULT ''"));
    return s;
}

Result<std::unique_ptr<StateDb>> StateDb::open_existing(const std::string& dir) {
    std::string path = dir + "/state.db";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return not_found("no daemon state at " + path + " (coffer serve has not run here)");
    TRY_ASSIGN(sqlite3 * db, open_db(path, SQLITE_OPEN_READONLY));
    return std::unique_ptr<StateDb>(new StateDb(db));
}

StateDb::~StateDb() {
    sqlite3_close_v2(m_db);
}

Status StateDb::exec(const std::string& sql) {
    return exec_sqlite(m_db, sql, "state database");
}

Result<int64_t> StateDb::begin_run(const std::string& set, const std::string& job,
                                   int64_t scheduled_ns, int64_t start_ns) {
    std::lock_guard lock(m_mu);
    Stmt st(m_db,
            "INSERT INTO runs (set_name, job, scheduled_ns, start_ns, outcome) "
            "VALUES (?, ?, ?, ?, 'running')");
    st.bind(1, set).bind(2, job).bind(3, scheduled_ns).bind(4, start_ns);
    if (st.step() != SQLITE_DONE) return st.error("record run start");
    return sqlite3_last_insert_rowid(m_db);
}

Status StateDb::end_run(const Run& r) {
    std::lock_guard lock(m_mu);
    Stmt st(m_db,
            "UPDATE runs SET end_ns = ?, outcome = ?, bytes_read = ?, bytes_added = ?, "
            "snapshot = ?, error = ?, report = ? WHERE id = ?");
    st.bind(1, r.end_ns)
        .bind(2, r.outcome)
        .bind(3, static_cast<int64_t>(r.bytes_read))
        .bind(4, static_cast<int64_t>(r.bytes_added))
        .bind(5, r.snapshot)
        .bind(6, r.error)
        .bind(7, r.report)
        .bind(8, r.id);
    if (st.step() != SQLITE_DONE) return st.error("record run end");
    return ok_status();
}

Result<int> StateDb::close_interrupted(int64_t now_ns) {
    std::lock_guard lock(m_mu);
    Stmt st(m_db,
            "UPDATE runs SET outcome = 'interrupted', end_ns = ?, "
            "error = 'the daemon stopped during this run' WHERE outcome = 'running'");
    st.bind(1, now_ns);
    if (st.step() != SQLITE_DONE) return st.error("close interrupted runs");
    return sqlite3_changes(m_db);
}

Result<std::optional<Run>> StateDb::last_run(const std::string& set, const std::string& job) {
    std::lock_guard lock(m_mu);
    std::string sql = std::string("SELECT ") + k_columns +
                      " FROM runs WHERE set_name = ? AND (? = '' OR job = ?) ORDER BY id DESC "
                      "LIMIT 1";
    Stmt st(m_db, sql.c_str());
    st.bind(1, set).bind(2, job).bind(3, job);
    int rc = st.step();
    if (rc == SQLITE_ROW) return std::optional<Run>(row_of(st));
    if (rc == SQLITE_DONE) return std::optional<Run>();
    return st.error("read last run");
}

Result<std::optional<Run>> StateDb::last_success(const std::string& set, const std::string& job) {
    std::lock_guard lock(m_mu);
    std::string sql = std::string("SELECT ") + k_columns +
                      " FROM runs WHERE set_name = ? AND job = ? AND outcome = 'ok' ORDER BY id "
                      "DESC LIMIT 1";
    Stmt st(m_db, sql.c_str());
    st.bind(1, set).bind(2, job);
    int rc = st.step();
    if (rc == SQLITE_ROW) return std::optional<Run>(row_of(st));
    if (rc == SQLITE_DONE) return std::optional<Run>();
    return st.error("read last success");
}

Result<uint64_t> StateDb::failures(const std::string& set, const std::string& job) {
    std::lock_guard lock(m_mu);
    Stmt st(m_db,
            "SELECT count(*) FROM runs WHERE set_name = ? AND job = ? AND outcome IN "
            "('failed', 'interrupted')");
    st.bind(1, set).bind(2, job);
    if (st.step() != SQLITE_ROW) return st.error("count failures");
    return static_cast<uint64_t>(st.i64(0));
}

Result<std::vector<Run>> StateDb::recent_runs(size_t limit) {
    std::lock_guard lock(m_mu);
    std::string sql = std::string("SELECT ") + k_columns + " FROM runs ORDER BY id DESC LIMIT ?";
    Stmt st(m_db, sql.c_str());
    st.bind(1, static_cast<int64_t>(limit));
    std::vector<Run> out;
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) out.push_back(row_of(st));
    if (rc != SQLITE_DONE) return st.error("read runs");
    return out;
}

Status StateDb::set_next_due(const std::string& set, int64_t due_ns) {
    std::lock_guard lock(m_mu);
    Stmt st(m_db,
            "INSERT INTO schedule (set_name, next_due_ns) VALUES (?, ?) "
            "ON CONFLICT (set_name) DO UPDATE SET next_due_ns = excluded.next_due_ns");
    st.bind(1, set).bind(2, due_ns);
    if (st.step() != SQLITE_DONE) return st.error("record next due time");
    return ok_status();
}

Result<std::optional<int64_t>> StateDb::next_due(const std::string& set) {
    std::lock_guard lock(m_mu);
    Stmt st(m_db, "SELECT next_due_ns FROM schedule WHERE set_name = ?");
    st.bind(1, set);
    int rc = st.step();
    if (rc == SQLITE_ROW) return std::optional<int64_t>(st.i64(0));
    if (rc == SQLITE_DONE) return std::optional<int64_t>();
    return st.error("read next due time");
}

Result<SetOverride> StateDb::set_override(const std::string& set) {
    std::lock_guard lock(m_mu);
    Stmt st(m_db,
            "SELECT schedule, timezone, paused, changed_by, changed_ns, retention_args, "
            "retention_json FROM set_override WHERE set_name = ?");
    st.bind(1, set);
    int rc = st.step();
    SetOverride o;
    if (rc == SQLITE_DONE) return o;
    if (rc != SQLITE_ROW) return st.error("read the set's override");
    o.schedule = st.text(0);
    o.timezone = st.text(1);
    o.paused = st.i64(2) != 0;
    o.changed_by = st.text(3);
    o.changed_ns = st.i64(4);
    auto args = nlohmann::json::parse(st.text(5), nullptr, false);
    if (args.is_array())
        for (const auto& a : args)
            if (a.is_string()) o.retention_args.push_back(a.get<std::string>());
    o.retention_json = st.text(6);
    return o;
}

Status StateDb::put_set_override(const std::string& set, const SetOverride& o) {
    std::lock_guard lock(m_mu);
    if (o.schedule.empty() && !o.paused && o.retention_args.empty()) {
        Stmt st(m_db, "DELETE FROM set_override WHERE set_name = ?");
        st.bind(1, set);
        if (st.step() != SQLITE_DONE) return st.error("remove the set's override");
        return ok_status();
    }
    Stmt st(m_db,
            "INSERT INTO set_override (set_name, schedule, timezone, paused, changed_by, "
            "changed_ns, retention_args, retention_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (set_name) DO UPDATE SET schedule = excluded.schedule, timezone = "
            "excluded.timezone, paused = excluded.paused, changed_by = excluded.changed_by, "
            "changed_ns = excluded.changed_ns, retention_args = excluded.retention_args, "
            "retention_json = excluded.retention_json");
    st.bind(1, set)
        .bind(2, o.schedule)
        .bind(3, o.timezone)
        .bind(4, int64_t{o.paused ? 1 : 0})
        .bind(5, o.changed_by)
        .bind(6, o.changed_ns)
        .bind(7, o.retention_args.empty() ? std::string() : nlohmann::json(o.retention_args).dump())
        .bind(8, o.retention_json);
    if (st.step() != SQLITE_DONE) return st.error("record the set's override");
    return ok_status();
}

}  // namespace coffer::server
