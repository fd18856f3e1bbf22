// End-to-end: backup sets from coffer.toml. One snapshot of a sqlite database (under concurrent
// writes), a file tree and a command's output; destructive restore behind --confirm, hooks and a
// safety snapshot; --before; and the failures that must save nothing. Drills: drill_test.cpp.
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
#include "e2e/set_fixture.h"

namespace coffer::e2e {
namespace {

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

    // The safety snapshot is the newest of the set, yet never "the latest" nor "the newest
    // before T": running the restore again (after a crash, say) restores the backup asked for.
    for (const std::vector<std::string>& pick :
         {std::vector<std::string>{}, {"--latest"}, {"--before", "2262-01-01T00:00:00Z"}}) {
        std::vector<std::string> args{"restore", "--set",    "app",
                                      "--json",  "--target", dir / "again"};
        args.insert(args.end(), pick.begin(), pick.end());
        RunResult again = coffer(args);
        ASSERT_EQ(again.exit_code, 0) << again.describe();
        EXPECT_EQ(again.json()["snapshot_id"], b["snapshot_id"]) << "picked the safety snapshot";
        force_remove_all(dir / "again");
    }
    // Retention counts safety snapshots apart: keep-last 1 keeps the backup and the safety
    // snapshot, instead of the safety snapshot alone.
    RunResult forget = coffer({"forget", "--keep-last", "1"});
    ASSERT_EQ(forget.exit_code, 0) << forget.describe();
    std::set<std::string> left;
    for (const auto& s : snapshots()) left.insert(s["id"].get<std::string>());
    EXPECT_EQ(left, (std::set<std::string>{b["snapshot_id"].get<std::string>(), safety}));
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

}  // namespace
}  // namespace coffer::e2e
