// The daemon's SQLite plumbing, shared by its state (state.h) and its users and tokens
// (api/access.h): opening a connection with a busy timeout, and prepared statements that
// finalize themselves. Connections are opened SQLITE_OPEN_FULLMUTEX; a Stmt is used by one
// thread at a time.
#pragma once

#include <cstdint>
#include <string>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace coffer::server {

// Code::io naming path and SQLite's reason.
Result<sqlite3*> open_sqlite(const std::string& path, int flags);
// Runs sql (one or more statements); what names the database in the error.
Status exec_sqlite(sqlite3* db, const std::string& sql, const std::string& what);

class Stmt {
public:
    // what names the database in errors ("state database").
    Stmt(sqlite3* db, const char* sql, std::string what = "state database");
    ~Stmt();
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, int64_t v);
    Stmt& bind(int i, const std::string& v);
    Stmt& bind(int i, ByteView v);  // a BLOB
    // SQLITE_ROW, SQLITE_DONE, or an error code.
    int step();
    int64_t i64(int col) const;
    std::string text(int col) const;
    Bytes blob(int col) const;
    Status error(const std::string& what) const;

private:
    sqlite3* m_db;
    sqlite3_stmt* m_st = nullptr;
    int m_rc;
    std::string m_what;
};

}  // namespace coffer::server
