#include "coffer/source/pg.h"

namespace coffer::source::pg {

namespace {

// libpq messages end in newlines and sometimes run over several lines; keep the first.
std::string first_line(const char* message) {
    std::string s = message ? message : "";
    size_t nl = s.find('\n');
    if (nl != std::string::npos) s.resize(nl);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
    return s;
}

std::string quote_value(const std::string& v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

}  // namespace

Result<Target> parse_dsn(const std::string& dsn) {
    char* err = nullptr;
    PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &err);
    if (!options) {
        // libpq's reason can quote the offending part of the DSN, password included.
        PQfreemem(err);
        return invalid_argument(
            "dsn is not a valid PostgreSQL connection string: use "
            "postgresql://user@host:5432/dbname (percent-encode special characters)");
    }
    Target t;
    for (PQconninfoOption* o = options; o->keyword; ++o) {
        if (!o->val || !*o->val) continue;
        if (std::string(o->keyword) == "password")
            t.password = o->val;
        else if (std::string(o->keyword) == "sslpassword")
            t.sslpassword = o->val;
        else
            t.params[o->keyword] = o->val;
    }
    PQconninfoFree(options);
    if (auto it = t.params.find("dbname"); it != t.params.end()) t.dbname = it->second;
    if (t.dbname.empty())
        return invalid_argument(
            "dsn names no database: add one, as in postgresql://user@host:5432/dbname");
    return t;
}

std::string Target::conninfo(const std::string& dbname_override) const {
    std::string out;
    for (const auto& [k, v] : params) {
        const std::string& value = k == "dbname" && !dbname_override.empty() ? dbname_override : v;
        out += (out.empty() ? "" : " ") + k + "=" + quote_value(value);
    }
    if (!params.count("connect_timeout")) out += " connect_timeout='10'";
    return out;
}

std::vector<std::string> Target::child_env() const {
    if (password.empty()) return {};
    return {"PGPASSWORD=" + password};
}

std::string Target::describe() const {
    auto get = [&](const char* k, const char* fallback) {
        auto it = params.find(k);
        return it == params.end() ? std::string(fallback) : it->second;
    };
    return get("user", "") + (params.count("user") ? "@" : "") + get("host", "localhost") + ":" +
           get("port", "5432") + "/" + dbname;
}

std::string ident(const std::string& text) {
    std::string out = "\"";
    for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string literal(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

Result<std::unique_ptr<Conn>> Conn::open(const Target& target, const std::string& dbname) {
    std::string info = target.conninfo(dbname) + " application_name='coffer'";
    if (!target.password.empty()) info += " password=" + quote_value(target.password);
    if (!target.sslpassword.empty()) info += " sslpassword=" + quote_value(target.sslpassword);
    std::unique_ptr<Conn> c(new Conn());
    c->m_conn = PQconnectdb(info.c_str());
    // The conninfo held the password; it is not needed past this point.
    std::fill(info.begin(), info.end(), '\0');
    if (!c->m_conn) return io_error("cannot allocate a PostgreSQL connection");
    if (PQstatus(c->m_conn) != CONNECTION_OK) {
        std::string who = target.describe();
        if (!dbname.empty()) who = who.substr(0, who.rfind('/') + 1) + dbname;
        std::string why = first_line(PQerrorMessage(c->m_conn));
        // Wrong passwords are a key-like problem; an unreachable server may be transient.
        return io_error("cannot connect to PostgreSQL at " + who + ": " + why);
    }
    return c;
}

Conn::~Conn() {
    if (m_conn) PQfinish(m_conn);
}

Status Conn::exec(const std::string& sql) {
    PGresult* r = PQexec(m_conn, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    Status out = ok_status();
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        out = io_error(first_line(PQresultErrorMessage(r)));
    PQclear(r);
    return out;
}

Result<std::vector<std::vector<std::string>>> Conn::query(const std::string& sql) {
    PGresult* r = PQexec(m_conn, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        Status st = io_error(first_line(PQresultErrorMessage(r)));
        PQclear(r);
        return st;
    }
    std::vector<std::vector<std::string>> rows(static_cast<size_t>(PQntuples(r)));
    int cols = PQnfields(r);
    for (size_t i = 0; i < rows.size(); ++i)
        for (int j = 0; j < cols; ++j) rows[i].emplace_back(PQgetvalue(r, static_cast<int>(i), j));
    PQclear(r);
    return rows;
}

Result<std::string> Conn::value(const std::string& sql) {
    TRY_ASSIGN(auto rows, query(sql));
    if (rows.empty() || rows[0].empty()) return io_error("no result from: " + sql);
    return rows[0][0];
}

int Conn::server_version() const {
    return PQserverVersion(m_conn);
}

}  // namespace coffer::source::pg
