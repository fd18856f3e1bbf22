// The PostgreSQL source. Backup: one REPEATABLE READ transaction exports its snapshot; pg_dump
// dumps that snapshot (plain SQL, so it deduplicates) straight into the chunker, and the same
// transaction counts every table's rows, so the counts describe exactly the dumped data.
// Restore: load into a new database beside the live one, compare the counts, and only then
// swap it in; a failed load or a count mismatch leaves the live database untouched.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "coffer/restore/restore.h"
#include "coffer/source/pg.h"
#include "coffer/source/process.h"
#include "coffer/source/source.h"
#include "coffer/util/file.h"

namespace coffer::source {

namespace {

using json = nlohmann::json;

constexpr const char* k_tables_sql =
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' "
    "AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2";

// Exact row counts of every user table, keyed "schema.table".
Result<std::map<std::string, int64_t>> count_rows(pg::Conn& conn) {
    TRY_ASSIGN(auto tables, conn.query(k_tables_sql));
    std::map<std::string, int64_t> counts;
    for (const auto& t : tables) {
        TRY_ASSIGN(std::string n,
                   conn.value("SELECT count(*) FROM " + pg::ident(t[0]) + "." + pg::ident(t[1])));
        counts[t[0] + "." + t[1]] = std::stoll(n);
    }
    return counts;
}

// Comments coffer puts on the databases it makes during a restore, so that a leftover of an
// interrupted restore is recognised (and a user's database of the same name is not dropped).
constexpr const char* k_marker_loading = "coffer: restore in progress";
constexpr const char* k_marker_old = "coffer: replaced by a restore";

// At most 40 bytes of name, cut at a UTF-8 character boundary (names max out at 63 bytes).
std::string short_name(const std::string& name) {
    if (name.size() <= 40) return name;
    size_t n = 40;
    while (n > 0 && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
    return name.substr(0, n);
}

// "" when the database does not exist, else its comment (" " when it has none).
Result<std::string> database_state(pg::Conn& admin, const std::string& name) {
    TRY_ASSIGN(auto rows, admin.query("SELECT coalesce(shobj_description(oid, 'pg_database'), ' ') "
                                      "FROM pg_database WHERE datname = " +
                                      pg::literal(name)));
    return rows.empty() ? std::string() : rows[0][0];
}

// Everything one backup of the source shares between its entries and its finish().
struct Dump {
    pg::Target target;
    std::string pg_dump, pg_dumpall;
    std::unique_ptr<Process> roles, dump;
    std::unique_ptr<pg::Conn> snapshot_conn;  // holds the exported snapshot open
    json meta;
    std::thread counter;
    Result<std::map<std::string, int64_t>> counts = internal_error("rows were not counted");

    ~Dump() {
        if (counter.joinable()) counter.join();
    }
};

Status start_dump(Dump& d) {
    // pg_dumpall's output has been read to its end by now; it must have succeeded.
    if (d.roles) TRY(d.roles->wait("pg_dumpall --roles-only"));
    if (!d.snapshot_conn) {
        TRY_ASSIGN(d.snapshot_conn, pg::Conn::open(d.target));
    }
    pg::Conn& c = *d.snapshot_conn;
    TRY(c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    TRY(c.exec("SET LOCAL lock_timeout = '300s'"));
    TRY_ASSIGN(auto rows, c.query("SELECT pg_export_snapshot(), current_database(), "
                                  "pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), "
                                  "d.datcollate, d.datctype, current_setting('server_version') "
                                  "FROM pg_database d WHERE d.datname = current_database()"));
    if (rows.empty()) return io_error("cannot read the database's properties");
    const auto& r = rows[0];
    std::string snapshot = r[0];
    d.meta = {{"database", r[1]},   {"owner", r[2]},    {"encoding", r[3]},
              {"lc_collate", r[4]}, {"lc_ctype", r[5]}, {"server_version", r[6]}};
    TRY_ASSIGN(d.dump, Process::start({}, Pipe::from_stdout, d.target.child_env(),
                                      {d.pg_dump, "--format=plain", "--snapshot=" + snapshot,
                                       // A DDL statement queued between our counting
                                       // transaction and pg_dump would otherwise deadlock
                                       // undetected: better a failed backup than a hung one.
                                       "--lock-wait-timeout=300s", "--no-password",
                                       "--dbname=" + d.target.conninfo()}));
    // The counts run in the same snapshot while pg_dump streams; the transaction stays open
    // until finish(), after pg_dump has long imported the snapshot.
    d.counter = std::thread([&d] { d.counts = count_rows(*d.snapshot_conn); });
    return ok_status();
}

// Connects before pg_dumpall runs, so that an unreachable server or a wrong password gets
// libpq's clear message rather than pg_dumpall's last line, and a non-superuser is told how to
// go on. The connection is kept for the dump's snapshot.
Status connect_for_roles(Dump& d) {
    TRY_ASSIGN(d.snapshot_conn, pg::Conn::open(d.target));
    TRY_ASSIGN(std::string super, d.snapshot_conn->value("SELECT rolsuper FROM pg_roles WHERE "
                                                         "rolname = current_user"));
    if (super != "t")
        return invalid_argument(
            "dumping roles needs a superuser (pg_dumpall reads pg_authid): "
            "connect as one, or set roles = false in the source");
    return ok_status();
}

Result<json> read_json(repo::Repository& repository, Id tree, const std::string& path,
                       const std::string& source) {
    TRY_ASSIGN(repo::Node node, restore::find_node(repository, tree, path));
    TRY_ASSIGN(Bytes bytes, restore::read_all(repository, node));
    json j = json::parse(as_chars(bytes), nullptr, false);
    if (j.is_discarded()) return corruption("source '" + source + "': " + path + " is damaged");
    return j;
}

// Pipes a file of the snapshot into psql connected to dbname; ON_ERROR_STOP makes the first
// failing statement fail the load.
Status psql_load(repo::Repository& repository, Id tree, const std::string& path,
                 const config::SourceConfig& src, const pg::Target& target,
                 const std::string& dbname, bool single_transaction,
                 const std::function<std::string(std::string)>& filter = nullptr) {
    TRY_ASSIGN(repo::Node node, restore::find_node(repository, tree, path));
    std::vector<std::string> argv = {src.psql,
                                     "-X",
                                     "-q",
                                     "--no-password",
                                     "-v",
                                     "ON_ERROR_STOP=1",
                                     "-o",
                                     "/dev/null",
                                     "-f",
                                     "-",
                                     "--dbname=" + target.conninfo(dbname)};
    if (single_transaction) argv.push_back("--single-transaction");
    TRY_ASSIGN(auto psql, Process::start({}, Pipe::to_stdin, target.child_env(), argv));
    Status fed;
    if (filter) {
        auto all = restore::read_all(repository, node);
        fed = all.ok()
                  ? write_all(psql->fd(), to_bytes(filter(std::string(as_chars(*all)))), "to psql")
                  : all.status();
    } else {
        fed = restore::read_contents(
            repository, node, [&](ByteView d) { return write_all(psql->fd(), d, "to psql"); });
    }
    Status exited = psql->wait("psql loading " + path.substr(1) + " into " + dbname);
    TRY(exited);  // psql's own error explains a broken pipe better than EPIPE does
    return fed;
}

// A role name at line[from]: a quoted identifier ("a ""b""") or a bare word.
std::string role_at(const std::string& line, size_t from) {
    std::string name;
    if (from < line.size() && line[from] == '"') {
        for (size_t i = from + 1; i < line.size(); ++i) {
            if (line[i] == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                name += '"';
                ++i;
            } else if (line[i] == '"') {
                break;
            } else {
                name += line[i];
            }
        }
        return name;
    }
    size_t end = line.find_first_of(" ;", from);
    return line.substr(from, end == std::string::npos ? std::string::npos : end - from);
}

// pg_dumpall --roles-only writes one statement per line. Only roles that do not exist now are
// recreated, with their attributes, comments and memberships: existing roles (their passwords,
// their memberships as revoked since) are the live cluster's business and are left alone.
// Anything else is dropped rather than run on the live cluster.
std::string missing_roles_only(const std::string& sql, const std::set<std::string>& existing,
                               std::vector<std::string>& created) {
    std::vector<std::string> lines;
    for (size_t pos = 0; pos < sql.size();) {
        size_t end = sql.find('\n', pos);
        if (end == std::string::npos) end = sql.size();
        lines.push_back(sql.substr(pos, end - pos));
        pos = end + 1;
    }
    std::set<std::string> creating;
    for (const auto& line : lines)
        if (line.rfind("CREATE ROLE ", 0) == 0) {
            std::string role = role_at(line, 12);
            if (!existing.count(role) && creating.insert(role).second) created.push_back(role);
        }
    std::string out;
    for (const auto& line : lines) {
        bool keep = line.empty() || line.rfind("--", 0) == 0 || line.rfind("SET ", 0) == 0 ||
                    line.rfind("\\", 0) == 0;  // psql's \restrict / \unrestrict pairs
        for (std::string_view verb : {"CREATE ROLE ", "ALTER ROLE ", "COMMENT ON ROLE "})
            if (line.rfind(verb, 0) == 0) keep = creating.count(role_at(line, verb.size())) > 0;
        if (line.rfind("GRANT ", 0) == 0) {
            size_t to = line.find(" TO ");
            keep = to != std::string::npos && creating.count(role_at(line, to + 4)) > 0;
        }
        if (keep) out += line + "\n";
    }
    return out;
}

Result<std::vector<Check>> write_dump_files(repo::Repository& repository, const RestoreRequest& r) {
    TRY(make_dirs(r.target_dir, 0700));
    std::vector<Check> checks;
    for (const char* name : {"database.sql", "globals.sql", "checks.json"}) {
        auto node = restore::find_node(repository, r.tree, std::string("/") + name);
        if (!node.ok() && node.status().code() == Code::not_found) continue;
        TRY(node.status());
        std::string path = r.target_dir + "/" + name;
        std::string tmp = path + ".coffer-tmp";
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) return errno_status("create " + tmp, errno);
        Status st = restore::read_contents(repository, *node,
                                           [&](ByteView d) { return write_all(fd, d, tmp); });
        if (st.ok() && fsync(fd) != 0) st = errno_status("fsync " + tmp, errno);
        ::close(fd);
        if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
            st = errno_status("rename " + tmp, errno);
        if (!st.ok()) {
            ::unlink(tmp.c_str());
            return st;
        }
        checks.push_back({r.source->name, std::string(name) + " written to " + path, true,
                          std::to_string(node->size) + " bytes"});
    }
    return checks;
}

}  // namespace

Result<backup::SourceInput> postgres_backup(const config::SourceConfig& source) {
    auto d = std::make_shared<Dump>();
    TRY_ASSIGN(d->target, pg::parse_dsn(source.dsn));
    d->pg_dump = source.pg_dump;
    d->pg_dumpall = source.pg_dumpall;
    backup::SourceInput in;
    in.name = source.name;
    in.type = "postgres";
    if (source.roles) {
        in.entries.push_back(
            {"globals.sql",
             [d]() -> Result<int> {
                 TRY(connect_for_roles(*d));
                 TRY_ASSIGN(d->roles,
                            Process::start({}, Pipe::from_stdout, d->target.child_env(),
                                           {d->pg_dumpall, "--roles-only", "--no-password",
                                            "--dbname=" + d->target.conninfo()}));
                 return d->roles->release_fd();
             },
             nullptr});
    }
    in.entries.push_back({"database.sql",
                          [d]() -> Result<int> {
                              TRY(start_dump(*d));
                              return d->dump->release_fd();
                          },
                          nullptr});
    in.entries.push_back({"checks.json", nullptr, [d]() -> Result<Bytes> {
                              if (d->counter.joinable()) d->counter.join();
                              TRY_ASSIGN(auto counts, d->counts);
                              json j = d->meta;
                              j["tables"] = counts;
                              return to_bytes(j.dump(2) + "\n");
                          }});
    in.finish = [d]() -> Status {
        if (d->counter.joinable()) d->counter.join();
        if (!d->dump) return internal_error("pg_dump was never started");
        // Its exit status decides: a pg_dump that failed half-way printed a partial dump.
        Status st = d->dump->wait("pg_dump of " + d->target.describe());
        d->snapshot_conn.reset();  // ends the read-only transaction
        return st;
    };
    return in;
}

Result<std::vector<Check>> postgres_restore(repo::Repository& repository, const RestoreRequest& r) {
    const auto& src = *r.source;
    if (r.into_database.empty() && !r.target_dir.empty()) return write_dump_files(repository, r);
    TRY_ASSIGN(pg::Target target, pg::parse_dsn(src.dsn));
    TRY_ASSIGN(json recorded, read_json(repository, r.tree, "/checks.json", src.name));
    const std::string live = target.dbname;
    const bool destructive = r.into_database.empty();
    if (!destructive && r.into_database == live)
        return invalid_argument("--into-database " + live +
                                " is the live database: leave it out for a destructive restore, "
                                "or name another database");

    // Maintenance connection: to the "postgres" database, as createdb and dropdb do (some
    // managed services have none; template1 always exists).
    auto opened = pg::Conn::open(target, "postgres");
    if (!opened.ok()) opened = pg::Conn::open(target, "template1");
    TRY(opened.status());
    auto admin = std::move(*opened);
    std::string loading = destructive ? short_name(live) + "_coffer_restore" : r.into_database;
    std::string old = short_name(live) + "_coffer_old";
    TRY_ASSIGN(std::string exists, database_state(*admin, loading));
    if (!destructive && !exists.empty())
        return already_exists("database " + loading +
                              " already exists: drop it or pass another --into-database");
    // Leftovers of an interrupted restore are dropped; a database of the same name that is not
    // ours is not.
    for (const auto& name :
         destructive ? std::vector<std::string>{loading, old} : std::vector<std::string>{}) {
        TRY_ASSIGN(std::string state, database_state(*admin, name));
        if (state.empty()) continue;
        if (state != k_marker_loading && state != k_marker_old)
            return already_exists("database " + name +
                                  " exists and was not made by coffer: rename or drop it");
        TRY(admin->exec("DROP DATABASE " + pg::ident(name)));
    }

    std::vector<Check> checks;
    // Roles first: the dump's ownership and grants name them. A drill (--into-database) leaves
    // the cluster's roles alone: it must not bring back an account removed since the backup.
    if (destructive && restore::find_node(repository, r.tree, "/globals.sql").ok()) {
        TRY_ASSIGN(auto rows, admin->query("SELECT rolname FROM pg_roles"));
        std::set<std::string> existing;
        for (const auto& row : rows) existing.insert(row[0]);
        std::vector<std::string> created;
        Status st =
            psql_load(repository, r.tree, "/globals.sql", src, target, "postgres", false,
                      [&](std::string sql) { return missing_roles_only(sql, existing, created); });
        if (!st.ok()) {
            // psql may quote the failing statement, and globals.sql holds password hashes.
            std::string m = st.message();
            for (size_t at = m.find("PASSWORD '"); at != std::string::npos;
                 at = m.find("PASSWORD '", at + 1)) {
                size_t end = m.find('\'', at + 10);
                m.replace(at + 10, end == std::string::npos ? std::string::npos : end - at - 10,
                          "***");
            }
            return io_error("source '" + src.name + "': recreating roles: " + m);
        }
        std::string names;
        for (const auto& n : created) names += (names.empty() ? "" : ", ") + n;
        checks.push_back(
            {src.name, "roles", true, created.empty() ? "all roles exist" : "created " + names});
    }

    std::string create = "CREATE DATABASE " + pg::ident(loading) + " TEMPLATE template0";
    if (recorded.contains("owner"))
        create += " OWNER " + pg::ident(recorded["owner"].get<std::string>());
    if (recorded.contains("encoding"))
        create += " ENCODING " + pg::literal(recorded["encoding"].get<std::string>()) +
                  " LC_COLLATE " + pg::literal(recorded["lc_collate"].get<std::string>()) +
                  " LC_CTYPE " + pg::literal(recorded["lc_ctype"].get<std::string>());
    TRY(admin->exec(create).with_context("source '" + src.name + "': creating " + loading));
    TRY(admin->exec("COMMENT ON DATABASE " + pg::ident(loading) + " IS " +
                    pg::literal(k_marker_loading)));
    auto drop_loading = [&] { (void)admin->exec("DROP DATABASE IF EXISTS " + pg::ident(loading)); };

    Status loaded = psql_load(repository, r.tree, "/database.sql", src, target, loading, true);
    if (!loaded.ok()) {
        drop_loading();
        return loaded.with_context("source '" + src.name + "'" +
                                   (destructive ? "; the live database was not touched" : ""));
    }
    checks.push_back({src.name, "load", true, "dump loaded into " + loading});

    auto counted = [&]() -> Result<std::map<std::string, int64_t>> {
        TRY_ASSIGN(auto conn, pg::Conn::open(target, loading));
        return count_rows(*conn);
    }();
    if (!counted.ok()) {
        drop_loading();
        return counted.status().with_context("source '" + src.name + "': counting rows");
    }
    bool all_ok = true;
    const json& tables = recorded.value("tables", json::object());
    for (auto it = tables.begin(); it != tables.end(); ++it) {
        int64_t want = it.value().get<int64_t>();
        auto got = counted->find(it.key());
        int64_t have = got == counted->end() ? -1 : got->second;
        all_ok = all_ok && have == want;
        checks.push_back(
            {src.name, "row count " + it.key(), have == want,
             (have < 0 ? std::string("table missing") : std::to_string(have) + " rows") + ", " +
                 std::to_string(want) + " recorded"});
    }
    if (!destructive) return checks;
    if (!all_ok) {
        drop_loading();
        checks.push_back({src.name, "live database", true, live + " left untouched"});
        return checks;
    }
    // The swap. The live database is renamed aside, not dropped, until the new one has its
    // name: whatever fails, the platform is never left without a database under its name.
    TRY_ASSIGN(std::string live_state, database_state(*admin, live));
    bool had_live = !live_state.empty();
    if (had_live) {
        Status aside = internal_error("not tried");
        for (int attempt = 0; attempt < 5 && !aside.ok(); ++attempt) {
            if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(200));
            // Sessions reconnecting between the two statements make the rename fail; retry.
            (void)admin->exec(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " +
                pg::literal(live) + " AND pid <> pg_backend_pid()");
            aside =
                admin->exec("ALTER DATABASE " + pg::ident(live) + " RENAME TO " + pg::ident(old));
        }
        if (!aside.ok()) {
            drop_loading();
            return aside.with_context("source '" + src.name + "': moving " + live +
                                      " aside to replace it (it was not changed)");
        }
        (void)admin->exec("COMMENT ON DATABASE " + pg::ident(old) + " IS " +
                          pg::literal(k_marker_old));
    }
    Status in =
        admin->exec("ALTER DATABASE " + pg::ident(loading) + " RENAME TO " + pg::ident(live));
    if (!in.ok()) {
        Status back =
            had_live
                ? admin->exec("ALTER DATABASE " + pg::ident(old) + " RENAME TO " + pg::ident(live))
                : ok_status();
        if (had_live && back.ok())
            (void)admin->exec("COMMENT ON DATABASE " + pg::ident(live) + " IS NULL");
        drop_loading();
        return in.with_context("source '" + src.name + "': putting the restored database in place" +
                               (back.ok() ? "; " + live + " is as it was"
                                          : "; the old data is in database " + old +
                                                ": rename it to " + live + " by hand"));
    }
    (void)admin->exec("COMMENT ON DATABASE " + pg::ident(live) + " IS NULL");
    if (had_live) {
        std::string drop = "DROP DATABASE " + pg::ident(old);
        if (admin->server_version() >= 130000) drop += " WITH (FORCE)";
        Status dropped = admin->exec(drop);
        if (!dropped.ok())
            checks.push_back({src.name, "old copy", true,
                              "the replaced data is still in database " + old +
                                  " (drop it when done): " + dropped.message()});
    }
    checks.push_back({src.name, "replace", true, live + " replaced"});
    return checks;
}

Status postgres_drop_scratch(const config::SourceConfig& source, const std::string& name) {
    if (!name.starts_with(k_scratch_database_prefix))
        return invalid_argument("refusing to drop database " + name +
                                ": only coffer_drill_* scratch databases are dropped");
    TRY_ASSIGN(pg::Target target, pg::parse_dsn(source.drill_dsn_or_dsn()));
    auto opened = pg::Conn::open(target, "postgres");
    if (!opened.ok()) opened = pg::Conn::open(target, "template1");
    TRY(opened.status());
    auto& admin = *opened;
    // FORCE (which ends other sessions first) exists from PostgreSQL 13; before it, end them.
    if (admin->server_version() < 130000)
        (void)admin->exec(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " +
            pg::literal(name));
    return admin->exec("DROP DATABASE IF EXISTS " + pg::ident(name) +
                       (admin->server_version() >= 130000 ? " WITH (FORCE)" : ""));
}

std::string postgres_describe(const config::SourceConfig& source) {
    auto target = pg::parse_dsn(source.dsn);
    if (!target.ok()) return "(invalid dsn)";
    auto conn = pg::Conn::open(*target);
    if (!conn.ok())
        return "database " + target->dbname + " (unreachable: " + conn.status().message() + ")";
    auto rows = (*conn)->query("SELECT (SELECT count(*) FROM (" + std::string(k_tables_sql) +
                               ") t), pg_size_pretty(pg_database_size(current_database()))");
    if (!rows.ok() || rows->empty()) return "database " + target->dbname;
    return "database " + target->dbname + " on " + target->describe() + ": " + (*rows)[0][0] +
           " tables, " + (*rows)[0][1];
}

}  // namespace coffer::source
