// A thin libpq layer for the postgres source: parsing a DSN into its parts (so the password can
// travel in the environment, never in a child's argv), connecting, and running statements with
// Status errors. A Pg connection is owned by one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "coffer/util/status.h"

namespace coffer::source::pg {

// A DSN split into libpq keywords. The password is kept apart from everything else.
struct Target {
    std::map<std::string, std::string> params;  // keyword -> value, without the password
    std::string password;
    // Decrypts the client key; libpq has no environment variable for it, so it reaches only
    // coffer's own connections, never a child's argv (tools then need an unencrypted key).
    std::string sslpassword;
    std::string dbname;  // the database the DSN names (params["dbname"])

    // "key='value' ..." for libpq and pg tools, with dbname replaced when one is given. Never
    // contains the password.
    std::string conninfo(const std::string& dbname_override = {}) const;
    // What a child process needs besides the conninfo (PGPASSWORD when there is a password).
    std::vector<std::string> child_env() const;
    // "postgres@127.0.0.1:5432/platform", for messages.
    std::string describe() const;
};

// Parses a URI ("postgresql://user:pw@host:5432/db") or key=value DSN. The error never echoes
// the DSN (it may hold a password).
Result<Target> parse_dsn(const std::string& dsn);

// 'text' quoted as an SQL identifier / literal.
std::string ident(const std::string& text);
std::string literal(const std::string& text);

class Conn {
public:
    // Connects to target's database (or dbname when given), with a 10 s connect timeout unless
    // the DSN sets one.
    static Result<std::unique_ptr<Conn>> open(const Target& target, const std::string& dbname = {});
    ~Conn();
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    // Runs a statement that returns no rows.
    Status exec(const std::string& sql);
    // Rows of a query, each a vector of column texts (NULL as "").
    Result<std::vector<std::vector<std::string>>> query(const std::string& sql);
    // The first column of the first row.
    Result<std::string> value(const std::string& sql);
    int server_version() const;  // 150018 for 15.18

private:
    Conn() = default;
    PGconn* m_conn = nullptr;
};

}  // namespace coffer::source::pg
