// End-to-end: the s3 source against a real S3 protocol server (s3rver, started by
// scripts/s3rver.sh). A bucket's objects, with their content types and metadata, round-trip
// through a snapshot: destructively (objects the snapshot lacks are removed), into another
// bucket, and into a directory; diff names the objects that changed.
#include <gtest/gtest.h>

#include "coffer/s3/client.h"
#include "e2e/cli_helpers.h"
#include "s3/s3_test_env.h"

namespace coffer::e2e {
namespace {

struct Stored {
    std::string data, content_type;
    std::map<std::string, std::string> metadata;
    bool operator==(const Stored&) const = default;
};

class S3SourceTest : public ::testing::Test {
protected:
    void SetUp() override {
        endpoint = s3::testing::endpoint();
        if (endpoint.empty()) return;
        auto c = s3::Client::create(s3::testing::options(endpoint));
        ASSERT_TRUE(c.ok()) << c.status().to_string();
        client = std::move(*c);
        bucket = s3::testing::fresh_bucket();
        ASSERT_TRUE(client->create_bucket(bucket).ok());
        ASSERT_NO_FATAL_FAILURE(repo.init());
        put("recordings/2026/session-1.cast", prng_bytes(3 << 20, 1), "application/x-asciicast",
            {{"user", "alice"}, {"session-id", "42"}});
        put("recordings/2026/session-2.cast", prng_bytes(70000, 2), "application/x-asciicast",
            {{"user", "bob"}});
        put("recordings/empty", "", "text/plain", {});
        put("recordings/index.json", "{\"sessions\": 2}\n", "application/json", {});
        put("outside/other.txt", "not in the prefix\n", "text/plain", {});
        write_config("s3:" + endpoint + "/" + bucket + "/recordings");
    }

    void put(const std::string& key, const std::string& data, const std::string& type,
             const std::map<std::string, std::string>& metadata) {
        s3::PutOptions o;
        o.content_type = type;
        o.metadata = metadata;
        Status st = client->put(bucket, key, to_bytes(data), o);
        ASSERT_TRUE(st.ok()) << st.to_string();
    }
    // Every object under prefix: key -> bytes, content type, metadata.
    std::map<std::string, Stored> bucket_contents(const std::string& b,
                                                  const std::string& prefix = "") const {
        std::map<std::string, Stored> out;
        auto listed = client->list(b, prefix);
        EXPECT_TRUE(listed.ok()) << listed.status().to_string();
        for (const auto& e : listed.ok() ? *listed : std::vector<s3::ListEntry>{}) {
            auto o = client->get(b, e.key);
            EXPECT_TRUE(o.ok()) << o.status().to_string();
            if (o.ok())
                out[e.key] = {std::string(as_chars(o->data)), o->meta.content_type,
                              o->meta.metadata};
        }
        return out;
    }
    void write_config(const std::string& url, const std::string& extra = "") const {
        write_file(cfg, "[repository]\nurl = " + toml(repo.repo) +
                            "\nhost_key = " + toml(repo.host_key) +
                            "\nrecovery_key_file = " + toml(repo.recovery_key) +
                            "\n\n[[set]]\nname = \"platform\"\n"
                            "[[set.source]]\nname = \"recordings\"\ntype = \"s3\"\nurl = " +
                            toml(url) + "\n" + extra);
    }
    RunResult coffer(const std::vector<std::string>& args) const {
        std::vector<std::string> all{"--config", cfg};
        all.insert(all.end(), args.begin(), args.end());
        RunOptions o;
        o.env = repo.base_env();
        o.timeout_s = 300;
        return run_process(coffer_bin(), all, o);
    }
    std::string backup() const {
        RunResult b = coffer({"backup", "--set", "platform", "--json"});
        EXPECT_EQ(b.exit_code, 0) << b.describe();
        return b.exit_code == 0 ? b.json()["snapshot_id"].get<std::string>() : "";
    }

    std::string endpoint, bucket;
    std::unique_ptr<s3::Client> client;
    TempDir dir;
    Repo repo{dir.path()};
    std::string cfg = dir / "coffer.toml";
};

TEST_F(S3SourceTest, DestructiveRestorePutsBackEveryObjectAndRemovesNewOnes) {
    auto before = bucket_contents(bucket, "recordings/");
    ASSERT_EQ(before.size(), 4u);
    std::string snapshot = backup();
    ASSERT_FALSE(snapshot.empty());

    // The accident: one recording deleted, one overwritten, one new object.
    ASSERT_TRUE(client->remove(bucket, "recordings/2026/session-2.cast").ok());
    put("recordings/2026/session-1.cast", "truncated", "text/plain", {});
    put("recordings/2026/session-3.cast", "new since the snapshot", "text/plain", {});

    RunResult unconfirmed = coffer({"restore", "--set", "platform"});
    EXPECT_EQ(unconfirmed.exit_code, 2) << unconfirmed.describe();
    EXPECT_TRUE(contains(unconfirmed.err, "4 objects")) << unconfirmed.describe();

    RunResult r = coffer({"restore", "--set", "platform", "--confirm", "platform",
                          "--no-safety-snapshot", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.json()["ok"], true) << r.out;
    EXPECT_EQ(bucket_contents(bucket, "recordings/"), before);
    // Outside the source's prefix nothing changed.
    EXPECT_EQ(bucket_contents(bucket, "outside/").size(), 1u);
}

TEST_F(S3SourceTest, IntoAnotherBucketAndIntoADirectory) {
    std::string snapshot = backup();
    ASSERT_FALSE(snapshot.empty());
    auto expected = bucket_contents(bucket, "recordings/");

    std::string other = s3::testing::fresh_bucket();
    RunResult r = coffer({"restore", "--set", "platform", "--into-bucket",
                          "s3:" + endpoint + "/" + other + "/copy", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    auto copy = bucket_contents(other, "copy/");
    ASSERT_EQ(copy.size(), expected.size());
    for (const auto& [key, stored] : expected)
        EXPECT_EQ(copy["copy/" + key.substr(std::string("recordings/").size())], stored) << key;

    // Inside the live source's scope is refused: it would be backed up and later deleted.
    RunResult inside = coffer({"restore", "--set", "platform", "--into-bucket",
                               "s3:" + endpoint + "/" + bucket + "/recordings/drill"});
    EXPECT_NE(inside.exit_code, 0);
    EXPECT_TRUE(contains(inside.err, "overlaps the live")) << inside.describe();

    // A non-empty target is refused rather than merged into.
    RunResult again = coffer({"restore", "--set", "platform", "--into-bucket",
                              "s3:" + endpoint + "/" + other + "/copy"});
    EXPECT_NE(again.exit_code, 0);
    EXPECT_TRUE(contains(again.err, "name an empty bucket or prefix")) << again.describe();

    RunResult to_dir = coffer({"restore", "--set", "platform", "--target", dir / "out"});
    ASSERT_EQ(to_dir.exit_code, 0) << to_dir.describe();
    EXPECT_EQ(read_file(dir / "out/recordings/objects/2026/session-1.cast"),
              prng_bytes(3 << 20, 1));
    EXPECT_EQ(read_file(dir / "out/recordings/objects/index.json"), "{\"sessions\": 2}\n");
}

TEST_F(S3SourceTest, DiffNamesObjectsAddedRemovedAndChanged) {
    std::string first = backup();
    ASSERT_TRUE(client->remove(bucket, "recordings/index.json").ok());
    put("recordings/2026/session-2.cast", "changed", "text/plain", {});
    put("recordings/2026/session-4.cast", "added", "text/plain", {});
    std::string second = backup();
    RunResult d = coffer({"diff", first, second, "--json"});
    ASSERT_EQ(d.exit_code, 0) << d.describe();
    const nlohmann::json out = d.json();
    EXPECT_EQ(out["added"], nlohmann::json::array({"/recordings/2026/session-4.cast"})) << d.out;
    EXPECT_EQ(out["removed"], nlohmann::json::array({"/recordings/index.json"})) << d.out;
    EXPECT_EQ(out["changed"], nlohmann::json::array({"/recordings/2026/session-2.cast"})) << d.out;
}

TEST_F(S3SourceTest, UnreachableOrMissingBucketFailsWithoutASnapshot) {
    write_config("s3:" + endpoint + "/no-such-bucket-" + bucket.substr(12) + "/x");
    RunResult missing = coffer({"backup", "--set", "platform"});
    EXPECT_NE(missing.exit_code, 0);
    EXPECT_TRUE(contains(missing.err, "source 'recordings'")) << missing.describe();
    write_config("s3:http://127.0.0.1:1/" + bucket);
    RunResult unreachable = coffer({"backup", "--set", "platform"});
    EXPECT_NE(unreachable.exit_code, 0);
    EXPECT_TRUE(contains(unreachable.err, "source 'recordings'")) << unreachable.describe();
    RunResult snaps = coffer({"snapshots", "--json"});
    ASSERT_EQ(snaps.exit_code, 0) << snaps.describe();
    EXPECT_EQ(snaps.json().size(), 0u);
}

// With drill_url a drill puts the objects back into a scratch prefix there and checks each
// one's size, MD5 and metadata as a restore into a bucket does, then empties the prefix. The
// live bucket is untouched. A drill_url inside the live url is refused as a config error.
TEST_F(S3SourceTest, DrillPutsTheObjectsIntoAScratchPrefixChecksThemAndEmptiesIt) {
    if (endpoint.empty()) GTEST_SKIP() << "no S3 server";
    const std::string drills = s3::testing::fresh_bucket();
    write_config("s3:" + endpoint + "/" + bucket + "/recordings",
                 "drill_url = " + toml("s3:" + endpoint + "/" + drills + "/drills") + "\n");
    ASSERT_FALSE(backup().empty());
    auto live_before = bucket_contents(bucket);

    RunResult kept = coffer({"drill", "--set", "platform", "--keep", "--json"});
    ASSERT_EQ(kept.exit_code, 0) << kept.describe();
    const nlohmann::json k = kept.json();
    ASSERT_EQ(k["scratch"]["prefixes"].size(), 1u) << kept.out;
    const std::string prefix = k["scratch"]["prefixes"][0];
    EXPECT_TRUE(contains(prefix, "/" + drills + "/drills/coffer-drill-")) << prefix;
    bool objects_checked = false;
    for (const auto& c : k["checks"])
        if (c["check"] == "objects")
            objects_checked = c["ok"].get<bool>() &&
                              contains(c["detail"], "4 recorded, 4 with matching checksum");
    EXPECT_TRUE(objects_checked) << kept.out;
    auto scratch = bucket_contents(drills, "drills/");
    ASSERT_EQ(scratch.size(), 4u);
    const std::string id = prefix.substr(prefix.rfind('/') + 1);
    EXPECT_EQ(scratch["drills/" + id + "/2026/session-1.cast"],
              live_before["recordings/2026/session-1.cast"]);

    RunResult d = coffer({"drill", "--set", "platform", "--json"});
    ASSERT_EQ(d.exit_code, 0) << d.describe();
    EXPECT_EQ(bucket_contents(drills, "drills/").size(), 4u) << "only the kept drill's objects";
    EXPECT_EQ(bucket_contents(bucket), live_before) << "a drill changed the live bucket";

    write_config("s3:" + endpoint + "/" + bucket + "/recordings",
                 "drill_url = " + toml("s3:" + endpoint + "/" + bucket + "/recordings/x") + "\n");
    RunResult inside = coffer({"drill", "--set", "platform"});
    EXPECT_EQ(inside.exit_code, 2) << inside.describe();
    EXPECT_TRUE(contains(inside.err, "drill_url overlaps source 'recordings'"))
        << inside.describe();
    EXPECT_EQ(bucket_contents(bucket), live_before);
}

}  // namespace
}  // namespace coffer::e2e
