// Crash consistency of a destructive set restore (restore --set NAME --confirm NAME): killed at
// any point, each source's live data is the old state or the restored one, whole, never a mix,
// a half-written file or nothing; the repository (with the safety snapshot, if it got that far)
// verifies; and running the restore again completes it, leaving no staging directory behind.
// Named crash steps (util/crash_step.h) kill it inside the two windows no storage call
// separates: between a database's rename into place and the removal of the old -wal, and between
// the files source's swap and the removal of the old tree. COFFER_CRASH_FULL=1 runs more trials.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include "e2e/set_fixture.h"
#include "reliability/crash_modes.h"

namespace coffer::e2e {
namespace {

// The test's copies of state B do not keep mtimes; what B must match is everything else.
Manifest without_times(Manifest m) {
    for (auto& [path, e] : m) e.mtime_ns = 0;
    return m;
}

class SetRestoreCrash : public SetTest {
protected:
    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(SetTest::SetUp());
        // No command source: its restore_command is the operator's, atomic or not.
        write_config("[[set]]\nname = \"app\"\n" + hooks() + sqlite_source(db) + files_source());
        ASSERT_NO_THROW(backup_set("app"));
        files_a = without_tmp(scan_tree(files));
        counts_a = Sql(db).counts();
        // State B: rows gone, a table added, files edited, removed and added, and the database
        // left with an old WAL beside it, as after an application crash.
        {
            Sql s(db);
            s.exec(
                "PRAGMA wal_autocheckpoint=0; DELETE FROM users WHERE id > 10;"
                "DELETE FROM events WHERE id % 3 = 0; DELETE FROM audit WHERE id % 3 = 0;"
                "CREATE TABLE extra(x); INSERT INTO extra VALUES(1);");
            counts_b = s.counts();
            write_file(dir / "wal copy", read_file(db + "-wal"));
        }
        write_file(db + "-wal", read_file(dir / "wal copy"));
        write_file(files + "/a.txt", "ALPHA, edited\n");
        force_remove_all(files + "/sub dir/b.bin");
        write_file(files + "/new.txt", "added after the backup\n");
        files_b = without_times(scan_tree(files));
        copy_tree(live, pristine_b);
    }

    void reset_live() {
        force_remove_all(live);
        copy_tree(pristine_b, live);
    }

    RunResult run(const std::vector<std::string>& args, RunOptions o = {}) const {
        std::vector<std::string> all{"--config", cfg};
        all.insert(all.end(), args.begin(), args.end());
        for (auto& [k, v] : repo.base_env()) o.env.try_emplace(k, v);
        o.env.try_emplace("TMPDIR", tmp);
        return run_process(coffer_bin(), all, o);
    }
    RunResult restore(RunOptions o = {}) const {
        return run({"restore", "--set", "app", "--confirm", "app"}, o);
    }

    // "A" (restored), "B" (as before the restore) or what is wrong.
    std::string files_state() const {
        Manifest now = scan_tree(files);
        if (diff_manifests(files_a, now).empty()) return "A";
        if (diff_manifests(files_b, without_times(now)).empty()) return "B";
        return "files are neither the old tree nor the restored one:\n" +
               diff_manifests(files_a, now);
    }
    std::string db_state() const {
        try {
            Sql s(db);
            std::string ic = s.text("PRAGMA integrity_check");
            if (ic != "ok") return "the database is damaged: " + ic;
            bool extra = s.text("SELECT count(*) FROM sqlite_schema WHERE name = 'extra'") == "1";
            auto counts = s.counts();
            if (counts == counts_a && !extra) return "A";
            if (counts == counts_b && extra) return "B";
            return "the database is neither the old one nor the restored one (users " +
                   std::to_string(counts["users"]) + ")";
        } catch (const std::exception& e) {
            return std::string("the database does not open: ") + e.what();
        }
    }
    // Empty when the live data is whole (old or new per source) and the repository verifies.
    std::string after_crash(const std::string& label) const {
        std::string f = files_state(), d = db_state();
        if (f != "A" && f != "B") return label + ": " + f;
        if (d != "A" && d != "B") return label + ": " + d;
        RunResult v = run({"verify", "--read-data"});
        if (v.exit_code != 0) return label + ": verify --read-data: " + v.describe();
        return "";
    }
    // Empty when a rerun completes the restore and leaves nothing of the killed one.
    std::string after_rerun(const std::string& label) {
        RunResult again = restore();
        if (again.exit_code != 0) return label + ": the rerun fails: " + again.describe();
        if (files_state() != "A") return label + ": after the rerun, " + files_state();
        if (db_state() != "A") return label + ": after the rerun, " + db_state();
        if (auto left = leftovers(live); !left.empty())
            return label + ": the rerun left " + left.front();
        if (exists(db + "-wal") && !read_file(db + "-wal").empty())
            return label + ": the old WAL is still beside the restored database";
        return "";
    }

    Manifest files_a, files_b;
    std::map<std::string, int64_t> counts_a, counts_b;
    std::string pristine_b = dir / "live B";
};

TEST_F(SetRestoreCrash, KilledAfterTheDatabaseRenameTheRestoredDatabaseStands) {
    reset_live();
    RunOptions o;
    o.env["COFFER_CRASH_STEP"] = "sqlite-replaced";
    RunResult killed = restore(o);
    ASSERT_EQ(killed.exit_code, 137) << killed.describe();
    EXPECT_EQ(db_state(), "A") << "the old WAL was replayed into the restored database";
    EXPECT_EQ(after_crash("killed after the rename"), "");
    EXPECT_EQ(after_rerun("killed after the rename"), "");
}

// The same window, with a live database whose WAL cannot be folded in: its file is gone, or it
// is damaged. Its -wal still goes before the restored file takes its place.
TEST_F(SetRestoreCrash, KilledAfterTheRenameNoStaleWalOfAGoneOrDamagedDatabaseReplays) {
    for (bool gone : {true, false}) {
        SCOPED_TRACE(gone ? "database file gone" : "database file damaged");
        reset_live();
        ASSERT_TRUE(exists(db + "-wal"));
        if (gone)
            force_remove_all(db);
        else
            write_file(db, prng_bytes(8192, 3));
        RunOptions o;
        o.env["COFFER_CRASH_STEP"] = "sqlite-replaced";
        RunResult killed = run({"restore", "--set", "app", "--confirm", "app", "--source", "db",
                                "--no-safety-snapshot"},
                               o);
        ASSERT_EQ(killed.exit_code, 137) << killed.describe();
        EXPECT_EQ(db_state(), "A") << "the old WAL was replayed into the restored database";
    }
}

TEST_F(SetRestoreCrash, KilledAfterTheFilesSwapTheRestoredTreeStands) {
    reset_live();
    RunOptions o;
    o.env["COFFER_CRASH_STEP"] = "files-swapped";
    RunResult killed = restore(o);
    ASSERT_EQ(killed.exit_code, 137) << killed.describe();
    EXPECT_EQ(files_state(), "A");
    EXPECT_FALSE(leftovers(live).empty()) << "the old tree should wait in its staging directory";
    EXPECT_EQ(after_crash("killed after the swap"), "");
    EXPECT_EQ(after_rerun("killed after the swap"), "");
}

TEST_F(SetRestoreCrash, KilledAnywhereEachSourceIsOldOrNewAndARerunCompletes) {
    const bool full =
        std::getenv("COFFER_CRASH_FULL") && std::string(std::getenv("COFFER_CRASH_FULL")) == "1";
    // The clean run: how many mutating storage calls, and how long.
    reset_live();
    RunOptions count;
    count.env["COFFER_CRASH_COUNT"] = dir / "restore.count";
    auto t0 = std::chrono::steady_clock::now();
    RunResult clean = restore(count);
    const int clean_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    ASSERT_EQ(clean.exit_code, 0) << clean.describe();
    const int calls = std::stoi(read_file(dir / "restore.count"));
    ASSERT_GT(calls, 0) << "the safety snapshot writes objects";

    int trials = 0;
    std::vector<std::string> failures;
    auto trial = [&](const std::string& label, const RunOptions& o) {
        reset_live();
        RunResult r = restore(o);
        trials++;
        std::string problem;
        if (r.exit_code != 0 && r.exit_code != 137)
            problem = label + ": failed instead of dying: " + r.describe();
        if (problem.empty()) problem = after_crash(label);
        if (problem.empty()) problem = after_rerun(label);
        if (!problem.empty()) failures.push_back(problem);
    };
    for (int at = 1; at <= calls; ++at)
        for (const std::string& mode : crash_modes_at(at, {"before", "after", "torn"})) {
            RunOptions o;
            o.env["COFFER_CRASH_AT"] = std::to_string(at);
            o.env["COFFER_CRASH_MODE"] = mode;
            trial("killed at mutating call " + std::to_string(at) + " (" + mode + ")", o);
        }
    std::mt19937 rng(20261201);
    for (int i = 0, n = full ? 300 : 10; i < n; ++i) {
        RunOptions o;
        o.kill_after_ms = 1 + static_cast<int>(rng() % static_cast<unsigned>(clean_ms + 1));
        trial("killed after " + std::to_string(o.kill_after_ms) + " ms of " +
                  std::to_string(clean_ms),
              o);
    }
    std::printf("crash trials: set restore: %d mutating calls, %d trials, %zu failures\n", calls,
                trials, failures.size());
    for (size_t i = 0; i < failures.size() && i < 5; ++i) ADD_FAILURE() << failures[i];
    EXPECT_EQ(failures.size(), 0u) << failures.size() << " of " << trials << " trials failed";
}

}  // namespace
}  // namespace coffer::e2e
