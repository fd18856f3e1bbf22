// coffer diff: what changed between two snapshots, for plain path backups and database
// sources of a set.
#include <gtest/gtest.h>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

bool contains(const nlohmann::json& arr, const std::string& s) {
    for (const auto& x : arr)
        if (x == s) return true;
    return false;
}

TEST(Diff, ShowsAddedRemovedAndChangedFiles) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string src = t / "src";
    make_dir(src);
    write_file(src + "/keep.txt", "same\n");
    write_file(src + "/gone.txt", "deleted later\n");
    write_file(src + "/edit.txt", "v1\n");
    std::string first = r.backup({src})["snapshot_id"];
    force_remove_all(src + "/gone.txt");
    write_file(src + "/edit.txt", "v2, longer\n");
    write_file(src + "/new.txt", "new\n");
    std::string second = r.backup({src})["snapshot_id"];

    RunResult d = r.run({"diff", first, second, "--json"}, Keys::both);
    ASSERT_EQ(d.exit_code, 0) << d.describe();
    nlohmann::json j = d.json();
    EXPECT_TRUE(contains(j["added"], src + "/new.txt")) << j.dump();
    EXPECT_TRUE(contains(j["removed"], src + "/gone.txt")) << j.dump();
    EXPECT_TRUE(contains(j["changed"], src + "/edit.txt")) << j.dump();
    EXPECT_FALSE(contains(j["changed"], src + "/keep.txt")) << j.dump();

    // Names are sealed: the host key alone cannot diff.
    RunResult host_only = r.run({"diff", first, second}, Keys::host);
    EXPECT_EQ(host_only.exit_code, 6) << host_only.describe();
}

TEST(Diff, ShowsRowCountsOfADroppedTable) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string db = t / "app.db";
    RunResult made = run_process("/usr/bin/sqlite3",
                                 {db,
                                  "CREATE TABLE users(id); CREATE TABLE audit(id);"
                                  "INSERT INTO users VALUES (1),(2),(3);"
                                  "INSERT INTO audit VALUES (1),(2);"},
                                 {});
    ASSERT_EQ(made.exit_code, 0) << made.describe();
    const std::string config = t / "coffer.toml";
    write_file(config, "[repository]\nurl = \"" + r.repo + "\"\nhost_key = \"" + r.host_key +
                           "\"\nrecovery_key_file = \"" + r.recovery_key +
                           "\"\n\n[[set]]\nname = \"app\"\nmax_shrink = 1.0\n\n"
                           "  [[set.source]]\n  name = \"state\"\n  type = \"sqlite\"\n"
                           "  path = \"" +
                           db + "\"\n");
    auto backup = [&] {
        RunResult b = r.run({"--config", config, "backup", "--set", "app", "--json"}, Keys::none);
        EXPECT_EQ(b.exit_code, 0) << b.describe();
        return b.json()["snapshot_id"].get<std::string>();
    };
    std::string first = backup();
    ASSERT_EQ(
        run_process("/usr/bin/sqlite3", {db, "DROP TABLE audit; DELETE FROM users WHERE id=3;"}, {})
            .exit_code,
        0);
    std::string second = backup();

    RunResult d = r.run({"--config", config, "diff", first, second, "--source", "state", "--json"},
                        Keys::none);
    ASSERT_EQ(d.exit_code, 0) << d.describe();
    SCOPED_TRACE(d.out);
    const nlohmann::json out = d.json();  // a named value: the loop must not outlive it
    std::map<std::string, std::pair<int64_t, int64_t>> rows;
    for (const auto& x : out["tables"]) rows[x["table"]] = {x["before"], x["after"]};
    EXPECT_EQ(rows["audit"], std::make_pair(int64_t{2}, int64_t{-1}));  // dropped
    EXPECT_EQ(rows["users"], std::make_pair(int64_t{3}, int64_t{2}));
}

}  // namespace
}  // namespace coffer::e2e
