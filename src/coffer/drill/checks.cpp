#include "coffer/drill/checks.h"

#include <sqlite3.h>

#include <cctype>
#include <cstdlib>

#include <httplib.h>

#include "coffer/source/pg.h"
#include "coffer/source/process.h"
#include "coffer/util/text.h"

namespace coffer::drill {

namespace {

std::string env_name(const std::string& source) {
    std::string out;
    for (unsigned char c : source) out += std::isalnum(c) ? char(std::toupper(c)) : '_';
    return out;
}

std::string basename_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string scratch_path(const config::SourceConfig& src, const Scratch& s) {
    std::string dir = s.dir + "/" + src.name;
    return src.type == config::SourceType::sqlite ? dir + "/" + basename_of(src.path) : dir;
}

Result<std::string> sqlite_value(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        return io_error("open " + path + ": " + msg);
    }
    sqlite3_stmt* st = nullptr;
    std::string out;
    Status status;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
        status = invalid_argument(sqlite3_errmsg(db));
    } else {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char* v = sqlite3_column_text(st, 0);
            out = v ? reinterpret_cast<const char*>(v) : "";
        } else if (rc != SQLITE_DONE) {
            status = invalid_argument(sqlite3_errmsg(db));
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (!status.ok()) return status;
    return out;
}

Result<std::string> postgres_value(const config::SourceConfig& src, const std::string& database,
                                   const std::string& sql) {
    TRY_ASSIGN(source::pg::Target target, source::pg::parse_dsn(src.dsn));
    TRY_ASSIGN(auto conn, source::pg::Conn::open(target, database));
    TRY_ASSIGN(auto rows, conn->query(sql));
    return rows.empty() || rows[0].empty() ? std::string() : rows[0][0];
}

bool as_number(const std::string& s, double& out) {
    if (s.empty()) return false;
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return end && *end == '\0';
}

}  // namespace

std::vector<std::string> scratch_environment(const config::SetConfig& set, const Scratch& s) {
    std::vector<std::string> env = {"COFFER_DRILL_DIR=" + s.dir};
    for (const auto& src : set.sources) {
        std::string key = "COFFER_DRILL_" + env_name(src.name);
        auto db = s.databases.find(src.name);
        if (db != s.databases.end()) {
            if (auto target = source::pg::parse_dsn(src.dsn); target.ok()) {
                env.push_back(key + "_DSN=" + target->conninfo(db->second));
                if (!target->password.empty()) env.push_back("PGPASSWORD=" + target->password);
            }
        } else {
            env.push_back(key + "_PATH=" + scratch_path(src, s));
        }
    }
    return env;
}

bool expectation_met(const std::string& expect, const std::string& result, std::string& why) {
    std::string e = expect;
    while (!e.empty() && e.front() == ' ') e.erase(0, 1);
    std::string op = "=";
    for (const char* candidate : {"<=", ">=", "!=", "==", "<", ">", "="})
        if (e.rfind(candidate, 0) == 0) {
            op = candidate == std::string("==") ? "=" : candidate;
            e = e.substr(std::string(candidate).size());
            break;
        }
    while (!e.empty() && e.front() == ' ') e.erase(0, 1);
    double a = 0, b = 0;
    bool numeric = as_number(result, a) && as_number(e, b);
    bool met = false;
    if (numeric) {
        met = op == "="    ? a == b
              : op == "!=" ? a != b
              : op == "<"  ? a < b
              : op == "<=" ? a <= b
              : op == ">"  ? a > b
                           : a >= b;
    } else if (op == "=" || op == "!=") {
        met = (result == e) == (op == "=");
    } else {
        why = "'" + printable_excerpt(result, 60) + "' is not a number to compare with " + op;
        return false;
    }
    why = "'" + printable_excerpt(result, 60) + "', expected " + op + " " + e;
    return met;
}

std::vector<CheckResult> run_checks(const config::SetConfig& set, const Scratch& scratch) {
    std::vector<CheckResult> out;
    const auto env = scratch_environment(set, scratch);
    for (const auto& c : set.drill_checks) {
        CheckResult r{c.name, false, ""};
        if (!c.sql.empty()) {
            const config::SourceConfig* src = set.find_source(c.source);
            Result<std::string> value = not_found("source '" + c.source + "' is not in the set");
            if (src && src->type == config::SourceType::postgres) {
                auto db = scratch.databases.find(src->name);
                value = db == scratch.databases.end()
                            ? Result<std::string>(not_found("no scratch database"))
                            : postgres_value(*src, db->second, c.sql);
            } else if (src) {
                value = sqlite_value(scratch_path(*src, scratch), c.sql);
            }
            if (!value.ok())
                r.detail = "query failed: " + value.status().message();
            else
                r.ok = expectation_met(c.expect.empty() ? "!= " : c.expect, *value, r.detail);
        } else if (!c.command.empty()) {
            Status st = source::run_command(c.command, "drill check '" + c.name + "'", env);
            r.ok = st.ok();
            r.detail = st.ok() ? "exit status 0" : st.message();
        } else {
            auto url = c.http;  // http://host[:port]/path
            std::string rest = url.substr(7);
            size_t slash = rest.find('/');
            std::string host = rest.substr(0, slash);
            std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
            httplib::Client client("http://" + host);
            client.set_connection_timeout(5);
            client.set_read_timeout(30);
            auto res = client.Get(path);
            if (!res) {
                r.detail = "GET " + url + " failed: " + httplib::to_string(res.error());
            } else {
                r.ok = res->status == c.expect_status;
                r.detail = "GET " + url + ": " + std::to_string(res->status) +
                           (r.ok ? "" : ", expected " + std::to_string(c.expect_status));
            }
        }
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace coffer::drill
