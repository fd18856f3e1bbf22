// End-to-end: the audit log through the real binary on a local repository. A log cut back in
// both places (local and repository) fails against the checkpoint an earlier verify saw; a
// rotated key leaves the old key a valid anchor for an export; an export altered by hand fails.
#include <gtest/gtest.h>

#include <filesystem>

#include "coffer/audit/merkle.h"
#include "coffer/audit/note.h"
#include "coffer/crypto/crypto.h"
#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

namespace fs = std::filesystem;

std::string find_file(const std::string& root, const std::string& name) {
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.path().filename() == name) return e.path().string();
    return "";
}

class AuditCli : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(repo.init());
        make_dir(src);
        write_file(src + "/a.txt", "a\n");
        for (int i = 0; i < 3; ++i) repo.backup({src});
    }
    TempDir dir;
    Repo repo{dir.path()};
    std::string src = dir / "src";
};

TEST_F(AuditCli, ALogCutBackInBothPlacesFailsAgainstWhatVerifySaw) {
    RunResult first = repo.run({"audit", "verify"});
    ASSERT_EQ(first.exit_code, 0) << first.describe();
    std::string log_path = find_file(repo.cache_dir, "log.ndjson");
    ASSERT_FALSE(log_path.empty());
    std::string log = read_file(log_path);
    // Keep the first three entries, locally and in the repository (segments and checkpoints).
    size_t cut = 0;
    for (int i = 0; i < 3; ++i) cut = log.find('\n', cut) + 1;
    write_file(log_path, log.substr(0, cut), 0600);
    std::string cps = find_file(repo.cache_dir, "checkpoints.ndjson");
    std::string cp = read_file(cps);
    size_t cp_cut = 0;
    for (int i = 0; i < 2; ++i) cp_cut = cp.find('\n', cp_cut) + 1;
    write_file(cps, cp.substr(0, cp_cut), 0600);
    for (const auto& e : fs::recursive_directory_iterator(repo.repo + "/audit")) {
        if (!e.is_regular_file()) continue;
        std::string name = e.path().filename().string();
        std::string parent = e.path().parent_path().filename().string();
        bool keep = (parent == "log" && name <= "000000000002-000000000003") ||
                    (parent == "checkpoints" && name <= "000000000003") || parent == "keys";
        if (!keep) fs::remove(e.path());
    }
    RunResult second = repo.run({"audit", "verify"});
    EXPECT_EQ(second.exit_code, 5) << second.describe();
    EXPECT_TRUE(contains(second.out, "failed")) << second.describe();
}

TEST_F(AuditCli, RotatedKeyOldKeyStillAnchorsAndAnAlteredExportFails) {
    RunResult key = repo.run({"audit", "key"});
    ASSERT_EQ(key.exit_code, 0) << key.describe();
    const std::string old_key = key.out.substr(0, key.out.find('\n'));
    RunResult rotate = repo.run({"audit", "rotate-key"});
    ASSERT_EQ(rotate.exit_code, 0) << rotate.describe();
    repo.backup({src});
    RunResult key2 = repo.run({"audit", "key"});
    const std::string new_key = key2.out.substr(0, key2.out.find('\n'));
    EXPECT_NE(new_key, old_key);
    EXPECT_EQ(repo.run({"audit", "verify"}).exit_code, 0);

    const std::string out = dir / "export";
    ASSERT_EQ(repo.run({"audit", "export", out}).exit_code, 0);
    for (const auto& k : {old_key, new_key}) {
        RunResult v =
            run_process(coffer_bin(), {"audit", "verify", "--offline", out, "--trusted-key", k});
        EXPECT_EQ(v.exit_code, 0) << v.describe();
        EXPECT_TRUE(contains(v.out, "anchored")) << v.describe();
    }
    // Another key (an attacker's) anchors nothing.
    RunResult other =
        run_process(coffer_bin(), {"audit", "verify", "--offline", out, "--trusted-key",
                                   "other+1234abcd+AdBT1vVe7EMVLGZR3mz+NqFhN5OlK3VSSpZCe0xw9ihw"});
    EXPECT_NE(other.exit_code, 0) << other.describe();
    // An inclusion proof of an entry verifies against the newest checkpoint's root.
    ASSERT_TRUE(crypto::init().ok());
    RunResult proof = repo.run({"audit", "prove", "2"});
    ASSERT_EQ(proof.exit_code, 0) << proof.describe();
    nlohmann::json p = proof.json();
    auto note = audit::parse_note(p["checkpoint"].get<std::string>());
    ASSERT_TRUE(note.ok()) << note.status().to_string();
    auto cp = audit::parse_checkpoint(note->text);
    ASSERT_TRUE(cp.ok()) << cp.status().to_string();
    EXPECT_EQ(cp->size, p["tree_size"].get<uint64_t>());
    auto leaf = crypto::base64_decode(p["leaf"].get<std::string>());
    ASSERT_TRUE(leaf);
    std::vector<Id> path;
    for (const auto& h : p["proof"])
        path.push_back(Id::from(*crypto::base64_decode(h.get<std::string>())));
    EXPECT_TRUE(audit::verify_inclusion(2, cp->size, audit::leaf_hash(*leaf), path, cp->root).ok());
    EXPECT_FALSE(
        audit::verify_inclusion(3, cp->size, audit::leaf_hash(*leaf), path, cp->root).ok());

    // The rotation is in the log, by whom.
    RunResult show = repo.run({"audit", "show", "--action", "audit.key"});
    EXPECT_TRUE(contains(show.out, "audit.key.activate")) << show.describe();
    EXPECT_TRUE(contains(show.out, "audit.key.retire")) << show.describe();
    // An entry edited in the export: the manifest no longer matches.
    std::string entries = read_file(out + "/entries.ndjson");
    entries[entries.size() / 2] ^= 1;
    write_file(out + "/entries.ndjson", entries);
    RunResult bad =
        run_process(coffer_bin(), {"audit", "verify", "--offline", out, "--trusted-key", old_key});
    EXPECT_EQ(bad.exit_code, 5) << bad.describe();
    EXPECT_TRUE(bad.one_line_error()) << bad.describe();
    // And an export directory that exists is not overwritten.
    RunResult again = repo.run({"audit", "export", out});
    EXPECT_EQ(again.exit_code, 7) << again.describe();
}

}  // namespace
}  // namespace coffer::e2e
