// End-to-end: forget and prune through the real binary. Retention plans (flags and a set's
// retention in coffer.toml), space actually freed with every kept snapshot restoring, prune
// refused while a backup holds its lease, backups and prunes racing from two processes, prune
// killed at many points, and stale locks from killed processes reported and removed.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

// The data of generation i: deterministic, so any snapshot can be checked after the fact.
void write_generation(const std::string& dir, int i) {
    write_file(dir + "/gen.bin", prng_bytes(400000 + 1000 * i, 1000 + i));
    write_file(dir + "/gen.txt", "generation " + std::to_string(i) + "\n");
}

void expect_generation(const std::string& dir, int i, const std::string& what) {
    EXPECT_EQ(read_file(dir + "/gen.bin"), prng_bytes(400000 + 1000 * i, 1000 + i)) << what;
    EXPECT_EQ(read_file(dir + "/gen.txt"), "generation " + std::to_string(i) + "\n") << what;
}

class PruneCli : public ::testing::Test {
protected:
    void SetUp() override {
        repo.init();
        make_dir(data);
        write_file(data + "/stable.bin", prng_bytes(300000, 7));
    }

    // Backs up generation i, tagged gen-i; returns the snapshot id.
    std::string backup_generation(int i) {
        write_generation(data, i);
        return repo.backup({data, "--tag", "gen-" + std::to_string(i)})["snapshot_id"];
    }

    nlohmann::json snapshots() {
        RunResult r = repo.run({"snapshots", "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.describe();
        return r.json();
    }

    // verify --read-data passes, and every snapshot restores to the generation in its tag.
    void expect_all_snapshots_restore(const std::string& when) {
        RunResult v = repo.run({"verify", "--read-data"}, Keys::both);
        EXPECT_EQ(v.exit_code, 0) << when << ": " << v.describe();
        for (const auto& s : snapshots()) {
            std::string tag = s["tags"].empty() ? "" : s["tags"][0].get<std::string>();
            if (tag.rfind("gen-", 0) != 0) continue;
            int gen = std::stoi(tag.substr(4));
            std::string target = tmp / ("restore-" + s["short_id"].get<std::string>());
            RunResult r = repo.run({"restore", s["id"], "--target", target, "-q"}, Keys::both);
            ASSERT_EQ(r.exit_code, 0) << when << ": " << r.describe();
            expect_generation(restored(target, data), gen, when + ", snapshot " + tag);
            EXPECT_EQ(read_file(restored(target, data) + "/stable.bin"), prng_bytes(300000, 7));
            force_remove_all(target);
        }
    }

    // The repository's lock objects (a killed writer may also leave a local store temp file,
    // which is no object).
    std::vector<std::string> lock_objects() {
        std::vector<std::string> out;
        if (!exists(repo.repo + "/locks")) return out;
        for (const auto& f : list_files(repo.repo + "/locks"))
            if (f.find(".tmp-") == std::string::npos) out.push_back(f);
        return out;
    }

    TempDir tmp;
    Repo repo{tmp.path()};
    std::string data = tmp / "data";
};

TEST_F(PruneCli, ForgetPrintsAPlanWithTheRuleThatKeepsEachSnapshot) {
    for (int i = 0; i < 5; ++i) backup_generation(i);
    RunResult dry = repo.run({"forget", "--keep-last", "2", "--dry-run", "--json"});
    ASSERT_EQ(dry.exit_code, 0) << dry.describe();
    nlohmann::json plan = dry.json();
    ASSERT_EQ(plan["groups"].size(), 1u) << dry.out;
    const auto& list = plan["groups"][0]["snapshots"];
    ASSERT_EQ(list.size(), 5u);
    int kept = 0;
    for (const auto& s : list) {
        if (!s["keep"].get<bool>()) {
            EXPECT_TRUE(s["reasons"].empty());
            continue;
        }
        kept++;
        EXPECT_TRUE(contains(s["reasons"].dump(), "last")) << s.dump();
    }
    EXPECT_EQ(kept, 2);
    EXPECT_EQ(plan["removed"], 3);
    EXPECT_EQ(snapshots().size(), 5u) << "a dry run removes nothing";

    RunResult text = repo.run({"forget", "--keep-last", "2"});
    ASSERT_EQ(text.exit_code, 0) << text.describe();
    EXPECT_TRUE(contains(text.out, "keep 2, remove 3 (keep-last 2)")) << text.out;
    EXPECT_TRUE(contains(text.out, "newest, last 1")) << text.out;
    auto left = snapshots();
    ASSERT_EQ(left.size(), 2u);
    EXPECT_EQ(left[1]["tags"][0], "gen-4");
    // The chain has gaps now; the tombstone explains them.
    RunResult v = repo.run({"verify"});
    EXPECT_EQ(v.exit_code, 0) << v.describe();
}

TEST_F(PruneCli, ForgetWithoutAPolicyIsRefused) {
    backup_generation(0);
    RunResult r = repo.run({"forget"});
    EXPECT_EQ(r.exit_code, 4) << r.describe();  // no config file to take retention from
    EXPECT_TRUE(r.one_line_error()) << r.describe();
    RunResult bad = repo.run({"forget", "--keep-within", "soon"});
    EXPECT_EQ(bad.exit_code, 2) << bad.describe();
    EXPECT_TRUE(bad.one_line_error()) << bad.describe();
}

TEST_F(PruneCli, ForgetAppliesEachSetsRetentionFromTheConfig) {
    std::string cfg = tmp / "coffer.toml";
    write_file(cfg, "[repository]\nurl = " + toml(repo.repo) +
                        "\nhost_key = " + toml(repo.host_key) + "\n\n[[set]]\nname = \"app\"\n" +
                        "retention = { keep_last = 2 }\n[[set.source]]\nname = \"files\"\n" +
                        "type = \"files\"\npaths = [" + toml(data) + "]\n\n" +
                        "[[set]]\nname = \"keepall\"\n[[set.source]]\nname = \"files\"\n" +
                        "type = \"files\"\npaths = [" + toml(data) + "]\n");
    RunOptions o;
    o.env = repo.base_env();
    auto coffer = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"--config", cfg});
        return run_process(coffer_bin(), args, o);
    };
    for (int i = 0; i < 4; ++i) {
        write_generation(data, i);
        ASSERT_EQ(coffer({"backup", "--set", "app", "-q"}).exit_code, 0);
        ASSERT_EQ(coffer({"backup", "--set", "keepall", "-q"}).exit_code, 0);
    }
    backup_generation(9);  // a plain path backup: no policy applies to it
    RunResult r = coffer({"forget"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "set app on")) << r.out;
    EXPECT_FALSE(contains(r.out, "keepall")) << r.out;
    std::map<std::string, int> per_set;
    for (const auto& s : snapshots()) per_set[s["set"]]++;
    EXPECT_EQ(per_set["app"], 2);
    EXPECT_EQ(per_set["keepall"], 4);
    EXPECT_EQ(per_set[""], 1);
    RunResult none = coffer({"forget", "--set", "keepall"});
    EXPECT_EQ(none.exit_code, 2) << none.describe();
    EXPECT_TRUE(contains(none.err, "has no retention")) << none.describe();
}

TEST_F(PruneCli, PruneFreesSpaceAndEveryKeptSnapshotRestores) {
    for (int i = 0; i < 6; ++i) backup_generation(i);
    uint64_t before = total_size(repo.repo + "/packs");
    ASSERT_EQ(repo.run({"forget", "--keep-last", "2"}).exit_code, 0);
    // Within the default grace period (1h) nothing is deleted yet.
    RunResult young = repo.run({"prune"});
    ASSERT_EQ(young.exit_code, 0) << young.describe();
    EXPECT_TRUE(contains(young.out, "newer than the grace period")) << young.out;
    EXPECT_EQ(total_size(repo.repo + "/packs"), before);
    RunResult r = repo.run({"prune", "--grace", "0s", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    nlohmann::json j = r.json();
    EXPECT_GT(j["bytes_deleted"].get<uint64_t>(), 1000000u) << r.out;
    uint64_t after = total_size(repo.repo + "/packs");
    EXPECT_LT(after, before - 1000000) << "four generations of 400 kB each were freed";
    EXPECT_EQ(after, j["bytes_after"].get<uint64_t>());
    expect_all_snapshots_restore("after prune");
    // An unchanged data set backs up again after the cache lost its chunks.
    backup_generation(5);
    expect_all_snapshots_restore("after a backup following prune");
}

TEST_F(PruneCli, PruneIsRefusedWhileABackupHoldsItsLease) {
    // A set whose command source takes a while: the backup holds its lease meanwhile.
    std::string cfg = tmp / "coffer.toml";
    std::string flag = tmp / "started";
    write_file(cfg, "[repository]\nurl = " + toml(repo.repo) +
                        "\nhost_key = " + toml(repo.host_key) + "\n\n[[set]]\nname = \"slow\"\n" +
                        "[[set.source]]\nname = \"dump\"\ntype = \"command\"\n" +
                        "backup_command = " + toml("touch '" + flag + "'; sleep 4; echo data") +
                        "\n");
    backup_generation(0);
    RunOptions o;
    o.env = repo.base_env();
    RunResult slow;
    std::thread backup([&] {
        slow = run_process(coffer_bin(), {"--config", cfg, "backup", "--set", "slow", "-q"}, o);
    });
    for (int i = 0; i < 100 && !exists(flag); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    RunResult p = repo.run({"prune", "--grace", "0s"});
    backup.join();
    EXPECT_EQ(p.exit_code, 8) << p.describe();
    EXPECT_TRUE(p.one_line_error()) << p.describe();
    EXPECT_TRUE(contains(p.err, "a backup is running")) << p.describe();
    EXPECT_TRUE(contains(p.err, "backup --set slow")) << p.describe();
    EXPECT_EQ(slow.exit_code, 0) << slow.describe();
    EXPECT_TRUE(lock_objects().empty()) << "both released their locks";
    RunResult again = repo.run({"prune", "--grace", "0s"});
    EXPECT_EQ(again.exit_code, 0) << again.describe();
}

// Backups from one process while another forgets and prunes, over and over: whatever
// interleaving the two find, the repository verifies and every snapshot restores.
TEST_F(PruneCli, BackupsAndPrunesRacingFromTwoProcesses) {
    backup_generation(0);
    std::atomic<bool> done{false};
    std::vector<RunResult> failures;
    int prunes_done = 0, prunes_refused = 0;
    std::thread pruner([&] {
        while (!done.load()) {
            RunResult f = repo.run({"forget", "--keep-last", "2", "-q"});
            if (f.exit_code != 0) failures.push_back(f);
            RunResult p = repo.run({"prune", "--grace", "0s", "--max-unused", "0", "-q"});
            if (p.exit_code == 0)
                prunes_done++;
            else if (p.exit_code == 8)
                prunes_refused++;
            else
                failures.push_back(p);
        }
    });
    for (int i = 1; i <= 8; ++i) {
        write_generation(data, i);
        RunResult b = repo.run({"backup", data, "--tag", "gen-" + std::to_string(i), "-q"});
        EXPECT_EQ(b.exit_code, 0) << b.describe();
    }
    done = true;
    pruner.join();
    for (const auto& f : failures) ADD_FAILURE() << f.describe();
    EXPECT_GT(prunes_done + prunes_refused, 0);
    // One last, uncontended round, then everything must still be there.
    ASSERT_EQ(repo.run({"forget", "--keep-last", "2", "-q"}).exit_code, 0);
    ASSERT_EQ(repo.run({"prune", "--grace", "0s", "-q"}).exit_code, 0);
    auto left = snapshots();
    ASSERT_EQ(left.size(), 2u);
    EXPECT_EQ(left[1]["tags"][0], "gen-8");
    expect_all_snapshots_restore("after racing");
}

// Prune killed with SIGKILL at many moments: the repository verifies, every kept snapshot
// restores, and the next prune (which finds the dead process's lock stale) finishes the job.
TEST_F(PruneCli, PruneKilledAtManyPointsLeavesARepositoryThatVerifies) {
    for (int i = 0; i < 8; ++i) backup_generation(i);
    ASSERT_EQ(repo.run({"forget", "--keep-last", "3", "-q"}).exit_code, 0);
    std::string pristine = tmp / "pristine";
    copy_tree(repo.repo, pristine);
    int killed = 0;
    for (int ms : {1, 5, 10, 20, 30, 45, 60, 80, 110, 150}) {
        force_remove_all(repo.repo);
        copy_tree(pristine, repo.repo);
        RunOptions o;
        o.kill_after_ms = ms;
        RunResult p = repo.run({"prune", "--grace", "0s", "--max-unused", "0"}, Keys::host, o);
        std::string when = "prune killed after " + std::to_string(ms) + " ms";
        if (p.exit_code == 137)
            killed++;
        else
            ASSERT_EQ(p.exit_code, 0) << when << ": " << p.describe();
        RunResult v = repo.run({"verify"});
        EXPECT_EQ(v.exit_code, 0) << when << ": " << v.describe();
        RunResult again = repo.run({"prune", "--grace", "0s", "--max-unused", "0"});
        ASSERT_EQ(again.exit_code, 0) << when << ", then: " << again.describe();
        if (p.exit_code == 137 && !lock_objects().empty()) {
            EXPECT_TRUE(contains(again.err, "ignoring a stale lock: prune")) << again.describe();
        }
        expect_all_snapshots_restore(when);
        if (HasFatalFailure() || HasFailure()) break;
    }
    EXPECT_GT(killed, 0) << "no prune was slow enough to be killed";
}

TEST_F(PruneCli, AKilledBackupsLeaseIsReportedThenRemovedByUnlock) {
    std::string cfg = tmp / "coffer.toml";
    write_file(cfg, "[repository]\nurl = " + toml(repo.repo) +
                        "\nhost_key = " + toml(repo.host_key) + "\n\n[[set]]\nname = \"slow\"\n" +
                        "[[set.source]]\nname = \"dump\"\ntype = \"command\"\n" +
                        "backup_command = \"sleep 5; echo data\"\n");
    backup_generation(0);
    RunOptions o;
    o.env = repo.base_env();
    o.kill_after_ms = 1500;
    RunResult b = run_process(coffer_bin(), {"--config", cfg, "backup", "--set", "slow"}, o);
    ASSERT_EQ(b.exit_code, 137) << b.describe();
    ASSERT_EQ(lock_objects().size(), 1u) << "the killed backup's lease";
    RunResult p = repo.run({"prune", "--grace", "0s"});
    EXPECT_EQ(p.exit_code, 0) << p.describe();
    EXPECT_TRUE(contains(p.err, "ignoring a stale lock: backup --set slow")) << p.describe();
    EXPECT_EQ(lock_objects().size(), 1u) << "reported, not silently removed";
    RunResult u = repo.run({"unlock"}, Keys::none);
    EXPECT_EQ(u.exit_code, 0) << u.describe();
    EXPECT_TRUE(contains(u.out, "removed stale lock")) << u.out;
    EXPECT_TRUE(lock_objects().empty());
    expect_all_snapshots_restore("after unlock");
}

// Replays of what forget and prune removed, put back by someone with write access to the
// store: an index object that prune replaced (naming a pack prune deleted), and the manifest of
// a snapshot forgotten on purpose. The index is a problem naming it and the pack; the snapshot,
// which an interrupted forget can also leave, is named in a note and stays forgotten: it is
// neither listed nor restorable.
TEST_F(PruneCli, ReplayedIndexAndForgottenSnapshotAreCaught) {
    std::string forgotten = backup_generation(1);
    backup_generation(2);
    const std::string old_snapshots = tmp / "old snapshots", old_index = tmp / "old index";
    copy_tree(repo.repo + "/snapshots", old_snapshots);
    copy_tree(repo.repo + "/index", old_index);
    ASSERT_EQ(repo.run({"forget", "--keep-last", "1"}).exit_code, 0);
    RunResult p = repo.run({"prune", "--grace", "0s", "--max-unused", "0"});
    ASSERT_EQ(p.exit_code, 0) << p.describe();

    write_file(repo.repo + "/snapshots/" + forgotten, read_file(old_snapshots + "/" + forgotten));
    RunResult v = repo.run({"verify", "--read-data"}, Keys::both);
    EXPECT_EQ(v.exit_code, 0) << v.describe();
    EXPECT_TRUE(contains(v.err + v.out, forgotten + " was forgotten")) << v.describe();
    for (const auto& s : snapshots()) EXPECT_NE(s["id"], forgotten);
    RunResult r = repo.run({"restore", forgotten, "--target", tmp / "r"}, Keys::both);
    EXPECT_EQ(r.exit_code, 4) << r.describe();
    EXPECT_FALSE(exists(tmp / "r"));

    // Old index objects that only describe packs prune kept are redundant, not wrong; the one
    // naming the pack prune deleted must be caught.
    std::vector<std::string> replayed;
    for (const auto& name : list_files(old_index))
        if (!exists(repo.repo + "/index/" + name)) {
            write_file(repo.repo + "/index/" + name, read_file(old_index + "/" + name));
            replayed.push_back(name);
        }
    ASSERT_FALSE(replayed.empty()) << "prune replaced no index object";
    for (Keys keys : {Keys::host, Keys::both}) {
        RunResult bad = repo.run({"verify"}, keys);
        EXPECT_EQ(bad.exit_code, 5) << bad.describe();
        EXPECT_TRUE(contains(bad.out, "references pack")) << bad.describe();
        EXPECT_TRUE(contains(bad.out, "which is missing")) << bad.describe();
        bool named = false;
        for (const auto& name : replayed) named |= contains(bad.out, "index " + name);
        EXPECT_TRUE(named) << bad.describe();
    }
}

}  // namespace
}  // namespace coffer::e2e
