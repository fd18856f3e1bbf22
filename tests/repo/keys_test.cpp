// Key material and public config: HostKey, RecoveryKey, RepoConfig and the RFC 3339 helpers.
#include "coffer/repo/keys.h"

#include <sys/stat.h>

#include <cctype>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "repo/repo_test_util.h"
#include "store/temp_dir.h"

namespace coffer::repo {
namespace {

using testing::contains;
using testing::KeySet;

::testing::Environment* const g_env =
    ::testing::AddGlobalTestEnvironment(new testing::CryptoEnvironment);

std::string host_key_text(const HostKey& k) {
    SecretBytes s = k.serialize();
    return std::string(as_chars(s.view()));
}

void expect_same_host_key(const HostKey& a, const HostKey& b) {
    EXPECT_EQ(a.repository_id, b.repository_id);
    EXPECT_EQ(a.key_id, b.key_id);
    EXPECT_EQ(a.host, b.host);
    EXPECT_EQ(a.recovery_public_key, b.recovery_public_key);
    EXPECT_TRUE(ct_equal(a.chunk_id_key.view(), b.chunk_id_key.view()));
    EXPECT_TRUE(ct_equal(a.metadata_key.view(), b.metadata_key.view()));
    EXPECT_TRUE(ct_equal(a.signing_seed.view(), b.signing_seed.view()));
    EXPECT_EQ(a.signing_public_key, b.signing_public_key);
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

// ---- HostKey ---------------------------------------------------------------------------------

TEST(HostKey, SerializeParseRoundTrip) {
    KeySet k = KeySet::make("host.example");
    EXPECT_EQ(k.host.key_id.size(), k_key_id_size);
    EXPECT_EQ(k.host.signing_public_key.size(), 32u);
    auto parsed = HostKey::parse(as_bytes(host_key_text(k.host)));
    ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
    expect_same_host_key(k.host, *parsed);
    EXPECT_EQ(parsed->key_id_hex(), k.host.key_id_hex());
}

TEST(HostKey, ParseRejectsEachMissingRequiredField) {
    KeySet k = KeySet::make();
    std::string text = host_key_text(k.host);
    for (std::string field : {"repository ", "key-id ", "recovery-public-key ", "chunk-id-key ",
                              "metadata-key ", "signing-key "}) {
        size_t start = text.find("\n" + field);
        ASSERT_NE(start, std::string::npos) << field;
        size_t end = text.find('\n', start + 1);
        std::string without = text.substr(0, start) + text.substr(end);
        auto r = HostKey::parse(as_bytes(without));
        EXPECT_EQ(r.status().code(), Code::invalid_argument) << field;
    }
    // "host" is informational: a key without it still parses.
    size_t start = text.find("\nhost ");
    size_t end = text.find('\n', start + 1);
    auto r = HostKey::parse(as_bytes(text.substr(0, start) + text.substr(end)));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->host, "");
}

TEST(HostKey, ParseRejectsGarbage) {
    KeySet k = KeySet::make();
    std::string text = host_key_text(k.host);
    std::vector<std::string> bad = {
        "",
        "garbage",
        "coffer-host-key v2\n",
        "coffer-host-key v1\n",  // header only
        text.substr(1),          // header damaged
    };
    // A short or non-hex value in each field.
    for (std::string field : {"key-id ", "chunk-id-key ", "metadata-key ", "signing-key ",
                              "recovery-public-key ", "repository "}) {
        size_t at = text.find("\n" + field) + 1 + field.size();
        std::string shortened = text;
        shortened.erase(at, 2);
        bad.push_back(shortened);
        std::string nonhex = text;
        nonhex[at] = 'g';
        bad.push_back(nonhex);
    }
    for (const auto& b : bad) {
        auto r = HostKey::parse(as_bytes(b));
        EXPECT_EQ(r.status().code(), Code::invalid_argument) << b;
    }
}

TEST(HostKey, SaveWrites0600AndRefusesToOverwrite) {
    store::testing::TempDir tmp;
    KeySet k = KeySet::make();
    std::string path = tmp.path() + "/host.key";
    ASSERT_TRUE(k.host.save(path).ok());
    EXPECT_EQ(mode_of(path), 0600u);
    auto loaded = HostKey::load(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    expect_same_host_key(k.host, *loaded);

    KeySet other = KeySet::make();
    Status st = other.host.save(path);
    EXPECT_EQ(st.code(), Code::already_exists) << st.to_string();
    auto again = HostKey::load(path);  // the first key is still there
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->key_id, k.host.key_id);
}

TEST(HostKey, LoadRefusesGroupOrWorldReadableFile) {
    store::testing::TempDir tmp;
    KeySet k = KeySet::make();
    std::string path = tmp.path() + "/host.key";
    ASSERT_TRUE(k.host.save(path).ok());
    for (mode_t mode : {0644, 0640, 0604}) {
        ASSERT_EQ(::chmod(path.c_str(), mode), 0);
        auto r = HostKey::load(path);
        EXPECT_EQ(r.status().code(), Code::permission) << std::oct << mode;
        EXPECT_TRUE(contains(r.status().message(), path)) << r.status().to_string();
    }
    ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
    EXPECT_TRUE(HostKey::load(path).ok());
    EXPECT_EQ(HostKey::load(tmp.path() + "/missing.key").status().code(), Code::not_found);
}

TEST(HostKey, CheckMatchesDetectsAnotherRepository) {
    KeySet a = KeySet::make();
    KeySet b = KeySet::make();
    EXPECT_TRUE(a.host.check_matches(a.config).ok());
    Status st = a.host.check_matches(b.config);
    EXPECT_EQ(st.code(), Code::wrong_key) << st.to_string();
    // Same repository id, but the config's recovery key was swapped.
    RepoConfig swapped = a.config;
    swapped.recovery_public_key = b.config.recovery_public_key;
    EXPECT_FALSE(a.host.check_matches(swapped).ok());
}

// ---- RecoveryKey -----------------------------------------------------------------------------

TEST(RecoveryKey, TextRoundTrip) {
    RecoveryKey k = RecoveryKey::generate();
    std::string text = k.to_text();
    EXPECT_EQ(text.substr(0, 5), "crk1-");
    EXPECT_EQ(text.size(), 4 + 9 * 9u);  // "crk1" + 9 x ("-" + 8 hex digits)
    auto parsed = RecoveryKey::parse(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
    EXPECT_TRUE(ct_equal(parsed->private_key.view(), k.private_key.view()));
    EXPECT_EQ(parsed->public_key, k.public_key);
}

TEST(RecoveryKey, ParseToleratesCaseAndWhitespace) {
    RecoveryKey k = RecoveryKey::generate();
    std::string text = k.to_text();
    std::string upper;
    for (char c : text) upper += static_cast<char>(toupper(static_cast<unsigned char>(c)));
    std::string spaced = "  ";
    for (size_t i = 0; i < text.size(); ++i) {
        spaced += text[i];
        if (i % 7 == 3) spaced += (i % 2 ? " " : "\n\t");
    }
    spaced += "\n";
    std::string no_dashes;
    for (char c : text)
        if (c != '-') no_dashes += c;
    for (const auto& variant : {upper, spaced, no_dashes}) {
        auto parsed = RecoveryKey::parse(variant);
        ASSERT_TRUE(parsed.ok()) << variant << ": " << parsed.status().to_string();
        EXPECT_EQ(parsed->public_key, k.public_key) << variant;
    }
}

TEST(RecoveryKey, SingleMistypedDigitFailsTheChecksum) {
    RecoveryKey k = RecoveryKey::generate();
    std::string text = k.to_text();
    int tried = 0;
    for (size_t i = 5; i < text.size(); ++i) {
        if (text[i] == '-') continue;
        std::string typo = text;
        typo[i] = text[i] == '7' ? '8' : '7';
        auto r = RecoveryKey::parse(typo);
        ASSERT_EQ(r.status().code(), Code::invalid_argument) << "digit " << i;
        EXPECT_TRUE(contains(r.status().message(), "checksum")) << r.status().to_string();
        ++tried;
    }
    EXPECT_EQ(tried, 72);
}

TEST(RecoveryKey, ParseRejectsMalformedShapes) {
    RecoveryKey k = RecoveryKey::generate();
    std::string text = k.to_text();
    for (const std::string& bad :
         {std::string(), std::string("crk1-"), text.substr(0, text.size() - 1),
          text.substr(0, text.size() - 2), text + "00", "crk2" + text.substr(4),
          text.substr(0, 10) + "zz" + text.substr(12)}) {
        auto r = RecoveryKey::parse(bad);
        EXPECT_EQ(r.status().code(), Code::invalid_argument) << bad;
        EXPECT_TRUE(contains(r.status().message(), "malformed")) << r.status().to_string();
    }
}

TEST(RecoveryKey, CheckMatches) {
    KeySet a = KeySet::make();
    EXPECT_TRUE(a.recovery.check_matches(a.config).ok());
    RecoveryKey wrong = RecoveryKey::generate();
    Status st = wrong.check_matches(a.config);
    EXPECT_EQ(st.code(), Code::wrong_key);
    EXPECT_TRUE(contains(st.message(), "does not match repository")) << st.to_string();
}

// ---- RepoConfig ------------------------------------------------------------------------------

// Found by fuzzing: the config is plaintext in the repository, and a float where an integer is
// read was undefined behaviour.
TEST(RepoConfig, AnOutOfRangeNumberIsCorruption) {
    auto r = RepoConfig::parse(
        as_bytes(std::string("{\"format\":\"coffer-repository\",\"version\":1e20}")));
    EXPECT_EQ(r.status().code(), Code::corruption) << r.status().to_string();
}

TEST(RepoConfig, JsonRoundTrip) {
    KeySet k = KeySet::make();
    k.config.chunk_avg_size = 1 << 16;
    k.config.pack_size = 8 << 20;
    k.config.zstd_level = 7;
    std::string json = k.config.to_json();
    auto parsed = RepoConfig::parse(as_bytes(json));
    ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
    EXPECT_EQ(parsed->version, k_format_version);
    EXPECT_EQ(parsed->id, k.config.id);
    EXPECT_EQ(parsed->created, k.config.created);
    EXPECT_EQ(parsed->chunk_avg_size, 1u << 16);
    EXPECT_EQ(parsed->pack_size, 8u << 20);
    EXPECT_EQ(parsed->zstd_level, 7);
    EXPECT_EQ(parsed->recovery_public_key, k.config.recovery_public_key);
    EXPECT_EQ(parsed->to_json(), json);
}

TEST(RepoConfig, NewerVersionAsksForAnUpgrade) {
    KeySet k = KeySet::make();
    k.config.version = k_format_version + 1;
    auto r = RepoConfig::parse(as_bytes(k.config.to_json()));
    EXPECT_EQ(r.status().code(), Code::invalid_argument);
    EXPECT_TRUE(contains(r.status().message(), "upgrade")) << r.status().to_string();
}

TEST(RepoConfig, GarbageIsCorruption) {
    KeySet k = KeySet::make();
    std::string good = k.config.to_json();
    std::string no_id = good;
    no_id.replace(no_id.find("\"id\""), 4, "\"xx\"");
    std::string short_key = good;
    short_key.erase(short_key.find("\"recovery_public_key\": \"") + 24, 2);
    std::string tiny_pack = good;
    tiny_pack.replace(tiny_pack.find("\"pack_size\": ") + 13, 8, "4096    ");
    for (const std::string& bad :
         {std::string(), std::string("not json"), std::string("[]"), std::string("{}"),
          std::string("{\"format\":\"something-else\"}"), std::string("{\"format\":1}"),
          std::string("{\"format\":null,\"version\":1}"), good.substr(0, good.size() / 2), no_id,
          short_key, tiny_pack}) {
        auto r = RepoConfig::parse(as_bytes(bad));
        EXPECT_EQ(r.status().code(), Code::corruption) << bad << "\n" << r.status().to_string();
    }
}

// ---- RFC 3339 --------------------------------------------------------------------------------

TEST(Rfc3339, FormatParseRoundTrip) {
    for (int64_t ns : {int64_t(0), int64_t(1), int64_t(999999999), int64_t(1000000000),
                       int64_t(1795452360123456789), int64_t(-1), int64_t(-1500000000),
                       int64_t(951782400000000000) /* 2000-02-29 */}) {
        std::string text = format_rfc3339(ns);
        EXPECT_EQ(text.back(), 'Z') << text;
        auto back = parse_rfc3339(text);
        ASSERT_TRUE(back.ok()) << text << ": " << back.status().to_string();
        EXPECT_EQ(*back, ns) << text;
    }
    EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000000000Z");
    EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
    int64_t now = now_unix_ns();
    auto parsed_now = parse_rfc3339(format_rfc3339(now));
    ASSERT_TRUE(parsed_now.ok());
    EXPECT_EQ(*parsed_now, now);
}

TEST(Rfc3339, OffsetsFractionsAndPlainDates) {
    auto at = [](std::string_view text) {
        auto r = parse_rfc3339(text);
        EXPECT_TRUE(r.ok()) << text << ": " << r.status().to_string();
        return r.ok() ? *r : INT64_MIN;
    };
    const int64_t base = at("2026-11-23T15:46:00Z");
    EXPECT_EQ(base, int64_t(1795448760) * 1000000000);
    EXPECT_EQ(at("2026-11-23T16:46:00+01:00"), base);
    EXPECT_EQ(at("2026-11-23T10:16:00-05:30"), base);
    EXPECT_EQ(at("2026-11-24T00:46:00+09:00"), base);
    EXPECT_EQ(at("2026-11-23t15:46:00z"), base);
    EXPECT_EQ(at("2026-11-23 15:46:00Z"), base);
    EXPECT_EQ(at("2026-11-23T15:46:00.5Z"), base + 500000000);
    EXPECT_EQ(at("2026-11-23T15:46:00.000000001Z"), base + 1);
    EXPECT_EQ(at("2026-11-23T15:46:00.1234567891Z"), base + 123456789);  // beyond ns: dropped
    EXPECT_EQ(at("2026-11-23T16:46:00.25+01:00"), base + 250000000);
    EXPECT_EQ(at("2026-11-23"), at("2026-11-23T00:00:00Z"));
    EXPECT_EQ(at("2026-11-24") - at("2026-11-23"), int64_t(86400) * 1000000000);
    EXPECT_EQ(at("1970-01-01"), 0);
    EXPECT_EQ(at("2024-02-29T12:00:00Z") - at("2024-02-28T12:00:00Z"), int64_t(86400) * 1000000000);
    EXPECT_EQ(at("2000-02-29") - at("2000-02-28"), int64_t(86400) * 1000000000);
}

TEST(Rfc3339, RejectsMalformedTimes) {
    for (std::string_view bad :
         {"", "yesterday", "2026", "2026-11", "2026-13-01", "2026-00-10", "2026-11-32",
          "2026-11-00", "2026-11-23T", "2026-11-23T16:46", "2026-11-23T16:46:00",
          "2026-11-23T24:00:00Z", "2026-11-23T16:60:00Z", "2026-11-23T16:46:00.Z",
          "2026-11-23T16:46:00+0100", "2026-11-23T16:46:00+01", "2026-11-23T16:46:00Zjunk",
          "2026-11-23T16:46:00+01:00junk", "2026-11-23X16:46:00Z", "2026-11-23junk",
          // sscanf's leniency, found by fuzz/rfc3339_fuzz.cpp: short
          // and signed fields, spaces, and text after a short offset
          "2026-1-23", "2026-11-3T16:46:00Z", "2026-+1-23", "2026- 1-23", "+026-11-23",
          "2026-11-23T6:46:00Z", "2026-11-23T16:-6:00Z", "2026-11-23T16:46:00+1:00",
          "2026-11-23T16:46:00+01:0", "2026-11-23T16:46:00+01:00Z", "2026-11-23T16:46:00+24:00",
          "2026-11-23T16:46:00+01:60",
          // days beyond the month's end
          "2026-02-29", "2026-04-31", "2100-02-29"}) {
        auto r = parse_rfc3339(bad);
        EXPECT_EQ(r.status().code(), Code::invalid_argument) << "'" << bad << "'";
    }
}

}  // namespace
}  // namespace coffer::repo
