// End-to-end: backup sets from coffer.toml. One snapshot of a sqlite database (under concurrent
// writes), a file tree and a command's output; destructive restore behind --confirm, hooks and a
// safety snapshot; drills into --target; --before; and the failures that must save nothing.
#include <sqlite3.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

namespace fs = std::filesystem;

// A single-quoted sh word.
std::string sh(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Lines of stderr that start with "coffer: " but only report progress ("running <hook>").
std::vector<std::string> error_lines(const std::string& err) {
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
std::map<std::string, std::string> checks_of(const nlohmann::json& j, const std::string& source) {
    std::map<std::string, std::string> out;
    for (const auto& c : j.value("checks", nlohmann::json::array()))
        if (c["source"] == source) out[c["check"]] = c["detail"];
    return out;
}

Manifest without_tmp(Manifest m) {
    std::erase_if(m, [](const auto& e) { return e.first.ends_with(".tmp"); });
    return m;
}

// Names containing ".coffer-" anywhere below root (staging leftovers).
std::vector<std::string> leftovers(const std::string& root) {
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

// Inserts into events and audit in one transaction each time, until stopped: a consistent copy
// has as many rows in one as in the other.
class Writer {
public:
    explicit Writer(const std::string& db) : m_thread([this, db] { run(db); }) {}
    ~Writer() { stop(); }
    void stop() {
        m_stop = true;
        if (m_thread.joinable()) m_thread.join();
    }
    int64_t transactions() const { return m_txns; }
    bool done() const { return m_done; }
    std::string error() const { return m_done ? m_error : std::string(); }

private:
    void run(const std::string& db) {
        try {
            Sql s(db);
            s.exec("PRAGMA synchronous=NORMAL");
            while (!m_stop) {
                s.exec(
                    "BEGIN IMMEDIATE;"
                    "INSERT INTO events(payload) VALUES(randomblob(300));"
                    "INSERT INTO audit(event_id, note) VALUES(last_insert_rowid(), 'writer');"
                    "COMMIT;");
                ++m_txns;
                std::this_thread::sleep_for(std::chrono::microseconds(300));
            }
        } catch (const std::exception& e) {
            m_error = e.what();
        }
        m_done = true;
    }
    std::atomic<bool> m_stop{false}, m_done{false};
    std::atomic<int64_t> m_txns{0};
    std::string m_error;
    std::thread m_thread;
};

TEST_F(SetTest, BackupUnderWritesThenDestructiveRestoreWithHooksAndSafetySnapshot) {
    const Manifest files_at_backup = scan_tree(files);
    const std::string cmd_at_backup = read_file(cmd_file);
    int64_t events_before = 0, events_after = 0;
    nlohmann::json b;
    {
        Writer writer(db);
        while (writer.transactions() < 20 && !writer.done())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        Sql reader(db);
        events_before = reader.count("events");
        ASSERT_NO_THROW(b = backup_set("app"));
        events_after = reader.count("events");
        writer.stop();
        ASSERT_EQ(writer.error(), "");
        EXPECT_GT(events_after, events_before) << "the writer was blocked during the backup";
    }
    EXPECT_EQ(b["set"], "app");
    EXPECT_EQ(b["incomplete"], false);
    ASSERT_EQ(b["sources"].size(), 3u) << b.dump();
    for (const auto& s : b["sources"]) EXPECT_GT(s["bytes"].get<uint64_t>(), 0u) << s.dump();
    EXPECT_EQ(count_entries(tmp), 0) << "temporary sqlite copies left in TMPDIR";

    // Change everything: rows deleted, a table added, files edited, removed and added, the
    // command's data replaced. The database is left with an un-checkpointed WAL, as after a
    // crash: the restore must not let SQLite replay it into the restored file.
    std::map<std::string, int64_t> changed_counts;
    {
        Sql s(db);
        s.exec(
            "PRAGMA wal_autocheckpoint=0; DELETE FROM users WHERE id > 10;"
            "DELETE FROM events WHERE id % 3 = 0; DELETE FROM audit WHERE id % 3 = 0;"
            "CREATE TABLE extra(x); INSERT INTO extra VALUES(1);");
        changed_counts = s.counts();
        ASSERT_TRUE(exists(db + "-wal"));
        write_file(dir / "wal copy", read_file(db + "-wal"));
    }
    write_file(db + "-wal", read_file(dir / "wal copy"));
    write_file(files + "/a.txt", "ALPHA, edited\n");
    ASSERT_EQ(::unlink((files + "/sub dir/b.bin").c_str()), 0);
    write_file(files + "/new.txt", "added after the backup\n");
    write_file(cmd_file, "changed command data\n");
    const Manifest files_changed = scan_tree(files);
    const std::string cmd_changed = read_file(cmd_file);

    RunResult r = coffer({"restore", "--set", "app", "--confirm", "app", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    nlohmann::json j = r.json();
    EXPECT_EQ(j["ok"], true) << j.dump(2);
    EXPECT_EQ(j["destructive"], true);
    EXPECT_EQ(j["snapshot_id"], b["snapshot_id"]);
    for (const auto& c : j["checks"]) EXPECT_TRUE(c["ok"].get<bool>()) << c.dump();
    auto db_checks = checks_of(j, "db");
    EXPECT_EQ(db_checks["integrity_check"], "ok") << j.dump(2);

    // The database: exactly the copy, consistent, with no trace of the stale WAL.
    EXPECT_FALSE(exists(db + "-wal"));
    EXPECT_FALSE(exists(db + "-shm"));
    EXPECT_EQ(leftovers(live), std::vector<std::string>{});
    {
        Sql s(db);
        EXPECT_EQ(s.text("PRAGMA integrity_check"), "ok");
        EXPECT_EQ(s.text("PRAGMA journal_mode"), "wal");
        EXPECT_EQ(s.text("SELECT count(*) FROM sqlite_schema WHERE name = 'extra'"), "0");
        auto counts = s.counts();
        EXPECT_EQ(counts["users"], 50);
        EXPECT_EQ(counts["events"], counts["audit"]) << "not a point-in-time copy";
        EXPECT_GE(counts["events"], events_before);
        EXPECT_LE(counts["events"], events_after);
        for (const auto& [table, n] : counts)
            EXPECT_EQ(db_checks["row count " + table],
                      std::to_string(n) + " rows, " + std::to_string(n) + " recorded");
    }
    EXPECT_EQ(diff_manifests(without_tmp(files_at_backup), scan_tree(files)), "");
    EXPECT_EQ(read_file(cmd_file), cmd_at_backup);
    EXPECT_EQ(read_file(hooks_log), "pre\npost\n");

    // The safety snapshot holds the state the restore replaced.
    nlohmann::json list = snapshots();
    ASSERT_EQ(list.size(), 2u) << list.dump(2);
    std::string safety;
    for (const auto& s : list)
        if (std::find(s["tags"].begin(), s["tags"].end(), "safety-snapshot") != s["tags"].end())
            safety = s["id"];
    ASSERT_NE(safety, "") << list.dump(2);
    EXPECT_NE(safety, b["snapshot_id"]);
    const std::string drill = dir / "drill";
    RunResult d = coffer({"restore", "--set", "app", "--snapshot", safety, "--target", drill});
    ASSERT_EQ(d.exit_code, 0) << d.describe();
    {
        Sql s(drill + "/db/app.db");
        EXPECT_EQ(s.text("PRAGMA integrity_check"), "ok");
        EXPECT_EQ(s.counts(), changed_counts);
        EXPECT_EQ(s.count("extra"), 1);
    }
    EXPECT_EQ(
        diff_manifests(without_tmp(files_changed), scan_tree(restored(drill + "/files", files))),
        "");
    EXPECT_EQ(read_file(drill + "/cmd/stdout"), cmd_changed);
    EXPECT_EQ(read_file(hooks_log), "pre\npost\n") << "a drill ran hooks";
}

TEST_F(SetTest, TargetRestoreLeavesLiveDataAlone) {
    const Manifest files_at_backup = scan_tree(files);
    const std::string cmd_at_backup = read_file(cmd_file);
    std::map<std::string, int64_t> counts_at_backup = Sql(db).counts();
    ASSERT_NO_THROW(backup_set("app"));
    write_file(cmd_file, "newer data\n");
    Sql(db).exec("DELETE FROM users");
    const Manifest live_before = scan_tree(live);

    const std::string target = dir / "target";
    RunResult r = coffer({"restore", "--set", "app", "--target", target, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.json()["destructive"], false);
    EXPECT_EQ(r.json()["ok"], true) << r.out;
    EXPECT_EQ(diff_manifests(live_before, scan_tree(live)), "");
    EXPECT_FALSE(exists(hooks_log)) << "hooks ran for a restore into --target";
    EXPECT_EQ(snapshot_count(), 1u) << "a restore into --target took a safety snapshot";

    // Layout: target/<source>/..., files below their absolute paths, sqlite by basename.
    EXPECT_EQ(count_entries(target), 3);
    EXPECT_EQ(count_entries(target + "/db"), 1);
    {
        Sql s(target + "/db/app.db");
        EXPECT_EQ(s.text("PRAGMA integrity_check"), "ok");
        EXPECT_EQ(s.counts(), counts_at_backup);
    }
    EXPECT_EQ(
        diff_manifests(without_tmp(files_at_backup), scan_tree(restored(target + "/files", files))),
        "");
    EXPECT_EQ(read_file(target + "/cmd/stdout"), cmd_at_backup);

    // --source picks one.
    const std::string only = dir / "only cmd";
    RunResult o = coffer({"restore", "--set", "app", "--source", "cmd", "--target", only});
    ASSERT_EQ(o.exit_code, 0) << o.describe();
    EXPECT_EQ(count_entries(only), 1);
    EXPECT_EQ(read_file(only + "/cmd/stdout"), cmd_at_backup);
    EXPECT_EQ(diff_manifests(live_before, scan_tree(live)), "");
}

TEST_F(SetTest, BeforePicksTheNewestSnapshotStrictlyEarlier) {
    const std::string notes = dir / "notes.txt";
    write_config(app_set() + "\n[[set]]\nname = \"notes\"\n" +
                 command_source("cmd", "cat " + sh(notes)));
    std::vector<std::string> ids;
    std::string app_id;
    for (std::string content : {"one\n", "two\n", "three\n"}) {
        if (!ids.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1100));
        write_file(notes, content);
        nlohmann::json b;
        ASSERT_NO_THROW(b = backup_set("notes"));
        ids.push_back(b["snapshot_id"]);
        if (content == "two\n") {
            ASSERT_NO_THROW(app_id = backup_set("app")["snapshot_id"]);  // --before ignores it
        }
    }
    std::map<std::string, std::string> time_of;
    for (const auto& s : snapshots()) time_of[s["id"]] = s["time"];
    ASSERT_EQ(time_of.size(), 4u);

    int n = 0;
    auto restore_notes = [&](std::vector<std::string> args) {
        std::string target = dir / ("t" + std::to_string(n++));
        args.insert(args.begin(), {"restore", "--set", "notes", "--target", target});
        RunResult r = coffer(args);
        EXPECT_EQ(r.exit_code, 0) << r.describe();
        return exists(target + "/cmd/stdout") ? read_file(target + "/cmd/stdout") : "(none)";
    };
    EXPECT_EQ(restore_notes({"--before", time_of[ids[1]]}), "one\n");
    EXPECT_EQ(restore_notes({"--before", time_of[ids[2]]}), "two\n");
    // Whole seconds: the second of snapshot 2 began after snapshot 1 (1.1 s apart).
    EXPECT_EQ(restore_notes({"--before", time_of[ids[1]].substr(0, 19) + "Z"}), "one\n");
    EXPECT_EQ(restore_notes({"--before", "2262-01-01T00:00:00Z"}), "three\n");
    EXPECT_EQ(restore_notes({"--latest"}), "three\n");
    EXPECT_EQ(restore_notes({}), "three\n");
    EXPECT_EQ(restore_notes({"--snapshot", ids[1].substr(0, 12)}), "two\n");

    const std::string none = dir / "none";
    EXPECT_FAILS_WITH(
        coffer({"restore", "--set", "notes", "--before", time_of[ids[0]], "--target", none}), 4,
        "has no snapshot before");
    EXPECT_FAILS_WITH(
        coffer({"restore", "--set", "notes", "--before", "yesterday", "--target", none}), 2,
        "not RFC 3339");
    // Beyond what nanoseconds since 1970 hold: refused, not wrapped around to the past.
    EXPECT_FAILS_WITH(
        coffer({"restore", "--set", "notes", "--before", "2999-01-01T00:00:00Z", "--target", none}),
        2, "out of range");
    EXPECT_FAILS_WITH(coffer({"restore", "--set", "notes", "--snapshot", app_id, "--target", none}),
                      2, "is not of set 'notes'");
    EXPECT_FAILS_WITH(coffer({"restore", "--set", "notes", "--latest", "--before", time_of[ids[1]],
                              "--target", none}),
                      2, "give one of --snapshot, --latest, --before");
    EXPECT_FALSE(exists(none));
}

TEST_F(SetTest, ConfirmMissingOrWrongChangesNothing) {
    ASSERT_NO_THROW(backup_set("app"));
    write_file(cmd_file, "newer data\n");
    write_file(files + "/new.txt", "new\n");
    const Manifest before = scan_tree(live);
    for (std::vector<std::string> extra :
         {std::vector<std::string>{}, {"--confirm", "APP"}, {"--confirm", "other"}}) {
        std::vector<std::string> args{"restore", "--set", "app"};
        args.insert(args.end(), extra.begin(), extra.end());
        SCOPED_TRACE(extra.empty() ? "no --confirm" : extra[1]);
        RunResult r = coffer(args);
        EXPECT_FAILS_WITH(r, 2, "needs --confirm app");
        EXPECT_TRUE(contains(r.err, "nothing was changed")) << r.describe();
    }
    EXPECT_EQ(diff_manifests(before, scan_tree(live)), "");
    EXPECT_FALSE(exists(hooks_log));
    EXPECT_EQ(snapshot_count(), 1u);
}

TEST_F(SetTest, FailingPreRestoreHookChangesNothing) {
    ASSERT_NO_THROW(backup_set("app"));
    write_config(app_set("echo stopping app >&2; false"));
    write_file(cmd_file, "newer data\n");
    Sql(db).exec("DELETE FROM users");
    const Manifest before = scan_tree(live);
    RunResult r = coffer({"restore", "--set", "app", "--confirm", "app"});
    EXPECT_FAILS_WITH(r, 1, "pre_restore hook failed (exit status 1)");
    EXPECT_TRUE(contains(r.err, "nothing was restored")) << r.describe();
    EXPECT_EQ(diff_manifests(before, scan_tree(live)), "");
    EXPECT_EQ(leftovers(live), std::vector<std::string>{});
    EXPECT_FALSE(exists(hooks_log)) << "post_restore ran after a failed pre_restore";
    EXPECT_EQ(snapshot_count(), 1u) << "a safety snapshot was taken after a failed pre_restore";
}

TEST_F(SetTest, FailingOrEmptySourcesSaveNoSnapshot) {
    const std::string missing_db = dir / "no such.db";
    write_config(app_set() + "\n[[set]]\nname = \"exit3\"\n" + files_source() +
                 command_source("dump", "echo partial; exit 3") + "\n[[set]]\nname = \"empty\"\n" +
                 files_source() + command_source("dump", "true") + "\n[[set]]\nname = \"nodb\"\n" +
                 files_source() + sqlite_source(missing_db));
    ASSERT_NO_THROW(backup_set("app"));
    const size_t count = snapshot_count();
    const Manifest before = scan_tree(live);
    struct Case {
        std::string set;
        int code;
        std::vector<std::string> wanted;
    };
    for (const Case& c : std::vector<Case>{
             {"exit3", 1, {"set 'exit3'", "source 'dump'", "exit status 3", "no snapshot saved"}},
             {"empty", 2, {"source 'dump' is empty", "min_size 1", "no snapshot saved"}},
             {"nodb", 4, {"source 'db'", missing_db, "does not exist", "no snapshot saved"}}}) {
        SCOPED_TRACE(c.set);
        RunResult r = coffer({"backup", "--set", c.set});
        EXPECT_EQ(r.exit_code, c.code) << r.describe();
        EXPECT_TRUE(r.one_line_error()) << r.describe();
        for (const auto& w : c.wanted) EXPECT_TRUE(contains(r.err, w)) << w << ": " << r.describe();
    }
    EXPECT_EQ(snapshot_count(), count);
    EXPECT_FALSE(exists(missing_db));
    EXPECT_EQ(diff_manifests(before, scan_tree(live)), "");
    EXPECT_EQ(count_entries(tmp), 0);
}

TEST_F(SetTest, ShrinkBeyondMaxShrinkFailsOrWarns) {
    const std::string dump = dir / "dump.txt";
    auto config = [&](const std::string& options) {
        write_config("[[set]]\nname = \"shrink\"\n" + options +
                     command_source("dump", "cat " + sh(dump)));
    };
    config("");
    write_file(dump, std::string(1000, 'x'));
    ASSERT_NO_THROW(backup_set("shrink"));
    write_file(dump, std::string(10, 'x'));
    RunResult r = coffer({"backup", "--set", "shrink"});
    EXPECT_FAILS_WITH(r, 2, "source 'dump' shrank from 1000 to 10 bytes");
    EXPECT_TRUE(r.one_line_error()) << r.describe();
    EXPECT_TRUE(contains(r.err, "no snapshot saved")) << r.describe();
    EXPECT_EQ(snapshot_count(), 1u);

    // Within max_shrink (60% < 99%) passes.
    config("max_shrink = 0.99\n");
    write_file(dump, std::string(400, 'x'));
    RunResult within = coffer({"backup", "--set", "shrink", "--quiet"});
    EXPECT_EQ(within.exit_code, 0) << within.describe();
    EXPECT_EQ(within.err, "");
    EXPECT_EQ(snapshot_count(), 2u);

    config("on_shrink = \"warn\"\n");
    write_file(dump, std::string(10, 'x'));
    RunResult w = coffer({"backup", "--set", "shrink", "--json"});
    EXPECT_EQ(w.exit_code, 0) << w.describe();
    EXPECT_TRUE(contains(w.err, "coffer: warning: source 'dump' shrank from 400 to 10 bytes"))
        << w.describe();
    EXPECT_EQ(w.json()["sources"][0]["bytes"], 10) << w.describe();
    EXPECT_EQ(snapshot_count(), 3u);
}

TEST_F(SetTest, UnknownSetOrSource) {
    ASSERT_NO_THROW(backup_set("app"));
    const Manifest before = scan_tree(live);
    const std::string target = dir / "target";
    EXPECT_FAILS_WITH(coffer({"restore", "--set", "app", "--source", "nosuch", "--target", target}),
                      4, "set 'app' has no source 'nosuch'");
    EXPECT_FAILS_WITH(coffer({"restore", "--set", "app", "--source", "nosuch", "--confirm", "app"}),
                      4, "set 'app' has no source 'nosuch'");
    EXPECT_FAILS_WITH(coffer({"backup", "--set", "nosuch"}), 4, "set 'nosuch' is not in");
    RunResult r = coffer({"restore", "--set", "nosuch", "--target", target});
    EXPECT_FAILS_WITH(r, 4, "set 'nosuch' is not in");
    EXPECT_TRUE(contains(r.err, "(sets: app)")) << r.describe();
    EXPECT_FALSE(exists(target));
    EXPECT_FALSE(exists(hooks_log));
    EXPECT_EQ(diff_manifests(before, scan_tree(live)), "");
    EXPECT_EQ(snapshot_count(), 1u);
}

TEST_F(SetTest, ConfigCheckReportsEveryProblemWithItsLine) {
    RunResult good = run_process(coffer_bin(), {"config", "check", "--config", cfg});
    EXPECT_EQ(good.exit_code, 0) << good.describe();
    EXPECT_EQ(good.out, cfg + ": ok (1 set, 3 sources)\n");
    RunResult global = run_process(coffer_bin(), {"--config", cfg, "config", "check"});
    EXPECT_EQ(global.exit_code, 0) << global.describe();

    const std::string bad = dir / "bad.toml";
    write_file(bad,
               "[repository]\n"                   // 1
               "url = \"/var/backups/coffer\"\n"  // 2
               "\n"                               // 3
               "[[set]]\n"                        // 4
               "name = \"app\"\n"                 // 5
               "rpo = \"15 minutes\"\n"           // 6
               "colour = \"blue\"\n"              // 7
               "\n"                               // 8
               "[[set.source]]\n"                 // 9
               "name = \"cmd\"\n"                 // 10
               "type = \"command\"\n"             // 11
               "backup_command = \"true\"\n");    // 12
    RunResult r = run_process(coffer_bin(), {"config", "check", "--config", bad});
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(contains(r.err, bad + ":6: ")) << r.describe();
    EXPECT_TRUE(contains(r.err, "rpo")) << r.describe();
    EXPECT_TRUE(contains(r.err, bad + ":7: ")) << r.describe();
    EXPECT_TRUE(contains(r.err, "colour")) << r.describe();
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 2) << r.describe();
    // The same file refuses a backup, naming the first problem.
    RunResult b = coffer({"backup", "--set", "app"}, bad);
    EXPECT_FAILS_WITH(b, 2, bad + ":6: ");

    RunResult missing = run_process(coffer_bin(), {"config", "check", "--config", dir / "nope"});
    EXPECT_EQ(missing.exit_code, 4) << missing.describe();
    EXPECT_TRUE(missing.one_line_error()) << missing.describe();
}

// A drill restores the set into scratch targets, passes its checks, meets the objectives,
// leaves no scratch behind, runs no hook and changes no byte of the live data; with a damaged
// pack it fails and says where; both runs are in the audit log and the report renders.
TEST_F(SetTest, DrillRestoresIntoScratchAndFailsOnADamagedPack) {
    write_config("[[set]]\nname = \"app\"\nrpo = \"1h\"\nrto = \"10m\"\ndrill_every = \"1h\"\n" +
                 hooks() + sqlite_source(db) + files_source() +
                 command_source("cmd", "cat " + sh(cmd_file), "cat > " + sh(cmd_file)));
    backup_set("app");
    std::string newest = backup_set("app")["snapshot_id"];
    const Manifest live_before = scan_tree(live);
    const std::string report = dir / "drill report.html";
    auto status_of = [&] {
        RunResult st = coffer({"status", "--json"});
        return std::pair{st.exit_code, st.json()["sets"][0]};
    };
    auto [before_code, before] = status_of();
    EXPECT_EQ(before_code, 3) << before.dump();
    EXPECT_EQ(before["drill_status"], "DRILL OVERDUE") << before.dump();

    RunResult ok = coffer({"drill", "--set", "app", "--json", "--report", report});
    ASSERT_EQ(ok.exit_code, 0) << ok.describe();
    nlohmann::json r = ok.json();
    EXPECT_EQ(r["ok"], true);
    EXPECT_EQ(r["snapshot_id"], newest);
    ASSERT_FALSE(r["checks"].empty());
    for (const auto& c : r["checks"]) EXPECT_TRUE(c["ok"].get<bool>()) << c.dump();
    std::set<std::string> phases;
    for (const auto& p : r["phases"]) phases.insert(p["name"].get<std::string>());
    EXPECT_TRUE(phases.count("restore db (sqlite)")) << r["phases"].dump();
    EXPECT_TRUE(phases.count("restore files (files)")) << r["phases"].dump();
    EXPECT_EQ(r["rto"]["objective_s"], 600);
    EXPECT_EQ(r["rto"]["met"], true);
    EXPECT_EQ(r["rpo"]["met"], true);
    EXPECT_EQ(r["rpo"]["snapshots_considered"], 2);
    EXPECT_FALSE(exists(r["scratch"]["dir"].get<std::string>())) << "scratch left behind";
    EXPECT_FALSE(exists(hooks_log)) << "a drill runs no restore hook";
    EXPECT_EQ(diff_manifests(live_before, scan_tree(live)), "") << "the drill touched live data";
    EXPECT_TRUE(contains(read_file(report), "phase-chart"));
    EXPECT_EQ(nlohmann::json::parse(read_file(dir / "drill report.json"))["ok"], true);

    auto [after_code, after] = status_of();
    EXPECT_EQ(after_code, 0) << after.dump();
    EXPECT_EQ(after["drill_status"], "OK") << after.dump();
    EXPECT_EQ(after["last_drill"]["snapshot_id"], newest);
    EXPECT_EQ(after["last_drill"]["ok"], true);

    // --keep leaves the scratch restore for inspection, holding the live files.
    RunResult kept = coffer({"drill", "--set", "app", "--keep", "--json"});
    ASSERT_EQ(kept.exit_code, 0) << kept.describe();
    std::string scratch = kept.json()["scratch"]["dir"];
    EXPECT_TRUE(exists(scratch + "/db"));
    fs::remove_all(scratch);

    // An RPO of one second is missed by a snapshot older than that: checks pass, exit 3.
    write_config("[[set]]\nname = \"app\"\nrpo = \"1s\"\n" + hooks() + sqlite_source(db) +
                 files_source() +
                 command_source("cmd", "cat " + sh(cmd_file), "cat > " + sh(cmd_file)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    RunResult late = coffer({"drill", "--set", "app", "--json"});
    EXPECT_EQ(late.exit_code, 3) << late.describe();
    EXPECT_EQ(late.json()["ok"], true);
    EXPECT_EQ(late.json()["rpo"]["met"], false);

    // One damaged pack: the drill fails, and its report says which restore failed and why.
    for (const auto& e : fs::recursive_directory_iterator(repo.repo + "/packs")) {
        if (!e.is_regular_file()) continue;
        std::string bytes = read_file(e.path().string());
        bytes[bytes.size() / 2] ^= 0x01;
        write_file(e.path().string(), bytes);
    }
    const std::string bad_report = dir / "bad drill.html";
    RunResult bad = coffer({"drill", "--set", "app", "--report", bad_report});
    EXPECT_EQ(bad.exit_code, 5) << bad.describe();
    EXPECT_TRUE(contains(bad.out, "FAILED")) << bad.describe();
    EXPECT_TRUE(contains(bad.out, "restore of source")) << bad.describe();
    EXPECT_EQ(diff_manifests(live_before, scan_tree(live)), "");
    // The report's history holds the earlier drills, read back from the audit log.
    const std::string html = read_file(bad_report);
    const std::string history = html.substr(html.find("<section id=\"history\">"));
    EXPECT_FALSE(contains(history, "No earlier drills")) << history;
    EXPECT_TRUE(contains(history, "PASS")) << history;
    auto [failed_code, failed] = status_of();
    EXPECT_EQ(failed_code, 3);
    EXPECT_EQ(failed["drill_status"], "DRILL FAILED") << failed.dump();

    RunResult audit = coffer({"audit", "show", "--action", "drill"});
    ASSERT_EQ(audit.exit_code, 0) << audit.describe();
    EXPECT_TRUE(contains(audit.out, "drill set app snapshot " + newest + " ok")) << audit.out;
    EXPECT_TRUE(contains(audit.out, " integrity") || contains(audit.out, " failed")) << audit.out;
}

// The set's own drill checks run against the scratch restore: SQL with an expected result, a
// command that finds the scratch copy through COFFER_DRILL_* variables, an HTTP health check.
// A wrong count, a missing table and a refused health check each fail the drill by name.
TEST_F(SetTest, DrillRunsTheSetsOwnChecksAndNamesTheOneThatFailed) {
    httplib::Server health;
    health.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("ok", "text/plain");
    });
    int port = health.bind_to_any_port("127.0.0.1");
    std::thread server([&] { health.listen_after_bind(); });
    const std::string base = "[[set]]\nname = \"app\"\n" + sqlite_source(db) + files_source();
    auto check = [](const std::string& body) { return "[[set.drill_check]]\n" + body; };
    const std::string good =
        check(
            "name = \"admins exist\"\nsource = \"db\"\nsql = \"SELECT count(*) FROM users\"\n"
            "expect = \">= 50\"\n") +
        check("name = \"scratch copy readable\"\ncommand = " +
              toml("test -s \"$COFFER_DRILL_DB_PATH\" && test -d \"$COFFER_DRILL_FILES_PATH\"") +
              "\n") +
        check("name = \"app healthy\"\nhttp = " +
              toml("http://127.0.0.1:" + std::to_string(port) + "/healthz") + "\n");
    write_config(base + good);
    backup_set("app");
    RunResult ok = coffer({"drill", "--set", "app", "--json"});
    EXPECT_EQ(ok.exit_code, 0) << ok.describe();
    std::map<std::string, std::string> results;
    const nlohmann::json drilled = ok.json();  // kept: the loop below refers into it
    for (const auto& c : drilled["checks"])
        results[c["check"].get<std::string>()] =
            (c["ok"].get<bool>() ? "ok: " : "FAIL: ") + c["detail"].get<std::string>();
    EXPECT_EQ(results["admins exist"], "ok: '50', expected >= 50") << ok.out;
    EXPECT_EQ(results["scratch copy readable"], "ok: exit status 0");
    EXPECT_TRUE(contains(results["app healthy"], "ok: GET")) << results["app healthy"];

    for (const auto& [bad, name, says] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {check("name = \"too many\"\nsource = \"db\"\nsql = \"SELECT count(*) FROM users\"\n"
                    "expect = \"> 1000\"\n"),
              "too many", "'50', expected > 1000"},
             {check("name = \"table present\"\nsource = \"db\"\n"
                    "sql = \"SELECT count(*) FROM no_such_table\"\n"),
              "table present", "no such table"},
             {check("name = \"health\"\nhttp = " +
                    toml("http://127.0.0.1:" + std::to_string(port) + "/missing") + "\n"),
              "health", "404, expected 200"}}) {
        write_config(base + good + bad);
        RunResult r = coffer({"drill", "--set", "app"});
        EXPECT_EQ(r.exit_code, 5) << r.describe();
        EXPECT_TRUE(contains(r.out, "FAILED: " + name)) << r.describe();
        EXPECT_TRUE(contains(r.out, says)) << r.describe();
    }
    health.stop();
    server.join();

    // A check the config cannot run is caught by config check, with its line.
    write_config(base + check("name = \"x\"\nsql = \"SELECT 1\"\n"));
    RunResult cfgcheck = coffer({"config", "check"});
    EXPECT_NE(cfgcheck.exit_code, 0);
    EXPECT_TRUE(contains(cfgcheck.err + cfgcheck.out, "source is required with sql"))
        << cfgcheck.describe();
}

}  // namespace
}  // namespace coffer::e2e
