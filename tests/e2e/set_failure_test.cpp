// A destructive set restore that fails part-way must say so, and say where the state from
// before the restore is, since post_restore (which restarts the application) does not run.
#include <gtest/gtest.h>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

TEST(SetRestoreFailure, PartWayFailureNamesTheSafetySnapshot) {
    TempDir t;
    Repo r(t.path());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string marker = t / "post-restore-ran";
    const std::string config = t / "coffer.toml";
    write_file(config,
               "[repository]\nurl = \"" + r.repo + "\"\nhost_key = \"" + r.host_key +
                   "\"\nrecovery_key_file = \"" + r.recovery_key +
                   "\"\n\n[[set]]\nname = \"app\"\npost_restore = \"touch '" + marker +
                   "'\"\n\n  [[set.source]]\n  name = \"dump\"\n  type = \"command\"\n"
                   "  backup_command = \"echo some data\"\n"
                   "  restore_command = \"cat >/dev/null; echo loader broke >&2; exit 9\"\n");
    RunResult b = r.run({"--config", config, "backup", "--set", "app"}, Keys::none);
    ASSERT_EQ(b.exit_code, 0) << b.describe();

    RunResult res =
        r.run({"--config", config, "restore", "--set", "app", "--confirm", "app"}, Keys::none);
    EXPECT_EQ(res.exit_code, 1) << res.describe();
    EXPECT_NE(res.err.find("stopped part-way"), std::string::npos) << res.describe();
    EXPECT_NE(res.err.find("safety snapshot"), std::string::npos) << res.describe();
    EXPECT_NE(res.err.find("loader broke"), std::string::npos) << res.describe();
    EXPECT_FALSE(exists(marker)) << "post_restore must not run after a failed restore";

    RunResult list = r.run({"--config", config, "snapshots", "--json"}, Keys::none);
    ASSERT_EQ(list.exit_code, 0) << list.describe();
    const nlohmann::json snaps = list.json();
    ASSERT_EQ(snaps.size(), 2u);  // the backup and the safety snapshot
    EXPECT_EQ(snaps[1]["tags"][0], "safety-snapshot");
}

}  // namespace
}  // namespace coffer::e2e
