// The recovery key's printed form (repo/keys.h: RecoveryKey::parse, to_text).
//
// Byte 0 picks a mode (mod 2):
//   0 text: RecoveryKey::parse. An accepted key must print as "crk1-" and 9 groups of 8 lowercase
//     hex digits, parse back from that to the same key, parse the same from the upper-cased text
//     (case and white space do not matter), and carry the public key of its private key.
//   1 key bytes: the next 32 bytes (zero-padded) are a private key; to_text() must parse back.
#include <cctype>
#include <string>

#include "coffer/repo/keys.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::repo;
using coffer::fuzz::Cursor;

namespace {

bool printed_form(const std::string& t) {
    if (t.size() != 4 + 9 * 9 || t.compare(0, 4, "crk1") != 0) return false;
    for (size_t g = 0; g < 9; ++g) {
        if (t[4 + g * 9] != '-') return false;
        for (size_t i = 1; i <= 8; ++i) {
            char c = t[4 + g * 9 + i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        }
    }
    return true;
}

bool same(const RecoveryKey& a, const RecoveryKey& b) {
    return std::equal(a.private_key.view().begin(), a.private_key.view().end(),
                      b.private_key.view().begin(), b.private_key.view().end()) &&
           a.public_key == b.public_key;
}

void check_key(const RecoveryKey& k) {
    FUZZ_CHECK(k.private_key.size() == 32 && k.public_key.size() == 32);
    auto pub = crypto::x25519_public_from_private(k.private_key.view());
    FUZZ_CHECK(pub.ok() && *pub == k.public_key);
    std::string text = k.to_text();
    FUZZ_CHECK_MSG(printed_form(text), text);
    auto back = RecoveryKey::parse(text);
    FUZZ_CHECK_MSG(back.ok(), back.status().to_string());
    FUZZ_CHECK(same(*back, k));
    FUZZ_CHECK(back->to_text() == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    if (in.u8() % 2 == 0) {
        std::string text = fuzz::str(in.rest());
        auto k = RecoveryKey::parse(text);
        if (!k.ok()) {
            FUZZ_CHECK(k.status().code() == Code::invalid_argument);
            return 0;
        }
        check_key(*k);
        std::string upper = text;
        for (char& c : upper) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
        auto k2 = RecoveryKey::parse(upper);
        FUZZ_CHECK_MSG(k2.ok() && same(*k2, *k), "case changed the parse");
        return 0;
    }
    Bytes priv(32, 0);
    ByteView b = in.take(32);
    std::copy(b.begin(), b.end(), priv.begin());
    RecoveryKey k;
    k.private_key = SecretBytes(priv);
    auto pub = crypto::x25519_public_from_private(k.private_key.view());
    FUZZ_CHECK(pub.ok());
    k.public_key = *pub;
    check_key(k);
    return 0;
}
