// Recovery shares: printed, typed back and combined. Any K recover the key, fewer are refused,
// a mistyped share is named, and shares of different splits or given twice are caught.
#include "coffer/repo/recovery_share.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "coffer/util/file.h"
#include "repo/repo_test_util.h"

namespace coffer::repo {
namespace {

using testing::contains;

std::vector<RecoveryShare> reparsed(const std::vector<RecoveryShare>& shares) {
    std::vector<RecoveryShare> out;
    for (const auto& s : shares) {
        auto p = RecoveryShare::parse(s.to_text());
        EXPECT_TRUE(p.ok()) << p.status().to_string();
        if (p.ok()) out.push_back(std::move(*p));
    }
    return out;
}

TEST(RecoveryShares, AnyTwoOfThreeRecoverTheKeyAndOneIsNotEnough) {
    RecoveryKey key = RecoveryKey::generate();
    auto shares = split_recovery_key(key, 2, 3);
    ASSERT_TRUE(shares.ok()) << shares.status().to_string();
    auto typed = reparsed(*shares);
    ASSERT_EQ(typed.size(), 3u);
    for (auto [a, b] : std::vector<std::pair<int, int>>{{0, 1}, {0, 2}, {1, 2}, {2, 0}}) {
        auto back = recover_from_shares({typed[a], typed[b]});
        ASSERT_TRUE(back.ok()) << back.status().to_string();
        EXPECT_TRUE(ct_equal(back->private_key.view(), key.private_key.view()));
        EXPECT_EQ(back->public_key, key.public_key);
    }
    auto all = recover_from_shares(typed);
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->public_key, key.public_key);
    auto one = recover_from_shares({typed[1]});
    EXPECT_EQ(one.status().code(), Code::invalid_argument);
    EXPECT_TRUE(contains(one.status().message(), "2 of the 3 recovery shares are needed, 1 given"))
        << one.status().to_string();
    // No share is the key itself.
    for (const auto& s : typed) EXPECT_FALSE(ct_equal(s.value.view(), key.private_key.view()));
}

TEST(RecoveryShares, TheTextNamesItsPlaceAndSurvivesRetyping) {
    RecoveryKey key = RecoveryKey::generate();
    auto shares = split_recovery_key(key, 3, 5);
    ASSERT_TRUE(shares.ok());
    std::string text = (*shares)[3].to_text();
    EXPECT_EQ(text.rfind("crs1-3of5-4-", 0), 0u) << text;
    std::string messy;
    for (char c : text) messy += static_cast<char>(toupper(static_cast<unsigned char>(c)));
    messy = "  " + messy.substr(0, 20) + "\n " + messy.substr(20) + " \n";
    auto back = RecoveryShare::parse(messy);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(back->index, 4);
    EXPECT_EQ(back->k, 3);
    EXPECT_EQ(back->n, 5);
    EXPECT_TRUE(ct_equal(back->value.view(), (*shares)[3].value.view()));
}

TEST(RecoveryShares, AMistypedShareIsNamed) {
    auto shares = split_recovery_key(RecoveryKey::generate(), 2, 3);
    ASSERT_TRUE(shares.ok());
    std::string text = (*shares)[1].to_text();
    // Change every hex digit of the share's body in turn: each is caught by the checksum.
    const size_t body = text.find('-', text.find('-', text.find('-', 5) + 1) + 1) + 1;
    int caught = 0, tried = 0;
    for (size_t i = body; i < text.size(); ++i) {
        if (text[i] == '-') continue;
        std::string typo = text;
        typo[i] = text[i] == '0' ? '1' : '0';
        tried++;
        auto p = RecoveryShare::parse(typo);
        if (!p.ok() && contains(p.status().message(), "share 2's checksum does not match"))
            caught++;
    }
    EXPECT_EQ(caught, tried);
    EXPECT_EQ(tried, 72);
    // A wrong index or K/N is caught too (they are under the checksum), or out of range.
    std::string other_index = text;
    other_index[10] = '3';  // crs1-2of3-2 -> crs1-2of3-3
    EXPECT_TRUE(contains(RecoveryShare::parse(other_index).status().message(), "checksum"));
    for (std::string bad : {std::string("crs1-2of3-4-") + text.substr(12), std::string("nonsense"),
                            text.substr(0, text.size() - 8)}) {
        auto p = RecoveryShare::parse(bad);
        EXPECT_EQ(p.status().code(), Code::invalid_argument) << bad;
        EXPECT_TRUE(contains(p.status().message(), "recovery share is malformed")) << bad;
    }
    RecoveryKey whole = RecoveryKey::generate();
    EXPECT_TRUE(contains(RecoveryShare::parse(whole.to_text()).status().message(),
                         "a whole recovery key, not a share"));
}

TEST(RecoveryShares, SharesOfDifferentSplitsOrGivenTwiceAreRefused) {
    RecoveryKey key = RecoveryKey::generate();
    auto first = split_recovery_key(key, 2, 3);
    auto second = split_recovery_key(key, 2, 3);
    ASSERT_TRUE(first.ok() && second.ok());
    auto mixed = recover_from_shares({(*first)[0], (*second)[1]});
    EXPECT_EQ(mixed.status().code(), Code::invalid_argument);
    EXPECT_TRUE(contains(mixed.status().message(), "come from different splits"));
    auto twice = recover_from_shares({(*first)[0], (*first)[0]});
    EXPECT_TRUE(contains(twice.status().message(), "share 1 is given twice"));
    EXPECT_EQ(recover_from_shares({}).status().code(), Code::invalid_argument);
}

TEST(RecoveryShares, ShareFilesHoldCommentsAndOneShare) {
    RecoveryKey key = RecoveryKey::generate();
    auto shares = split_recovery_key(key, 2, 2);
    ASSERT_TRUE(shares.ok());
    char tmpl[] = "/tmp/coffer-share-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    std::vector<RecoveryShare> loaded;
    for (const auto& s : *shares) {
        std::string path = dir + "/share-" + std::to_string(s.index);
        std::string text = share_file_text(s, "abcd");
        EXPECT_TRUE(contains(text, "# coffer recovery share " + std::to_string(s.index) + " of 2"));
        EXPECT_TRUE(write_new_file(path, as_bytes(text), 0600).ok());
        auto l = RecoveryShare::load(path);
        ASSERT_TRUE(l.ok()) << l.status().to_string();
        loaded.push_back(std::move(*l));
    }
    auto back = recover_from_shares(loaded);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->public_key, key.public_key);
    std::string two = dir + "/two";
    ASSERT_TRUE(
        write_new_file(two, as_bytes((*shares)[0].to_text() + "\n" + (*shares)[1].to_text()), 0600)
            .ok());
    EXPECT_TRUE(contains(RecoveryShare::load(two).status().message(), "more than one share line"));
    auto missing = RecoveryShare::load(dir + "/none");
    EXPECT_EQ(missing.status().code(), Code::not_found);
    std::filesystem::remove_all(dir);
}

TEST(RecoveryShares, KOfN) {
    auto two_of_three = parse_k_of_n("2-of-3");
    ASSERT_TRUE(two_of_three.ok());
    EXPECT_EQ(*two_of_three, std::make_pair(2, 3));
    EXPECT_TRUE(parse_k_of_n("255-of-255").ok());
    for (const char* bad :
         {"1-of-3", "3-of-2", "2of3", "2-of-", "-of-3", "2-of-256", "a-of-b", "2-of-3x", ""})
        EXPECT_EQ(parse_k_of_n(bad).status().code(), Code::invalid_argument) << bad;
}

}  // namespace
}  // namespace coffer::repo
