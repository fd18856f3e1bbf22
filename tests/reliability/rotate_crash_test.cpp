// Crash trials for recovery key rotation with rewrap (repo/rotation.h, repo/rewrap.h): the real
// binary runs 'coffer key rotate-recovery --rewrap' and is SIGKILLed at every mutating storage
// call (COFFER_CRASH_AT, before and after the call). After each kill:
//   - every snapshot restores byte-identical with one of the two keys, alone;
//   - finishing works the way the operator is told: with the new key and
//     --previous-recovery-key-file when the repository had moved to it, else by deleting the
//     unused new key file and running the rotation again;
//   - then the new key restores everything, verify --read-data and audit verify pass, and the
//     old key is refused: it opens nothing.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "e2e/cli_helpers.h"
#include "reliability/crash_modes.h"

namespace coffer::e2e {
namespace {

class RotateCrashTest : public ::testing::Test {
protected:
    void SetUp() override {
        data = dir / "data";
        make_dir(data);
        make_dir(data + "/sub");
        write_file(data + "/big.bin", prng_bytes(2 << 20, 1));
        for (int i = 0; i < 12; ++i)
            write_file(data + "/sub/f" + std::to_string(i), prng_bytes(300 + 50 * i, 10 + i));
        ASSERT_NO_FATAL_FAILURE(base.init());
        take_snapshot();
        write_file(data + "/sub/f3", "changed\n");
        write_file(data + "/more.bin", prng_bytes(1 << 20, 2));
        take_snapshot();
    }

    void take_snapshot() {
        nlohmann::json j = base.backup({data});
        trees[j["snapshot_id"].get<std::string>()] = scan_tree(data);
    }

    // Restores snapshot id with only the recovery key in key_file; empty when it restores
    // byte-identical, else why not.
    std::string restore_with(const Repo& r, const std::string& id, const std::string& key_file) {
        std::string target = r.base + "/restore-" + id.substr(0, 8);
        force_remove_all(target);
        RunResult res = r.run({"--recovery-key-file", key_file, "restore", id, "--target", target});
        std::string problem;
        if (res.exit_code != 0)
            problem = "restore: " + res.describe();
        else
            problem = diff_manifests(trees.at(id), scan_tree(restored(target, data)));
        force_remove_all(target);
        return problem;
    }

    // Empty when every snapshot restores with new_key alone; with both_ok, with either key.
    std::string every_snapshot(const Repo& r, const std::string& new_key, bool either) {
        for (const auto& [id, tree] : trees) {
            std::string with_new = exists(new_key) ? restore_with(r, id, new_key) : "no new key";
            if (with_new.empty()) continue;
            if (!either) return "snapshot " + id + " with the new key: " + with_new;
            std::string with_old = restore_with(r, id, r.recovery_key);
            if (!with_old.empty())
                return "snapshot " + id + " restores with neither key: new: " + with_new +
                       "\nold: " + with_old;
        }
        return "";
    }

    std::string trial(const std::string& mode, int at, int calls) {
        std::string label = "killed at mutating call " + std::to_string(at) + " of " +
                            std::to_string(calls) + " (" + mode + ")";
        std::string trial_base = dir / "trial";
        force_remove_all(trial_base);
        copy_tree(base.base, trial_base);
        Repo r(trial_base);
        std::string new_key = trial_base + "/new.key";
        RunOptions o;
        o.env["COFFER_CRASH_AT"] = std::to_string(at);
        o.env["COFFER_CRASH_MODE"] = mode;
        RunResult crashed = r.run({"--recovery-key-file", r.recovery_key, "key", "rotate-recovery",
                                   "--rewrap", "--out", new_key},
                                  Keys::host, o);
        if (crashed.exit_code != 137 && crashed.exit_code != 0)
            return label + ": failed instead of dying: " + crashed.describe();
        if (std::string p = every_snapshot(r, new_key, true); !p.empty()) return label + ": " + p;

        // Finish as the operator is told to.
        RunResult finish = r.run({"--recovery-key-file", new_key, "--previous-recovery-key-file",
                                  r.recovery_key, "key", "rotate-recovery", "--rewrap"});
        if (finish.exit_code != 0) {
            // Killed before the config changed: the old key is still the repository's, and
            // the new key file (if written) holds a key nothing uses.
            RunResult still = r.run({"snapshots"}, Keys::both);
            if (still.exit_code != 0)
                return label + ": finishing fails (" + finish.describe() +
                       ") and the old key is not the current one either: " + still.describe();
            force_remove_all(new_key);
            RunResult again = r.run({"--recovery-key-file", r.recovery_key, "key",
                                     "rotate-recovery", "--rewrap", "--out", new_key});
            if (again.exit_code != 0) return label + ": rotating again fails: " + again.describe();
        }
        if (std::string p = every_snapshot(r, new_key, false); !p.empty())
            return label + " (finished): " + p;
        RunResult v = r.run({"--recovery-key-file", new_key, "verify", "--read-data"});
        if (v.exit_code != 0) return label + " (finished): verify --read-data: " + v.describe();
        RunResult a = r.run({"audit", "verify"});
        if (a.exit_code != 0) return label + " (finished): audit verify: " + a.describe();
        RunResult old = r.run({"ls", "latest"}, Keys::both);
        if (old.exit_code != 6 || !contains(old.err, "rotated out"))
            return label + " (finished): the old key still opens the repository: " + old.describe();
        force_remove_all(trial_base);
        return "";
    }

    static std::string made(const std::string& path) {
        make_dir(path);
        return path;
    }

    TempDir dir;
    Repo base{made(dir / "base")};
    std::string data;
    std::map<std::string, Manifest> trees;
};

TEST_F(RotateCrashTest, EverySnapshotRestoresWithOneOfTheKeysAtEveryCrashPoint) {
    // How many mutating calls a clean run makes, on a copy.
    std::string counted_base = dir / "counted";
    copy_tree(base.base, counted_base);
    Repo counted(counted_base);
    RunOptions count_opts;
    count_opts.env["COFFER_CRASH_COUNT"] = dir / "count";
    RunResult clean =
        counted.run({"--recovery-key-file", counted.recovery_key, "key", "rotate-recovery",
                     "--rewrap", "--out", counted_base + "/new.key"},
                    Keys::host, count_opts);
    ASSERT_EQ(clean.exit_code, 0) << clean.describe();
    const int calls = std::stoi(read_file(dir / "count"));
    ASSERT_GT(calls, 10);  // statement, staged registry, config, promotion, packs, index, removals
    force_remove_all(counted_base);

    std::vector<std::string> failures;
    int trials = 0;
    for (int at = 1; at <= calls; ++at)
        for (const std::string& mode : crash_modes_at(at, {"before", "after"})) {
            ++trials;
            if (std::string p = trial(mode, at, calls); !p.empty()) failures.push_back(p);
        }
    std::printf("rotate crash trials: %d mutating calls, %d trials, %zu failures\n", calls, trials,
                failures.size());
    for (size_t i = 0; i < failures.size() && i < 5; ++i) ADD_FAILURE() << failures[i];
    EXPECT_TRUE(failures.empty()) << failures.size() << " of " << trials << " trials failed";
}

}  // namespace
}  // namespace coffer::e2e
