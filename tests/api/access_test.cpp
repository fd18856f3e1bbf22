// AccessDb on a real SQLite file: users with Argon2id hashes (a wrong password and a missing
// user both fail, and neither the password nor a token secret is in the file), tokens that
// stop working when expired, revoked, tampered with or when their user goes, a token role
// capped by its user's and cut by a later demotion, and sessions that expire and end.
#include "coffer/api/access.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "store/temp_dir.h"

namespace coffer::api {
namespace {

constexpr int64_t k_s = 1000000000;
constexpr int64_t k_now = 1'800'000'000 * k_s;

class AccessTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = AccessDb::open(tmp.path() + "/state");
        ASSERT_TRUE(opened.ok()) << opened.status().to_string();
        db = std::move(*opened);
    }
    std::string file_bytes() {
        std::string all;
        for (const char* name : {"/state/state.db", "/state/state.db-wal"}) {
            std::ifstream in(tmp.path() + name, std::ios::binary);
            std::stringstream ss;
            ss << in.rdbuf();
            all += ss.str();
        }
        return all;
    }
    Principal must_authenticate(const std::string& token, int64_t at = k_now) {
        std::string why;
        auto p = db->authenticate_token(token, at, why);
        EXPECT_TRUE(p.ok() && *p) << why;
        return p.ok() && *p ? **p : Principal{};
    }
    std::string refusal(const std::string& token, int64_t at = k_now) {
        std::string why;
        auto p = db->authenticate_token(token, at, why);
        EXPECT_TRUE(p.ok());
        EXPECT_FALSE(p.ok() && *p) << "accepted " << token;
        return why;
    }

    store::testing::TempDir tmp;
    std::unique_ptr<AccessDb> db;
    const std::string password = "correct horse battery";
};

TEST_F(AccessTest, PasswordsAreHashedAndCheckedAndUsersAreManaged) {
    ASSERT_TRUE(db->add_user("alice", Role::admin, password).ok());
    struct stat st {};
    ASSERT_EQ(::stat((tmp.path() + "/state/state.db").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(db->add_user("alice", Role::viewer, password).code(), Code::already_exists);
    EXPECT_EQ(db->add_user("bob", Role::viewer, "short").code(), Code::invalid_argument);
    EXPECT_EQ(db->add_user("../x", Role::viewer, password).code(), Code::invalid_argument);

    auto ok = db->check_password("alice", password);
    ASSERT_TRUE(ok.ok() && *ok);
    EXPECT_EQ((*ok)->role, Role::admin);
    EXPECT_FALSE(*db->check_password("alice", password + "!"));
    EXPECT_FALSE(*db->check_password("nobody", password));
    EXPECT_EQ(file_bytes().find(password), std::string::npos) << "the password is in the file";
    EXPECT_NE(file_bytes().find("$argon2id$"), std::string::npos);

    ASSERT_TRUE(db->set_role("alice", Role::auditor).ok());
    EXPECT_EQ((*db->find_user("alice"))->role, Role::auditor);
    EXPECT_EQ(db->set_role("nobody", Role::admin).code(), Code::not_found);
    ASSERT_TRUE(db->set_password("alice", "another long password").ok());
    EXPECT_FALSE(*db->check_password("alice", password));
    EXPECT_TRUE(*db->check_password("alice", "another long password"));
    ASSERT_EQ(db->list_users()->size(), 1u);
    ASSERT_TRUE(db->remove_user("alice").ok());
    EXPECT_EQ(db->remove_user("alice").code(), Code::not_found);
    EXPECT_TRUE(db->list_users()->empty());
}

TEST_F(AccessTest, TokensWorkUntilExpiredRevokedTamperedOrTheirUserGoes) {
    ASSERT_TRUE(db->add_user("ops", Role::operator_, password).ok());
    auto t = db->create_token("ops", std::nullopt, k_now + 3600 * k_s, "ci", k_now);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_EQ(t->secret.rfind("coffer_" + t->info.id + "_", 0), 0u) << t->secret;
    EXPECT_EQ(file_bytes().find(t->secret.substr(20)), std::string::npos)
        << "the token's secret is in the file";

    Principal p = must_authenticate(t->secret);
    EXPECT_EQ(p.user, "ops");
    EXPECT_TRUE(p.allows(Permission::run));
    EXPECT_FALSE(p.allows(Permission::manage));

    std::string tampered = t->secret;
    tampered.back() = tampered.back() == '0' ? '1' : '0';
    EXPECT_NE(refusal(tampered).find("wrong secret"), std::string::npos);
    EXPECT_NE(refusal("coffer_nothing").find("malformed"), std::string::npos);
    EXPECT_NE(refusal(t->secret, k_now + 3600 * k_s).find("expired"), std::string::npos);

    // A token may not hold more than its user; a demotion cuts what an existing one does.
    EXPECT_EQ(db->create_token("ops", Role::admin, 0, "", k_now).status().code(), Code::permission);
    EXPECT_EQ(db->create_token("ops", std::nullopt, k_now - 1, "", k_now).status().code(),
              Code::invalid_argument);
    auto viewer = db->create_token("ops", Role::viewer, 0, "dashboard tv", k_now);
    ASSERT_TRUE(viewer.ok());
    EXPECT_FALSE(must_authenticate(viewer->secret).allows(Permission::snapshots));
    ASSERT_TRUE(db->set_role("ops", Role::viewer).ok());
    EXPECT_FALSE(must_authenticate(t->secret).allows(Permission::run));

    ASSERT_TRUE(db->revoke_token(t->info.id, k_now).ok());
    EXPECT_NE(refusal(t->secret).find("revoked"), std::string::npos);
    EXPECT_EQ(db->revoke_token("000000000000", k_now).code(), Code::not_found);
    auto listed = db->list_tokens("ops");
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 2u);
    EXPECT_NE((*listed)[0].revoked_ns, 0);

    ASSERT_TRUE(db->remove_user("ops").ok());
    EXPECT_NE(refusal(viewer->secret).find("unknown"), std::string::npos);
    EXPECT_EQ(db->create_token("ops", std::nullopt, 0, "", k_now).status().code(), Code::not_found);
}

TEST_F(AccessTest, SessionsCarryTheirCsrfTokenAndExpireAndEnd) {
    ASSERT_TRUE(db->add_user("ann", Role::auditor, password).ok());
    auto s = db->create_session("ann", k_now + 60 * k_s, k_now);
    ASSERT_TRUE(s.ok());
    auto found = db->authenticate_session(s->first, k_now);
    ASSERT_TRUE(found.ok() && *found);
    EXPECT_EQ((*found)->first.user, "ann");
    EXPECT_TRUE((*found)->first.allows(Permission::audit));
    EXPECT_EQ((*found)->second.csrf, s->second.csrf);
    EXPECT_EQ(s->second.csrf.size(), 64u);

    std::string tampered = s->first;
    tampered[0] = tampered[0] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(*db->authenticate_session(tampered, k_now));
    EXPECT_FALSE(*db->authenticate_session("not a cookie", k_now));
    EXPECT_FALSE(*db->authenticate_session(s->first, k_now + 60 * k_s));
    ASSERT_TRUE(db->end_session(s->first).ok());
    EXPECT_FALSE(*db->authenticate_session(s->first, k_now));

    // A new password ends every session; a removed user gets none.
    auto again = db->create_session("ann", k_now + 60 * k_s, k_now);
    ASSERT_TRUE(again.ok());
    ASSERT_TRUE(*db->authenticate_session(again->first, k_now));
    ASSERT_TRUE(db->set_password("ann", "a brand new password").ok());
    EXPECT_FALSE(*db->authenticate_session(again->first, k_now));
    ASSERT_TRUE(db->remove_user("ann").ok());
    EXPECT_EQ(db->create_session("ann", k_now + 60 * k_s, k_now).status().code(), Code::not_found);
}

}  // namespace
}  // namespace coffer::api
