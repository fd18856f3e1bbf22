// End-to-end: `coffer mirror` from a local repository to S3 and from S3 to a local directory.
// After mirroring, each mirror verifies on its own (every chunk read) and restores the same
// bytes; a mirror interrupted by a failing server is resumed by running it again; --check
// reports how far a mirror lags.
#include <gtest/gtest.h>

#include "e2e/cli_helpers.h"
#include "s3/fault_proxy.h"
#include "s3/s3_test_env.h"

namespace coffer::e2e {
namespace {

using s3::testing::FaultProxy;
using s3::testing::ProxyRule;
using Action = ProxyRule::Action;

class MirrorCli : public ::testing::Test {
protected:
    void SetUp() override {
        endpoint = s3::testing::endpoint();
        if (endpoint.empty()) return;
        setenv("AWS_ACCESS_KEY_ID", s3::testing::options(endpoint).access_key_id.c_str(), 0);
        setenv("AWS_SECRET_ACCESS_KEY", s3::testing::options(endpoint).secret_access_key.c_str(),
               0);
        bucket = s3::testing::fresh_bucket();
        make_dir(src);
        write_file(src + "/big.bin", prng_bytes(5 << 20, 11));
        for (int i = 0; i < 30; ++i)
            write_file(src + "/f" + std::to_string(i), prng_bytes(2000 + i * 31, 50 + i));
        before = scan_tree(src);
    }
    std::string s3_url(const std::string& ep, const std::string& prefix) const {
        return "s3:" + ep + "/" + bucket + "/" + prefix;
    }
    // The same keys, another location.
    Repo at(const std::string& location) const {
        Repo m = primary;
        m.repo = location;
        return m;
    }
    void expect_standalone(const Repo& mirror, const std::string& label) {
        SCOPED_TRACE(label);
        RunResult v = mirror.run({"verify", "--read-data"}, Keys::both);
        EXPECT_EQ(v.exit_code, 0) << v.describe();
        RunResult snaps = mirror.run({"snapshots", "--json"}, Keys::host);
        ASSERT_EQ(snaps.exit_code, 0) << snaps.describe();
        EXPECT_EQ(snaps.json().size(), 2u);
        std::string target = dir / ("restored " + label);
        RunResult res = mirror.run({"restore", "latest", "--target", target}, Keys::both);
        ASSERT_EQ(res.exit_code, 0) << res.describe();
        EXPECT_EQ(diff_manifests(before, scan_tree(restored(target, src))), "");
    }

    std::string endpoint, bucket;
    TempDir dir;
    Repo primary{dir.path()};
    std::string src = dir / "src";
    Manifest before;
};

TEST_F(MirrorCli, LocalToS3AndS3ToLocal) {
    ASSERT_NO_FATAL_FAILURE(primary.init());
    primary.backup({src});
    write_file(src + "/late.txt", "written between the backups\n");
    before = scan_tree(src);
    primary.backup({src});

    // Local -> S3.
    std::string on_s3 = s3_url(endpoint, "mirror one");
    RunResult m = primary.run({"mirror", "--to", on_s3, "--json"}, Keys::none);
    ASSERT_EQ(m.exit_code, 0) << m.describe();
    EXPECT_GT(m.json()["mirrors"][0]["objects_copied"].get<int>(), 5) << m.out;
    expect_standalone(at(on_s3), "s3 mirror");

    // S3 -> local, the S3 mirror now being the source.
    std::string local = dir / "local mirror";
    RunResult back = at(on_s3).run({"mirror", "--to", local}, Keys::none);
    ASSERT_EQ(back.exit_code, 0) << back.describe();
    expect_standalone(at(local), "local mirror of the s3 mirror");

    // Nothing left to copy; --check says both are current.
    RunResult check =
        primary.run({"mirror", "--check", "--to", on_s3, "--to", local, "--json"}, Keys::host);
    EXPECT_EQ(check.exit_code, 0) << check.describe();
    const nlohmann::json locations = check.json()["locations"];
    for (const auto& loc : locations) {
        if (loc["role"] != "mirror") continue;
        EXPECT_EQ(loc["missing_objects"], 0) << check.out;
    }
}

TEST_F(MirrorCli, AnInterruptedMirrorResumesAndCheckShowsTheLag) {
    ASSERT_NO_FATAL_FAILURE(primary.init());
    primary.backup({src});
    primary.backup({src});
    FaultProxy proxy(endpoint);
    ASSERT_TRUE(proxy.ok());
    // The server starts failing every upload after the 4th, and keeps failing.
    proxy.add_rule({.action = Action::status,
                    .method = "PUT",
                    .skip = 4,
                    .times = -1,
                    .status = 500,
                    .code = "InternalError"});
    std::string through_proxy = s3_url(proxy.endpoint(), "mirror two");
    std::string direct = s3_url(endpoint, "mirror two");
    RunResult broken = primary.run({"mirror", "--to", through_proxy}, Keys::none);
    EXPECT_NE(broken.exit_code, 0) << broken.describe();
    EXPECT_TRUE(contains(broken.err, "run it again to resume")) << broken.describe();

    RunResult lagging = primary.run({"mirror", "--check", "--to", direct}, Keys::host);
    EXPECT_EQ(lagging.exit_code, 3) << lagging.describe();
    EXPECT_TRUE(contains(lagging.out, "behind by")) << lagging.describe();

    RunResult resumed = primary.run({"mirror", "--to", direct, "--json"}, Keys::none);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.describe();
    EXPECT_GT(resumed.json()["mirrors"][0]["objects_present"].get<int>(), 0) << resumed.out;
    expect_standalone(at(direct), "resumed mirror");
}

TEST_F(MirrorCli, MirrorsComeFromTheConfigAndAnotherRepositoryIsRefused) {
    ASSERT_NO_FATAL_FAILURE(primary.init());
    primary.backup({src});
    primary.backup({src});
    Repo other(dir.path(), "other");
    ASSERT_NO_FATAL_FAILURE(other.init());
    std::string cfg = dir / "coffer.toml";
    std::string local = dir / "from config";
    write_file(cfg, "[repository]\nurl = \"" + primary.repo + "\"\nmirrors = [\"" + local +
                        "\", \"" + other.repo + "\"]\n");
    RunResult m = primary.run({"--config", cfg, "mirror"}, Keys::none);
    EXPECT_EQ(m.exit_code, 7) << m.describe();
    EXPECT_TRUE(contains(m.err, "holds another repository")) << m.describe();
    expect_standalone(at(local), "mirror from the config");
}

}  // namespace
}  // namespace coffer::e2e
