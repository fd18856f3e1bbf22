// The fixture of the backup-set end-to-end tests (set_test.cpp, drill_test.cpp): a sqlite
// database, a file tree and a command's output in one set, a repository, and helpers to run
// coffer with a config naming them.
#pragma once

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {

namespace fs = std::filesystem;

// A single-quoted sh word.
inline std::string sh(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Lines of stderr that start with "coffer: " but only report progress ("running <hook>").
inline std::vector<std::string> error_lines(const std::string& err) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < err.size()) {
        size_t end = err.find('\n', pos);
        if (end == std::string::npos) end = err.size();
        std::string line = err.substr(pos, end - pos);
        if (line.rfind("coffer: ", 0) == 0 && line.rfind("coffer: running ", 0) != 0)
            out.push_back(line);
        pos = end + 1;
    }
    return out;
}

// Exit code `code`, exactly one "coffer: " error line, and it contains `what`. A destructive
// restore may print its description of the live data before the error.
#define EXPECT_FAILS_WITH(result, code, what)                                                      \
    do {                                                                                           \
        const RunResult& r_ = (result);                                                            \
        EXPECT_EQ(r_.exit_code, (code)) << r_.describe();                                          \
        auto lines_ = error_lines(r_.err);                                                         \
        EXPECT_EQ(lines_.size(), 1u) << "not a single error line: " << r_.describe();              \
        EXPECT_TRUE(contains(r_.err, (what))) << "expected '" << (what) << "': " << r_.describe(); \
    } while (0)

// A SQLite connection for the test itself; errors throw.
class Sql {
public:
    explicit Sql(const std::string& path) {
        if (sqlite3_open(path.c_str(), &m_db) != SQLITE_OK) fail("open " + path);
        sqlite3_busy_timeout(m_db, 10000);
    }
    ~Sql() { sqlite3_close_v2(m_db); }
    Sql(const Sql&) = delete;
    Sql& operator=(const Sql&) = delete;
    void exec(const std::string& sql) {
        if (sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
    }
    std::string text(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) fail(sql);
        std::string out;
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return out;
    }
    int64_t count(const std::string& table) {
        return std::stoll(text("SELECT count(*) FROM " + table));
    }
    std::map<std::string, int64_t> counts() {
        return {{"users", count("users")}, {"events", count("events")}, {"audit", count("audit")}};
    }

private:
    [[noreturn]] void fail(const std::string& what) {
        throw std::runtime_error("sqlite: " + what + ": " + sqlite3_errmsg(m_db));
    }
    sqlite3* m_db = nullptr;
};

// The "check" -> detail map of a restore --json for one source.
inline std::map<std::string, std::string> checks_of(const nlohmann::json& j,
                                                    const std::string& source) {
    std::map<std::string, std::string> out;
    for (const auto& c : j.value("checks", nlohmann::json::array()))
        if (c["source"] == source) out[c["check"]] = c["detail"];
    return out;
}

inline Manifest without_tmp(Manifest m) {
    std::erase_if(m, [](const auto& e) { return e.first.ends_with(".tmp"); });
    return m;
}

// Names containing ".coffer-" anywhere below root (staging leftovers).
inline std::vector<std::string> leftovers(const std::string& root) {
    std::vector<std::string> out;
    for (const auto& [path, e] : scan_tree(root))
        if (contains(path, ".coffer-")) out.push_back(path);
    return out;
}

class SetTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(repo.init());
        make_dir(live);
        make_dir(tmp);
        {
            Sql s(db);
            s.exec(
                "PRAGMA journal_mode=WAL;"
                "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);"
                "CREATE TABLE events(id INTEGER PRIMARY KEY, payload BLOB);"
                "CREATE TABLE audit(id INTEGER PRIMARY KEY, event_id INTEGER, note TEXT);"
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)"
                "  INSERT INTO events(payload) SELECT randomblob(400) FROM n;"
                "INSERT INTO audit(event_id, note) SELECT id, 'seed' FROM events;"
                "INSERT INTO users(name) SELECT 'user ' || id FROM events WHERE id <= 50;");
        }
        make_dir(files);
        write_file(files + "/a.txt", "alpha\n");
        make_dir(files + "/sub dir");
        write_file(files + "/sub dir/b.bin", prng_bytes(200000, 7), 0600);
        write_file(files + "/sub dir/scratch.tmp", "excluded\n");
        write_file(files + "/cache.tmp", "excluded too\n");
        set_mtime(files + "/a.txt", 1600000000, 5);
        write_file(cmd_file, "command data: " + prng_bytes(3000, 9));
        write_config(app_set());
    }

    std::string hooks(const std::string& pre = "") const {
        return "pre_restore = " + toml(pre.empty() ? "echo pre >> " + sh(hooks_log) : pre) +
               "\npost_restore = " + toml("echo post >> " + sh(hooks_log)) +
               "\nhealth_check = " + toml("test -s " + sh(db)) + "\n";
    }
    static std::string source(const std::string& name, const std::string& type,
                              const std::string& body) {
        return "[[set.source]]\nname = " + toml(name) + "\ntype = " + toml(type) + "\n" + body;
    }
    std::string sqlite_source(const std::string& path) const {
        return source("db", "sqlite", "path = " + toml(path) + "\n");
    }
    std::string files_source() const {
        return source("files", "files", "paths = [" + toml(files) + "]\nexclude = [\"*.tmp\"]\n");
    }
    static std::string command_source(const std::string& name, const std::string& backup,
                                      const std::string& restore = "") {
        return source(name, "command",
                      "backup_command = " + toml(backup) +
                          (restore.empty() ? "" : "\nrestore_command = " + toml(restore)) + "\n");
    }
    std::string app_set(const std::string& pre = "") const {
        return "[[set]]\nname = \"app\"\n" + hooks(pre) + sqlite_source(db) + files_source() +
               command_source("cmd", "cat " + sh(cmd_file), "cat > " + sh(cmd_file));
    }
    void write_config(const std::string& sets) const {
        write_file(cfg, "[repository]\nurl = " + toml(repo.repo) +
                            "\nhost_key = " + toml(repo.host_key) +
                            "\nrecovery_key_file = " + toml(repo.recovery_key) + "\n\n" + sets);
    }

    // coffer --config cfg ARGS, keys and repository from the config file.
    RunResult coffer(const std::vector<std::string>& args, const std::string& config = "") const {
        std::vector<std::string> all{"--config", config.empty() ? cfg : config};
        all.insert(all.end(), args.begin(), args.end());
        RunOptions o;
        o.env = repo.base_env();
        o.env["TMPDIR"] = tmp;
        return run_process(coffer_bin(), all, o);
    }
    nlohmann::json backup_set(const std::string& set) const {
        RunResult r = coffer({"backup", "--set", set, "--json"});
        if (r.exit_code != 0) throw std::runtime_error("backup --set failed: " + r.describe());
        return r.json();
    }
    nlohmann::json snapshots() const {
        RunResult r = coffer({"snapshots", "--json"});
        if (r.exit_code != 0) throw std::runtime_error("snapshots failed: " + r.describe());
        return r.json();
    }
    size_t snapshot_count() const { return snapshots().size(); }

    TempDir dir;
    Repo repo{dir.path()};
    std::string live = dir / "live data", db = live + "/app.db", files = live + "/files",
                cmd_file = live + "/cmd dump.txt", hooks_log = dir / "hooks.log", tmp = dir / "tmp",
                cfg = dir / "coffer.toml";
};

}  // namespace coffer::e2e
