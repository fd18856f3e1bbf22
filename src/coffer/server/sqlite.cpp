#include "coffer/server/sqlite.h"

#include <sqlite3.h>

namespace coffer::server {

Result<sqlite3*> open_sqlite(const std::string& path, int flags) {
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

Status exec_sqlite(sqlite3* db, const std::string& sql, const std::string& what) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return ok_status();
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return io_error(what + ": " + msg);
}

Stmt::Stmt(sqlite3* db, const char* sql, std::string what) : m_db(db), m_what(std::move(what)) {
    m_rc = sqlite3_prepare_v2(db, sql, -1, &m_st, nullptr);
}

Stmt::~Stmt() {
    sqlite3_finalize(m_st);
}

Stmt& Stmt::bind(int i, int64_t v) {
    if (m_rc == SQLITE_OK) m_rc = sqlite3_bind_int64(m_st, i, v);
    return *this;
}

Stmt& Stmt::bind(int i, const std::string& v) {
    if (m_rc == SQLITE_OK)
        m_rc = sqlite3_bind_text(m_st, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
}

Stmt& Stmt::bind(int i, ByteView v) {
    if (m_rc == SQLITE_OK)
        m_rc = sqlite3_bind_blob(m_st, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
}

int Stmt::step() {
    if (m_rc != SQLITE_OK) return m_rc;
    return sqlite3_step(m_st);
}

int64_t Stmt::i64(int col) const {
    return sqlite3_column_int64(m_st, col);
}

std::string Stmt::text(int col) const {
    const unsigned char* t = sqlite3_column_text(m_st, col);
    return t ? reinterpret_cast<const char*>(t) : "";
}

Bytes Stmt::blob(int col) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(m_st, col));
    int n = sqlite3_column_bytes(m_st, col);
    return p && n > 0 ? Bytes(p, p + n) : Bytes();
}

Status Stmt::error(const std::string& what) const {
    return io_error(m_what + ": " + what + ": " + sqlite3_errmsg(m_db));
}

}  // namespace coffer::server
