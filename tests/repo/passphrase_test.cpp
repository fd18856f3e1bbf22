// Passphrase-protected key files: round trip, a wrong passphrase or any change to the file is
// refused, the stored Argon2id parameters cannot be weakened, and absurd ones are not run.
#include "coffer/repo/passphrase.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "coffer/crypto/crypto.h"
#include "coffer/util/file.h"
#include "repo/repo_test_util.h"

namespace coffer::repo {
namespace {

using testing::contains;

const KdfCost k_cheap{1, 8 << 20};  // tests need not pay for a real cost
const std::string k_text = "crk1-11111111-22222222\n";

TEST(Passphrase, ProtectedTextOpensOnlyWithItsPassphrase) {
    auto sealed =
        protect_text(as_bytes(k_text), as_bytes(std::string_view("correct horse")), k_cheap);
    ASSERT_TRUE(sealed.ok()) << sealed.status().to_string();
    EXPECT_TRUE(is_protected(as_bytes(*sealed)));
    EXPECT_FALSE(is_protected(as_bytes(k_text)));
    EXPECT_FALSE(contains(*sealed, "crk1")) << "the text shows through";
    EXPECT_TRUE(contains(*sealed, "argon2id ops=1 mem=8388608 salt="));
    auto back = unprotect_text(as_bytes(*sealed), as_bytes(std::string_view("correct horse")));
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(std::string(as_chars(back->view())), k_text);
    auto wrong = unprotect_text(as_bytes(*sealed), as_bytes(std::string_view("correct horsE")));
    EXPECT_EQ(wrong.status().code(), Code::wrong_key);
    EXPECT_TRUE(contains(wrong.status().message(), "wrong passphrase, or the file is damaged"));
    // Two protections of one text differ (fresh salt and nonce).
    auto again =
        protect_text(as_bytes(k_text), as_bytes(std::string_view("correct horse")), k_cheap);
    ASSERT_TRUE(again.ok());
    EXPECT_NE(*again, *sealed);
    EXPECT_EQ(protect_text(as_bytes(k_text), ByteView(), k_cheap).status().code(),
              Code::invalid_argument);
}

TEST(Passphrase, AnyChangeToTheFileIsRefused) {
    auto sealed = protect_text(as_bytes(k_text), as_bytes(std::string_view("pw")), k_cheap);
    ASSERT_TRUE(sealed.ok());
    const std::string& s = *sealed;
    // A changed parameter: every one is an input of the key and in the associated data.
    for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"ops=1", "ops=2"}, {"mem=8388608", "mem=8388609"}}) {
        std::string changed = s;
        changed.replace(changed.find(from), from.size(), to);
        EXPECT_EQ(
            unprotect_text(as_bytes(changed), as_bytes(std::string_view("pw"))).status().code(),
            Code::wrong_key)
            << to;
    }
    // A flipped hex digit anywhere in the body or the salt.
    const size_t body = s.find('\n', s.find("coffer-protected")) + 1;
    for (size_t at : {s.find("salt=") + 7, body + 3, body + 30, s.size() - 3}) {
        std::string flipped = s;
        flipped[at] = flipped[at] == '0' ? '1' : '0';
        auto r = unprotect_text(as_bytes(flipped), as_bytes(std::string_view("pw")));
        EXPECT_FALSE(r.ok()) << at;
    }
    // Cut short, or not the format.
    EXPECT_EQ(unprotect_text(as_bytes(s.substr(0, body)), as_bytes(std::string_view("pw")))
                  .status()
                  .code(),
              Code::invalid_argument);
}

TEST(Passphrase, AbsurdParametersAreRefusedBeforeAnyWork) {
    auto sealed = protect_text(as_bytes(k_text), as_bytes(std::string_view("pw")), k_cheap);
    ASSERT_TRUE(sealed.ok());
    std::string greedy = *sealed;
    greedy.replace(greedy.find("mem=8388608"), 11, "mem=1099511627776");  // 1 TiB
    auto r = unprotect_text(as_bytes(greedy), as_bytes(std::string_view("pw")));
    EXPECT_EQ(r.status().code(), Code::invalid_argument);
    EXPECT_TRUE(contains(r.status().message(), "beyond what coffer allows"));
    // Nobody is asked for a passphrase to open such a file.
    char tmpl[] = "/tmp/coffer-pp-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string path = std::string(tmpl) + "/greedy";
    ASSERT_TRUE(write_new_file(path, as_bytes(greedy), 0600).ok());
    int asked = 0;
    set_passphrase_source([&](const std::string&) -> Result<SecretBytes> {
        asked++;
        return SecretBytes(as_bytes(std::string_view("pw")));
    });
    EXPECT_EQ(read_key_file(path).status().code(), Code::invalid_argument);
    EXPECT_EQ(asked, 0);
    set_passphrase_source({});
    std::filesystem::remove_all(tmpl);
}

TEST(Passphrase, ReadKeyFileAsksTheSourceOnlyForProtectedFiles) {
    char tmpl[] = "/tmp/coffer-pp-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string dir = tmpl, plain = dir + "/plain", sealed_path = dir + "/sealed";
    ASSERT_TRUE(write_new_file(plain, as_bytes(k_text), 0600).ok());
    auto sealed = protect_text(as_bytes(k_text), as_bytes(std::string_view("pw")), k_cheap);
    ASSERT_TRUE(sealed.ok());
    ASSERT_TRUE(write_new_file(sealed_path, as_bytes(*sealed), 0600).ok());
    set_passphrase_source({});
    auto none = read_key_file(sealed_path);
    EXPECT_EQ(none.status().code(), Code::wrong_key);
    int asked = 0;
    std::string asked_for;
    set_passphrase_source([&](const std::string& what) -> Result<SecretBytes> {
        asked++;
        asked_for = what;
        return SecretBytes(as_bytes(std::string_view("pw")));
    });
    auto p = read_key_file(plain);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(asked, 0);
    auto s = read_key_file(sealed_path);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    EXPECT_EQ(std::string(as_chars(s->view())), k_text);
    EXPECT_EQ(asked, 1);
    EXPECT_EQ(asked_for, sealed_path);
    set_passphrase_source({});
    std::filesystem::remove_all(dir);
}

TEST(Passphrase, Argon2idDependsOnEveryInput) {
    Bytes salt(crypto::k_argon2_salt_size, 7), other_salt(crypto::k_argon2_salt_size, 8);
    auto pw = as_bytes(std::string_view("pw"));
    auto a = crypto::argon2id(pw, salt, 1, 8 << 20, 32);
    auto b = crypto::argon2id(pw, salt, 1, 8 << 20, 32);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(ct_equal(a->view(), b->view()));
    for (auto other : {crypto::argon2id(as_bytes(std::string_view("pW")), salt, 1, 8 << 20, 32),
                       crypto::argon2id(pw, other_salt, 1, 8 << 20, 32),
                       crypto::argon2id(pw, salt, 2, 8 << 20, 32),
                       crypto::argon2id(pw, salt, 1, 16 << 20, 32)}) {
        ASSERT_TRUE(other.ok());
        EXPECT_FALSE(ct_equal(a->view(), other->view()));
    }
    EXPECT_EQ(crypto::argon2id(pw, Bytes(3), 1, 8 << 20, 32).status().code(),
              Code::invalid_argument);
}

}  // namespace
}  // namespace coffer::repo
