// The SQLite source: an online-backup copy (consistent while the application keeps writing),
// checked with PRAGMA integrity_check and row counts; restored beside the live file and
// renamed over it atomically.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "coffer/restore/restore.h"
#include "coffer/source/source.h"
#include "coffer/util/crash_step.h"
#include "coffer/util/file.h"
#include "coffer/util/staging.h"

namespace coffer::source {

namespace {

using json = nlohmann::json;

// Opens a file that nobody else writes for checking only: immutable=1 makes SQLite create no
// -wal/-shm/-journal files beside it, even for a database in WAL mode.
int open_immutable(const std::string& path, sqlite3** db) {
    std::string uri = "file:";
    for (char c : path) {
        if (c == '?' || c == '#' || c == '%') {
            char buf[4];
            snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
            uri += buf;
        } else {
            uri += c;
        }
    }
    uri += "?immutable=1";
    return sqlite3_open_v2(uri.c_str(), db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
}

struct Db {
    sqlite3* db = nullptr;
    ~Db() {
        if (db) sqlite3_close_v2(db);
    }
};

Status sqlite_error(sqlite3* db, const std::string& what) {
    return io_error(what + ": " + (db ? sqlite3_errmsg(db) : "cannot allocate"));
}

Result<std::string> integrity_check(sqlite3* db) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) != SQLITE_OK)
        return sqlite_error(db, "integrity_check");
    std::string out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!out.empty()) out += "; ";
        out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return out;
}

Result<std::map<std::string, int64_t>> row_counts(sqlite3* db) {
    std::vector<std::string> tables;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE "
                           "'sqlite_%' ORDER BY name",
                           -1, &st, nullptr) != SQLITE_OK)
        return sqlite_error(db, "list tables");
    while (sqlite3_step(st) == SQLITE_ROW)
        tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    std::map<std::string, int64_t> counts;
    for (const auto& t : tables) {
        std::string quoted = "\"";
        for (char c : t) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
        quoted += "\"";
        std::string sql = "SELECT count(*) FROM " + quoted;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
            return sqlite_error(db, "count rows of " + t);
        if (sqlite3_step(st) == SQLITE_ROW) counts[t] = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return counts;
}

// Copies the live database with the online backup API into path. One step of -1 pages copies
// everything under one read transaction, so the copy is a consistent point in time even while
// writers continue (in WAL mode they are not even blocked).
Status online_copy(const std::string& live, const std::string& path) {
    struct stat st {};
    if (::stat(live.c_str(), &st) != 0)
        return not_found("sqlite database " + live + " does not exist");
    Db src, dst;
    if (sqlite3_open_v2(live.c_str(), &src.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
        return sqlite_error(src.db, "open " + live);
    sqlite3_busy_timeout(src.db, 10000);
    if (sqlite3_open_v2(path.c_str(), &dst.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        nullptr) != SQLITE_OK)
        return sqlite_error(dst.db, "create " + path);
    for (int attempt = 0;; ++attempt) {
        sqlite3_backup* b = sqlite3_backup_init(dst.db, "main", src.db, "main");
        if (!b) return sqlite_error(dst.db, "start backup of " + live);
        int rc = sqlite3_backup_step(b, -1);
        sqlite3_backup_finish(b);
        if (rc == SQLITE_DONE) break;
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && attempt < 100) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        return io_error("backup of " + live + " failed: " + sqlite3_errstr(rc));
    }
    return ok_status();
}

std::string temp_dir() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/coffer-sqlite-XXXXXX";
    return mkdtemp(tmpl.data()) ? tmpl : std::string();
}

}  // namespace

Result<backup::SourceInput> sqlite_backup(const config::SourceConfig& source) {
    auto checks = std::make_shared<json>();
    backup::SourceInput in;
    in.name = source.name;
    in.type = "sqlite";
    std::string live = source.path;
    in.entries.push_back(
        {"database.sqlite",
         [live, checks]() -> Result<int> {
             std::string dir = temp_dir();
             if (dir.empty()) return errno_status("create temporary directory", errno);
             std::string copy = dir + "/copy.sqlite";
             Status st = online_copy(live, copy);
             int fd = -1;
             if (st.ok()) {
                 Db db;
                 if (open_immutable(copy, &db.db) != SQLITE_OK)
                     st = sqlite_error(db.db, "open the copy");
                 auto ic = st.ok() ? integrity_check(db.db) : Result<std::string>(st);
                 auto counts = ic.ok() ? row_counts(db.db)
                                       : Result<std::map<std::string, int64_t>>(ic.status());
                 if (!counts.ok())
                     st = counts.status();
                 else if (*ic != "ok")
                     st = integrity_error("integrity_check of " + live + " failed: " + *ic);
                 else
                     *checks = {{"integrity_check", *ic}, {"tables", *counts}};
             }
             if (st.ok()) fd = ::open(copy.c_str(), O_RDONLY | O_CLOEXEC);
             if (st.ok() && fd < 0) st = errno_status("open " + copy, errno);
             // The copy is unlinked at once: the open descriptor is all the engine needs.
             ::unlink(copy.c_str());
             ::unlink((copy + "-journal").c_str());
             ::rmdir(dir.c_str());
             if (!st.ok()) return st;
             return fd;
         },
         nullptr});
    in.entries.push_back({"checks.json", nullptr, [checks]() -> Result<Bytes> {
                              if (checks->is_null()) return internal_error("sqlite copy not made");
                              return to_bytes(checks->dump(2) + "\n");
                          }});
    return in;
}

// Folds the live database's -wal (or rolls back its hot -journal) into the file itself before
// the restored copy replaces it: a crash between the rename and the removal of those files
// would otherwise leave the old WAL to be replayed into the new database. A database still in
// use is an error (stop the application in pre_restore), and so is one SQLite cannot open for
// another reason (permissions, say); a damaged one is replaced as it is, since replacing a
// damaged database is what a restore is for.
Status settle_live(const std::string& path) {
    struct stat st {};
    if (::stat((path + "-wal").c_str(), &st) != 0 && ::stat((path + "-journal").c_str(), &st) != 0)
        return ok_status();
    if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
        // Files of a database that is gone: nothing to keep, and nothing they may replay into.
        for (const char* suffix : {"-wal", "-shm", "-journal"})
            if (::unlink((path + suffix).c_str()) != 0 && errno != ENOENT)
                return errno_status("remove the stale " + path + suffix, errno);
        return ok_status();
    }
    Db live;
    int rc = sqlite3_open_v2(path.c_str(), &live.db, SQLITE_OPEN_READWRITE, nullptr);
    int busy = 0;
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(live.db, 5000);
        auto on_row = [](void* out, int, char** values, char**) {
            *static_cast<int*>(out) = values[0] ? std::atoi(values[0]) : 0;
            return 0;
        };
        // Reading the schema rolls back a hot journal; the checkpoint empties a WAL.
        rc = sqlite3_exec(live.db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(live.db, "PRAGMA wal_checkpoint(TRUNCATE)", on_row, &busy, nullptr);
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || (rc == SQLITE_OK && busy != 0))
        return lock_held("the live database " + path +
                         " is in use: stop the application (a pre_restore hook) and "
                         "restore again");
    if (rc == SQLITE_OK) return ok_status();
    if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) {
        // A damaged database is replaced as it is: replacing it is what the restore is for.
        // Its WAL goes first, so that nothing of it can replay into the restored file.
        for (const char* suffix : {"-wal", "-shm", "-journal"})
            if (::unlink((path + suffix).c_str()) != 0 && errno != ENOENT)
                return errno_status("remove " + path + suffix + " of the damaged database", errno);
        return ok_status();
    }
    return sqlite_error(
        live.db, "fold the WAL of the live database " + path + " into it before replacing it");
}

Result<std::vector<Check>> sqlite_restore(repo::Repository& repository, const RestoreRequest& r) {
    const auto& src = *r.source;
    TRY_ASSIGN(repo::Node db_node, restore::find_node(repository, r.tree, "/database.sqlite"));
    TRY_ASSIGN(repo::Node checks_node, restore::find_node(repository, r.tree, "/checks.json"));
    TRY_ASSIGN(Bytes checks_bytes, restore::read_all(repository, checks_node));
    json recorded = json::parse(as_chars(checks_bytes), nullptr, false);
    if (recorded.is_discarded())
        return corruption("source '" + src.name + "': checks.json is damaged");

    std::string final_path = src.path;
    if (!r.target_dir.empty()) {
        TRY(make_dirs(r.target_dir, 0700));
        std::string base = src.path.substr(src.path.rfind('/') + 1);
        final_path = r.target_dir + "/" + base;
    }
    std::string dir = final_path.substr(0, final_path.rfind('/'));
    if (dir.empty()) dir = "/";
    // The copy is staged in a locked directory beside the live file, so that one a killed
    // restore left behind is removed by the next restore (util/staging.h).
    TRY(sweep_staging(dir, ".coffer-restore-").status());
    TRY_ASSIGN(StagingDir staging, StagingDir::create(dir, ".coffer-restore-"));
    std::string tmp = staging.path() + "/" + final_path.substr(final_path.rfind('/') + 1);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return errno_status("create " + tmp, errno);
    Status st = restore::read_contents(repository, db_node,
                                       [&](ByteView d) { return write_all(fd, d, tmp); });
    if (st.ok() && fsync(fd) != 0) st = errno_status("fsync " + tmp, errno);
    ::close(fd);

    std::vector<Check> checks;
    if (st.ok()) {
        Db db;
        if (open_immutable(tmp, &db.db) != SQLITE_OK) {
            st = sqlite_error(db.db, "open restored copy");
        } else {
            auto ic = integrity_check(db.db);
            auto counts = row_counts(db.db);
            if (!ic.ok() || !counts.ok()) {
                st = ic.ok() ? counts.status() : ic.status();
            } else {
                checks.push_back({src.name, "integrity_check", *ic == "ok", *ic});
                const json& tables = recorded.value("tables", json::object());
                for (auto it = tables.begin(); it != tables.end(); ++it) {
                    int64_t want = it.value().get<int64_t>();
                    auto got = counts->find(it.key());
                    int64_t have = got == counts->end() ? -1 : got->second;
                    checks.push_back({src.name, "row count " + it.key(), have == want,
                                      (have < 0 ? std::string("table missing")
                                                : std::to_string(have) + " rows") +
                                          ", " + std::to_string(want) + " recorded"});
                }
            }
        }
    }
    bool all_ok = st.ok();
    for (const auto& c : checks) all_ok = all_ok && c.ok;
    if (!all_ok) {
        staging.remove();  // the live file is untouched
        if (!st.ok()) return st.with_context("source '" + src.name + "'");
        return checks;
    }
    if (Status settled = settle_live(final_path); !settled.ok()) {
        staging.remove();
        return settled.with_context("source '" + src.name + "'");
    }
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
        int e = errno;
        staging.remove();
        return errno_status("replace " + final_path, e);
    }
    crash_step("sqlite-replaced");
    // WAL and shared-memory files of the old database would be replayed into the new one
    // (settle_live emptied them, so a crash before this point leaves nothing to replay).
    ::unlink((final_path + "-wal").c_str());
    ::unlink((final_path + "-shm").c_str());
    ::unlink((final_path + "-journal").c_str());
    staging.remove();  // empty now
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        ::close(dfd);
    }
    return checks;
}

}  // namespace coffer::source
