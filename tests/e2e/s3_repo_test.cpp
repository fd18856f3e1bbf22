// End-to-end against the test S3 server (scripts/s3rver.sh): the real coffer binary on an
// s3: repository, directly and through FaultProxy (5xx, resets, truncated bodies).
#include <gtest/gtest.h>

#include <cstdlib>

#include "coffer/s3/client.h"
#include "e2e/cli_helpers.h"
#include "s3/fault_proxy.h"
#include "s3/s3_test_env.h"

namespace coffer::e2e {
namespace {

using s3::testing::FaultProxy;
using s3::testing::ProxyRule;
using Action = ProxyRule::Action;

constexpr int k_exit_exists = 7;
constexpr int k_exit_integrity = 5;

void make_source(const std::string& src) {
    make_dir(src);
    write_file(src + "/big.bin", prng_bytes(6 << 20, 1));
    write_file(src + "/hello.txt", "hello from s3\n");
    make_dir(src + "/many");
    for (int i = 0; i < 60; ++i)
        write_file(src + "/many/f" + std::to_string(i), prng_bytes(1000 + i * 97, 100 + i));
}

class S3Repo : public ::testing::Test {
protected:
    void SetUp() override {
        m_endpoint = s3::testing::endpoint();
        if (m_endpoint.empty()) return;
        // The child processes take their credentials from the environment, as in production.
        setenv("AWS_ACCESS_KEY_ID", s3::testing::options(m_endpoint).access_key_id.c_str(), 0);
        setenv("AWS_SECRET_ACCESS_KEY", s3::testing::options(m_endpoint).secret_access_key.c_str(),
               0);
        auto c = s3::Client::create(s3::testing::options(m_endpoint));
        ASSERT_TRUE(c.ok()) << c.status().to_string();
        m_client = std::move(c).value();
        m_bucket = s3::testing::fresh_bucket();
    }
    // "s3:<endpoint>/<bucket>/coffer repo": a prefix with a space, so keys need encoding.
    std::string url(const std::string& endpoint) const {
        return "s3:" + endpoint + "/" + m_bucket + "/" + m_prefix;
    }
    // The key of the largest pack, read straight from the bucket.
    std::string largest_pack() {
        auto listed = m_client->list(m_bucket, m_prefix + "/packs/");
        EXPECT_TRUE(listed.ok()) << listed.status().to_string();
        std::string key;
        uint64_t size = 0;
        for (const auto& e : listed.ok() ? *listed : std::vector<s3::ListEntry>{})
            if (e.size > size) {
                size = e.size;
                key = e.key;
            }
        return key;
    }

    std::string m_endpoint;
    std::unique_ptr<s3::Client> m_client;
    std::string m_bucket;
    const std::string m_prefix = "coffer repo";
};

TEST_F(S3Repo, InitBackupDedupRestoreVerifyAndTamperDetection) {
    TempDir t;
    Repo r(t.path());
    r.repo = url(m_endpoint);
    ASSERT_NO_FATAL_FAILURE(r.init());  // also creates the bucket
    auto exists = m_client->bucket_exists(m_bucket);
    ASSERT_TRUE(exists.ok() && *exists);

    const std::string src = t / "src";
    make_source(src);
    const Manifest before = scan_tree(src);
    nlohmann::json b1 = r.backup({src});
    EXPECT_EQ(b1["summary"]["files_new"], 62) << b1.dump();
    nlohmann::json b2 = r.backup({src});
    EXPECT_EQ(b2["summary"]["files_new"], 0) << b2.dump();
    // Only the directories above the source may change (/tmp's mtime moves whenever a test
    // running beside this one creates something there): a few hundred bytes of tree.
    EXPECT_LT(b2["summary"]["data_added"].get<uint64_t>(), 1024u) << "dedup: " << b2.dump();
    EXPECT_NE(b1["snapshot_id"], b2["snapshot_id"]);

    const std::string target = t / "target";
    RunResult res = r.run({"restore", "latest", "--target", target}, Keys::both);
    ASSERT_EQ(res.exit_code, 0) << res.describe();
    EXPECT_EQ(diff_manifests(before, scan_tree(restored(target, src))), "");
    RunResult v = r.run({"verify", "--read-data"}, Keys::both);
    EXPECT_EQ(v.exit_code, 0) << v.describe();

    // init refuses a repository that is already there, and says so in one line.
    Repo again(t.path(), "again");
    again.repo = r.repo;
    RunResult init2 =
        run_process(coffer_bin(), {"--repo", again.repo, "--host-key", again.host_key, "init"},
                    {again.base_env()});
    EXPECT_EQ(init2.exit_code, k_exit_exists) << init2.describe();
    EXPECT_TRUE(init2.one_line_error()) << init2.describe();

    // Flip one byte in the middle of a pack, in the bucket itself.
    const std::string key = largest_pack();
    ASSERT_FALSE(key.empty());
    auto obj = m_client->get(m_bucket, key);
    ASSERT_TRUE(obj.ok()) << obj.status().to_string();
    obj->data[obj->data.size() / 2] ^= 0x01;
    ASSERT_TRUE(m_client->put(m_bucket, key, obj->data).ok());
    RunResult keyless = r.run({"verify"}, Keys::none);
    EXPECT_EQ(keyless.exit_code, k_exit_integrity) << keyless.describe();
    RunResult full = r.run({"verify", "--read-data"}, Keys::both);
    EXPECT_EQ(full.exit_code, k_exit_integrity) << full.describe();
    std::string pack_id = key.substr(key.rfind('/') + 1);
    EXPECT_NE(full.out.find(pack_id.substr(0, 8)) + full.err.find(pack_id.substr(0, 8)),
              2 * std::string::npos)
        << "the report names the damaged pack: " << full.describe();
}

TEST_F(S3Repo, WrongCredentialsFailInOneLineWithoutTheSecret) {
    TempDir t;
    Repo r(t.path());
    r.repo = url(m_endpoint);
    ASSERT_NO_FATAL_FAILURE(r.init());
    RunResult res =
        r.run({"snapshots"}, Keys::host, {.env = {{"AWS_SECRET_ACCESS_KEY", "not-the-secret-42"}}});
    EXPECT_NE(res.exit_code, 0) << res.describe();
    EXPECT_TRUE(res.one_line_error()) << res.describe();
    EXPECT_NE(res.err.find("403 SignatureDoesNotMatch"), std::string::npos) << res.describe();
    EXPECT_EQ(res.err.find("not-the-secret-42"), std::string::npos) << res.describe();
}

TEST_F(S3Repo, BackupThroughAFlakyNetworkCompletesAndVerifies) {
    FaultProxy proxy(m_endpoint);
    ASSERT_TRUE(proxy.ok());
    proxy.add_rule({.action = Action::status, .method = "PUT", .every = 5, .status = 503});
    proxy.add_rule({.action = Action::reset_after, .method = "PUT", .every = 7});
    proxy.add_rule({.action = Action::truncate, .method = "GET", .every = 4});
    proxy.add_rule({.action = Action::reset_before, .method = "HEAD", .every = 6});
    proxy.add_rule({.action = Action::status,
                    .method = "GET",
                    .target_contains = "list-type",
                    .every = 3,
                    .status = 500,
                    .code = "InternalError"});
    TempDir t;
    Repo r(t.path());
    r.repo = url(proxy.endpoint());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string src = t / "src";
    make_source(src);
    const Manifest before = scan_tree(src);
    r.backup({src});
    write_file(src + "/hello.txt", "changed\n");
    r.backup({src});
    const Manifest after = scan_tree(src);
    const std::string target = t / "target";
    RunResult res = r.run({"restore", "latest", "--target", target}, Keys::both);
    ASSERT_EQ(res.exit_code, 0) << res.describe();
    EXPECT_EQ(diff_manifests(after, scan_tree(restored(target, src))), "");
    EXPECT_GT(proxy.faults_injected(), 5u) << "the proxy should have broken some requests";

    // Verified directly against the server, not through the proxy.
    Repo direct = r;
    direct.repo = url(m_endpoint);
    RunResult v = direct.run({"verify", "--read-data"}, Keys::both);
    EXPECT_EQ(v.exit_code, 0) << v.describe();
}

TEST_F(S3Repo, ABackupThatCannotFinishFailsClearlyAndLeavesAVerifiableRepository) {
    FaultProxy proxy(m_endpoint);
    ASSERT_TRUE(proxy.ok());
    TempDir t;
    Repo r(t.path());
    r.repo = url(proxy.endpoint());
    ASSERT_NO_FATAL_FAILURE(r.init());
    const std::string src = t / "src";
    make_source(src);
    r.backup({src});
    // The server keeps failing every write of a snapshot manifest.
    write_file(src + "/hello.txt", "changed\n");
    proxy.add_rule({.action = Action::status,
                    .method = "PUT",
                    .target_contains = "/snapshots/",
                    .times = -1,
                    .status = 503});
    RunResult res = r.run({"backup", src});
    EXPECT_EQ(res.exit_code, 1) << res.describe();
    EXPECT_TRUE(res.one_line_error()) << res.describe();
    EXPECT_NE(res.err.find("503 SlowDown"), std::string::npos) << res.describe();
    EXPECT_NE(res.err.find("gave up after 5 attempts"), std::string::npos) << res.describe();

    proxy.clear_rules();
    RunResult list = r.run({"snapshots", "--json"}, Keys::host);
    ASSERT_EQ(list.exit_code, 0) << list.describe();
    EXPECT_EQ(list.json().size(), 1u) << list.out;
    RunResult v = r.run({"verify", "--read-data"}, Keys::both);
    EXPECT_EQ(v.exit_code, 0) << v.describe();
    // And the next backup goes through.
    RunResult again = r.run({"backup", src});
    EXPECT_EQ(again.exit_code, 0) << again.describe();
}

}  // namespace
}  // namespace coffer::e2e

namespace coffer::e2e {
namespace {

// Forget and prune on an S3 repository: without Object Lock the data goes; with it (the test
// server keeps retention and refuses early deletes, as a compliance-mode bucket does) prune
// deletes nothing it may not, says until when, and the repository stays whole.
class S3Prune : public S3Repo {
protected:
    // Three generations of a 2 MiB file; the first two are forgotten.
    void three_generations_then_forget(const Repo& r, const std::string& src) {
        make_dir(src);
        for (int i = 0; i < 3; ++i) {
            write_file(src + "/gen.bin", prng_bytes(2 << 20, 50 + i));
            r.backup({src});
        }
        RunResult f = r.run({"forget", "--keep-last", "1"});
        ASSERT_EQ(f.exit_code, 0) << f.describe();
    }
    size_t pack_count() {
        auto listed = m_client->list(m_bucket, m_prefix + "/packs/");
        EXPECT_TRUE(listed.ok());
        return listed.ok() ? listed->size() : 0;
    }
    void expect_latest_restores(const Repo& r, const std::string& src, const std::string& t) {
        RunResult v = r.run({"verify", "--read-data"}, Keys::both);
        EXPECT_EQ(v.exit_code, 0) << v.describe();
        std::string target = t + "/out";
        RunResult res = r.run({"restore", "latest", "--target", target, "-q"}, Keys::both);
        ASSERT_EQ(res.exit_code, 0) << res.describe();
        EXPECT_EQ(read_file(restored(target, src) + "/gen.bin"), prng_bytes(2 << 20, 52));
    }
};

TEST_F(S3Prune, ForgottenDataIsDeletedFromTheBucket) {
    if (m_endpoint.empty()) GTEST_SKIP() << "no test S3 server";
    TempDir t;
    Repo r(t.path());
    r.repo = url(m_endpoint);
    ASSERT_NO_FATAL_FAILURE(r.init());
    ASSERT_NO_FATAL_FAILURE(three_generations_then_forget(r, t / "src"));
    size_t before = pack_count();
    RunResult p = r.run({"prune", "--grace", "0s", "--json"});
    ASSERT_EQ(p.exit_code, 0) << p.describe();
    EXPECT_GT(p.json()["packs_deleted"].get<uint64_t>(), 0u) << p.out;
    EXPECT_LT(pack_count(), before);
    expect_latest_restores(r, t / "src", t.path());
}

TEST_F(S3Prune, ObjectLockedDataStaysAndPruneSaysUntilWhen) {
    if (m_endpoint.empty()) GTEST_SKIP() << "no test S3 server";
    TempDir t;
    Repo r(t.path());
    r.repo = url(m_endpoint);
    std::string cfg = t / "coffer.toml";
    write_file(cfg, "[repository]\nurl = " + toml(r.repo) + "\nhost_key = " + toml(r.host_key) +
                        "\nobject_lock_mode = \"compliance\"\nobject_lock_days = 1\n");
    RunOptions o;
    o.env = r.base_env();
    RunResult init = run_process(
        coffer_bin(), {"--config", cfg, "init", "--recovery-key-out", r.recovery_key}, o);
    ASSERT_EQ(init.exit_code, 0) << init.describe();
    auto coffer = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"--config", cfg});
        return run_process(coffer_bin(), args, o);
    };
    std::string src = t / "src";
    make_dir(src);
    for (int i = 0; i < 3; ++i) {
        write_file(src + "/gen.bin", prng_bytes(2 << 20, 50 + i));
        ASSERT_EQ(coffer({"backup", src, "-q"}).exit_code, 0);
    }
    ASSERT_EQ(coffer({"forget", "--keep-last", "1", "-q"}).exit_code, 0);
    size_t before = pack_count();
    RunResult p = coffer({"prune", "--grace", "0s"});
    ASSERT_EQ(p.exit_code, 0) << p.describe();
    EXPECT_TRUE(contains(p.out, "under Object Lock until")) << p.out;
    EXPECT_EQ(pack_count(), before) << "a retained pack was deleted";
    expect_latest_restores(r, src, t.path());
}

}  // namespace
}  // namespace coffer::e2e
