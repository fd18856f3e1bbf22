// Crash consistency: the real binary is killed with SIGKILL at every mutating storage call of an
// operation (COFFER_CRASH_AT, counted with COFFER_CRASH_COUNT; store/fault/crash_point_store.h),
// in three ways (before the call, after it, and with a torn temporary file as a power cut leaves
// one), and at random times. After each trial:
//   - the repository verifies with --read-data, and the audit log verifies;
//   - every snapshot that is there restores byte-identical to the tree it was taken of;
//   - the interrupted operation happened entirely or not at all: a backup's snapshot is there
//     complete or not at all, a forgotten snapshot is gone or intact, a mirror holds only whole
//     snapshots;
//   - running the operation again succeeds, and the repository still verifies.
// CI runs every crash point once per mode and a few random kills; COFFER_CRASH_FULL=1 adds
// random kills up to the full count (docs/reliability.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>

#include "e2e/cli_helpers.h"
#include "reliability/crash_modes.h"

namespace coffer::e2e {
namespace {

bool full_run() {
    const char* f = std::getenv("COFFER_CRASH_FULL");
    return f && std::string(f) == "1";
}

// A tree of small files and one that spans several chunks.
void make_tree(const std::string& root, uint64_t seed) {
    make_dir(root);
    make_dir(root + "/sub");
    write_file(root + "/big.bin", prng_bytes(3 << 20, seed));
    for (int i = 0; i < 40; ++i)
        write_file(root + (i % 2 ? "/sub/f" : "/f") + std::to_string(i),
                   prng_bytes(200 + 97 * i, seed * 1000 + i));
}

// The next version of the tree: one file changed, one removed, one added, part of big.bin new.
void change_tree(const std::string& root, uint64_t seed) {
    write_file(root + "/f4", "changed " + std::to_string(seed) + "\n");
    force_remove_all(root + "/sub/f7");
    write_file(root + "/sub/new" + std::to_string(seed), prng_bytes(5000, seed));
    std::string big = read_file(root + "/big.bin");
    big.replace(big.size() / 2, 300000, prng_bytes(300000, seed + 77));
    write_file(root + "/big.bin", big);
}

struct Outcome {
    int trials = 0;
    std::vector<std::string> failures;
};

class CrashTest : public ::testing::Test {
protected:
    void SetUp() override {
        data = dir / "data";
        ASSERT_NO_FATAL_FAILURE(base.init());
    }

    std::vector<std::string> snapshot_ids(const Repo& r, Keys keys = Keys::host) const {
        RunResult s = r.run({"snapshots", "--json"}, keys);
        if (s.exit_code != 0) throw std::runtime_error("snapshots: " + s.describe());
        std::vector<std::string> ids;
        for (const auto& j : s.json()) ids.push_back(j["id"].get<std::string>());
        return ids;
    }
    // Backs data up into base and remembers what the snapshot must restore to.
    std::string take_snapshot() {
        nlohmann::json j = base.backup({data});
        std::string id = j["snapshot_id"];
        trees[id] = scan_tree(data);
        return id;
    }

    // Empty when the trial's repository is sound; else what is wrong.
    // keys: Keys::both checks as this host (and its audit log too); Keys::recovery as an
    // auditor elsewhere, with the recovery key only, leaves no trace in the repository.
    std::string check(const Repo& r, const std::string& label, Keys keys = Keys::both) const {
        RunResult v = r.run({"verify", "--read-data"}, keys);
        if (v.exit_code != 0) return label + ": verify --read-data: " + v.describe();
        if (keys == Keys::both) {
            RunResult a = r.run({"audit", "verify"});
            if (a.exit_code != 0) return label + ": audit verify: " + a.describe();
        }
        for (const auto& id : snapshot_ids(r, keys)) {
            auto want = trees.find(id);
            if (want == trees.end()) {
                // A backup interrupted after its snapshot was written: it must be the new tree.
                if (!next_tree) return label + ": unknown snapshot " + id;
            }
            const Manifest& expected = want == trees.end() ? *next_tree : want->second;
            std::string target = r.base + "/restore-" + id.substr(0, 8);
            RunResult res = r.run({"restore", id, "--target", target}, keys);
            if (res.exit_code != 0) return label + ": restore " + id + ": " + res.describe();
            std::string diff = diff_manifests(expected, scan_tree(restored(target, data)));
            force_remove_all(target);
            if (!diff.empty()) return label + ": snapshot " + id + " restores wrong:\n" + diff;
        }
        return "";
    }

    // Runs op on a copy of base killed at each crash point in each mode, and at random times;
    // then invariant(copy) and a clean rerun of op. "{base}" in op is the copy's directory.
    // Returns the trials and failures.
    // after_rerun, when given, checks what the rerun left (a restore's target, say).
    Outcome sweep(const std::string& name, const std::vector<std::string>& op,
                  const std::function<std::string(const Repo&)>& invariant, Keys keys = Keys::host,
                  const std::function<std::string(const Repo&)>& after_rerun = {},
                  int ci_random_kills = 3) {
        Outcome out;
        auto op_in = [&](const Repo& r) {
            std::vector<std::string> args = op;
            for (auto& a : args)
                if (auto at = a.find("{base}"); at != std::string::npos) a.replace(at, 6, r.base);
            return args;
        };
        // How many mutating calls op makes, and how long it takes, on an untouched copy.
        const std::string count_file = dir / (name + ".count");
        std::string counted_base = dir / (name + "-counted");
        copy_tree(base.base, counted_base);
        Repo counted(counted_base);
        RunOptions count_opts;
        count_opts.env["COFFER_CRASH_COUNT"] = count_file;
        auto t0 = std::chrono::steady_clock::now();
        RunResult clean = counted.run(op_in(counted), keys, count_opts);
        const int clean_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now() - t0)
                                                  .count());
        if (clean.exit_code != 0) {
            out.failures.push_back(name +
                                   ": the operation fails without a crash: " + clean.describe());
            return out;
        }
        const int calls = std::stoi(read_file(count_file));
        force_remove_all(counted_base);

        auto trial = [&](const std::string& label, RunOptions o) {
            std::string trial_base = dir / "trial";
            force_remove_all(trial_base);
            copy_tree(base.base, trial_base);
            Repo r(trial_base);
            RunResult crashed = r.run(op_in(r), keys, o);
            out.trials++;
            std::string problem;
            if (crashed.exit_code != 0 && crashed.exit_code != 137)
                problem = label + ": failed instead of dying: " + crashed.describe();
            if (problem.empty()) problem = check(r, label);
            if (problem.empty()) problem = invariant(r);
            if (problem.empty()) {
                RunResult again = r.run(op_in(r), keys);
                if (again.exit_code != 0)
                    problem = label + ": rerun after the crash fails: " + again.describe();
                else
                    problem = check(r, label + " (after the rerun)");
                if (problem.empty() && after_rerun) problem = after_rerun(r);
                if (!problem.empty() && problem.find(label) == std::string::npos)
                    problem = label + ": " + problem;
            }
            if (!problem.empty()) out.failures.push_back(problem);
            force_remove_all(trial_base);
        };
        for (int at = 1; at <= calls; ++at)
            for (const std::string& mode : crash_modes_at(at, {"before", "after", "torn"})) {
                RunOptions o;
                o.env["COFFER_CRASH_AT"] = std::to_string(at);
                o.env["COFFER_CRASH_MODE"] = mode;
                trial(name + " killed at mutating call " + std::to_string(at) + " of " +
                          std::to_string(calls) + " (" + mode + ")",
                      o);
            }
        std::mt19937 rng(static_cast<unsigned>(std::hash<std::string>{}(name)));
        const int random_kills = full_run() ? 800 - 3 * calls : ci_random_kills;
        for (int i = 0; i < random_kills; ++i) {
            RunOptions o;
            o.kill_after_ms = 1 + static_cast<int>(rng() % static_cast<unsigned>(clean_ms + 1));
            trial(name + " killed after " + std::to_string(o.kill_after_ms) + " ms of " +
                      std::to_string(clean_ms),
                  o);
        }
        std::printf("crash trials: %s: %d mutating calls, %d trials, %zu failures\n", name.c_str(),
                    calls, out.trials, out.failures.size());
        return out;
    }

    static void expect_none(const Outcome& o) {
        EXPECT_GT(o.trials, 0);
        for (size_t i = 0; i < o.failures.size() && i < 5; ++i) ADD_FAILURE() << o.failures[i];
        EXPECT_EQ(o.failures.size(), 0u)
            << o.failures.size() << " of " << o.trials << " trials failed";
    }

    static std::string made(const std::string& path) {
        make_dir(path);
        return path;
    }

    TempDir dir;
    Repo base{made(dir / "base")};
    std::string data;
    std::map<std::string, Manifest> trees;  // snapshot id -> the tree it was taken of
    std::optional<Manifest> next_tree;      // what a backup under test saves
};

TEST_F(CrashTest, BackupIsAllOrNothing) {
    make_tree(data, 1);
    std::string first = take_snapshot();
    change_tree(data, 2);
    next_tree = scan_tree(data);
    expect_none(sweep("backup", {"backup", data}, [&](const Repo& r) -> std::string {
        auto ids = snapshot_ids(r);
        if (std::find(ids.begin(), ids.end(), first) == ids.end())
            return "the earlier snapshot is gone";
        if (ids.size() > 2) return "more than one new snapshot";
        return "";
    }));
}

TEST_F(CrashTest, ForgetAndPruneLoseNothingKept) {
    make_tree(data, 1);
    take_snapshot();
    change_tree(data, 2);
    take_snapshot();
    change_tree(data, 3);
    std::string newest = take_snapshot();
    auto kept = [&](const Repo& r) -> std::string {
        auto ids = snapshot_ids(r);
        return std::find(ids.begin(), ids.end(), newest) == ids.end() ? "the kept snapshot is gone"
                                                                      : "";
    };
    expect_none(sweep("forget", {"forget", "--keep-last", "1"}, kept));
    RunResult forget = base.run({"forget", "--keep-last", "1"});
    ASSERT_EQ(forget.exit_code, 0) << forget.describe();
    expect_none(sweep("prune", {"prune", "--grace", "0s", "--max-unused", "0"}, kept));
}

TEST_F(CrashTest, MirrorHoldsOnlyWholeSnapshots) {
    make_tree(data, 1);
    take_snapshot();
    const std::string mirror_name = "mirror";
    RunResult first = base.run({"mirror", "--to", base.base + "/" + mirror_name});
    ASSERT_EQ(first.exit_code, 0) << first.describe();
    change_tree(data, 2);
    take_snapshot();
    change_tree(data, 3);
    take_snapshot();
    // The mirror is checked as a repository of its own by an auditor elsewhere, with the
    // recovery key: the host's record of its newest snapshot is the primary's, which a mirror
    // may lag behind, and one host key keeps one audit log (this host's).
    auto mirror_sound = [&](const Repo& r) -> std::string {
        Repo m(r.base, mirror_name);
        m.recovery_key = r.recovery_key;
        std::string problem = check(m, "the mirror", Keys::recovery);
        auto primary = snapshot_ids(r);
        for (const auto& id : snapshot_ids(m, Keys::recovery))
            if (std::find(primary.begin(), primary.end(), id) == primary.end())
                problem += "\nthe mirror has a snapshot the primary lacks: " + id;
        return problem;
    };
    expect_none(sweep("mirror", {"mirror", "--to", "{base}/" + mirror_name}, mirror_sound));
}

// A restore writes no store objects but its audit entries, so most of its trials are random
// kills: 15 of each kind in CI, where 3 missed a restore that wrote into its target directly.
// A restore into a new target: the target appears complete, or not at all (its staging
// directory beside it is removed by the next restore). Into an empty directory: it holds the
// whole tree, or nothing but a .coffer-partial-* staging directory.
TEST_F(CrashTest, RestoreIsAllOrNothing) {
    make_tree(data, 1);
    std::string id = take_snapshot();
    make_dir(base.base + "/empty");
    auto entries = [](const std::string& d) {
        std::vector<std::string> out;
        for (const auto& e : std::filesystem::directory_iterator(d))
            out.push_back(e.path().filename().string());
        return out;
    };
    auto is_partial = [](const std::string& n, const std::string& prefix) {
        return n.rfind(prefix, 0) == 0;
    };
    // Complete and right, or absent; a complete one is removed so that the rerun restores.
    auto whole_or_absent = [&](const std::string& target, bool must_exist) -> std::string {
        std::error_code ec;
        if (!std::filesystem::exists(target, ec)) return must_exist ? target + " is missing" : "";
        std::vector<std::string> names = entries(target);
        bool partial = std::any_of(names.begin(), names.end(), [&](const std::string& n) {
            return is_partial(n, ".coffer-partial-");
        });
        if (partial) {
            if (must_exist) return target + " still holds a staging directory after the rerun";
            if (names.size() > 1) return target + " holds part of the tree beside its staging";
            return "";  // not at all: the next restore sweeps it
        }
        if (names.empty()) return must_exist ? target + " is empty" : "";
        std::string diff = diff_manifests(trees[id], scan_tree(restored(target, data)));
        if (!diff.empty()) return target + " looks restored and is not:\n" + diff;
        if (!must_exist)
            for (const auto& n : names) force_remove_all(target + "/" + n);
        return "";
    };
    auto new_target = [&](const Repo& r, bool after) -> std::string {
        std::string out = r.base + "/out";
        std::string problem = whole_or_absent(out, after);
        if (!problem.empty()) return problem;
        if (std::filesystem::exists(out)) force_remove_all(out);
        if (after)
            for (const auto& n : entries(r.base))
                if (is_partial(n, ".out.coffer-partial-"))
                    return "the rerun left the killed restore's staging " + n;
        return "";
    };
    expect_none(sweep(
        "restore", {"restore", id, "--target", "{base}/out"},
        [&](const Repo& r) { return new_target(r, false); }, Keys::both,
        [&](const Repo& r) { return new_target(r, true); }, 15));
    expect_none(sweep(
        "restore into an empty directory", {"restore", id, "--target", "{base}/empty"},
        [&](const Repo& r) { return whole_or_absent(r.base + "/empty", false); }, Keys::both,
        [&](const Repo& r) {
            std::string problem = whole_or_absent(r.base + "/empty", true);
            for (const auto& n : entries(r.base))
                if (problem.empty() && is_partial(n, ".empty.coffer-partial-"))
                    problem = "the rerun left the killed restore's staging " + n;
            return problem;
        },
        15));
}

// The key change there is so far (issue 10 adds more): a new audit signing key. Killed at any
// point, the log verifies from the first key, and the rotation happened (a new key, endorsed
// by the old one) or did not (the old key signs on); a rerun rotates.
TEST_F(CrashTest, AuditKeyRotationIsAllOrNothing) {
    make_tree(data, 1);
    take_snapshot();
    auto key_of = [](const Repo& r) {
        RunResult k = r.run({"audit", "key"});
        return k.exit_code == 0 ? k.out : "(audit key fails: " + k.describe() + ")";
    };
    const std::string first = key_of(base);
    ASSERT_EQ(first.rfind("(audit key fails", 0), std::string::npos) << first;
    std::string first_key = first.substr(0, first.find('\n'));
    auto anchored = [&](const Repo& r, bool rotated) -> std::string {
        RunResult v = r.run({"audit", "verify", "--trusted-key", first_key});
        if (v.exit_code != 0) return "audit verify from the first key: " + v.describe();
        std::string now = key_of(r);
        if (now.rfind("(audit key fails", 0) == 0) return now;
        if (rotated && now == first) return "the rerun did not rotate the key";
        return "";
    };
    expect_none(sweep(
        "audit rotate-key", {"audit", "rotate-key"},
        [&](const Repo& r) { return anchored(r, false); }, Keys::host,
        [&](const Repo& r) { return anchored(r, true); }));
}

}  // namespace
}  // namespace coffer::e2e
