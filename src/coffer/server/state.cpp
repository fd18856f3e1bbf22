#include "coffer/server/state.h"

#include <sqlite3.h>
#include <sys/stat.h>

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
)sql";

// A prepared statement that finalizes itself.
class Stmt {
public:
    Stmt(sqlite3* db, const char* sql) : m_db(db) {
        m_rc = sqlite3_prepare_v2(db, sql, -1, &m_st, nullptr);
    }
    ~Stmt() { sqlite3_finalize(m_st); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, int64_t v) {
        if (m_rc == SQLITE_OK) m_rc = sqlite3_bind_int64(m_st, i, v);
        return *this;
    }
    Stmt& bind(int i, const std::string& v) {
        if (m_rc == SQLITE_OK)
            m_rc =
                sqlite3_bind_text(m_st, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    // SQLITE_ROW, SQLITE_DONE, or an error code.
    int step() {
        if (m_rc != SQLITE_OK) return m_rc;
        return sqlite3_step(m_st);
    }
    int64_t i64(int col) const { return sqlite3_column_int64(m_st, col); }
    std::string text(int col) const {
        const unsigned char* t = sqlite3_column_text(m_st, col);
        return t ? reinterpret_cast<const char*>(t) : "";
    }
    Status error(const std::string& what) const {
        return io_error("state database: " + what + ": " + sqlite3_errmsg(m_db));
    }

private:
    sqlite3* m_db;
    sqlite3_stmt* m_st = nullptr;
    int m_rc;
};

constexpr const char* k_columns =
    "id, set_name, job, scheduled_ns, start_ns, end_ns, outcome, bytes_read, bytes_added, "
    "snapshot, error";

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
    return r;
}

Result<sqlite3*> open_db(const std::string& path, int flags) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        return io_error("open state database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db, 10000);
    return db;
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
    char* err = nullptr;
    if (sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return ok_status();
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return io_error("state database: " + msg);
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
            "snapshot = ?, error = ? WHERE id = ?");
    st.bind(1, r.end_ns)
        .bind(2, r.outcome)
        .bind(3, static_cast<int64_t>(r.bytes_read))
        .bind(4, static_cast<int64_t>(r.bytes_added))
        .bind(5, r.snapshot)
        .bind(6, r.error)
        .bind(7, r.id);
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

}  // namespace coffer::server
