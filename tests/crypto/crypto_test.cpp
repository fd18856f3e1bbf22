#include "coffer/crypto/crypto.h"

#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace coffer::crypto {
namespace {

class CryptoEnvironment : public ::testing::Environment {
public:
    void SetUp() override { ASSERT_TRUE(init().ok()); }
};
[[maybe_unused]] const auto* const g_env =
    ::testing::AddGlobalTestEnvironment(new CryptoEnvironment);

Bytes H(std::string_view hex) {
    auto b = from_hex(hex);
    EXPECT_TRUE(b.has_value()) << "bad hex in test: " << hex;
    return b.value_or(Bytes{});
}

Bytes repeat(uint8_t v, size_t n) {
    return Bytes(n, v);
}

Bytes range(uint8_t first, uint8_t last) {
    Bytes out;
    for (unsigned v = first; v <= last; ++v) out.push_back(static_cast<uint8_t>(v));
    return out;
}

Bytes concat(ByteView a, ByteView b) {
    Bytes out(a.begin(), a.end());
    append(out, b);
    return out;
}

Bytes to_vec(ByteView b) {
    return Bytes(b.begin(), b.end());
}

// ---- base64 (RFC 4648) ----

TEST(Base64, Rfc4648Section10) {
    const std::pair<const char*, const char*> cases[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : cases) {
        EXPECT_EQ(base64_encode(as_bytes(plain)), encoded);
        auto decoded = base64_decode(encoded);
        ASSERT_TRUE(decoded.has_value()) << encoded;
        EXPECT_EQ(as_chars(*decoded), plain);
    }
    const Bytes all = range(0, 255);
    auto back = base64_decode(base64_encode(all));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, all);
}

TEST(Base64, DecodeIsStrict) {
    for (const char* bad : {
             "Zg",            // padding missing
             "Zg=",           // length not a multiple of 4
             "Zh==",          // non-zero bits after the last byte: a second spelling of "f"
             "Zm9=",          // likewise for two bytes
             "Zm9v\n",        // trailing newline
             " Zm9v",         // leading space
             "Zm9v Zm8=",     // inner space
             "Zm9\tv",        // tab
             "Zm-v",          // URL-safe alphabet
             "Zm_v",          // URL-safe alphabet
             "Zg==Zg==",      // padding in the middle
             "Z===",          // too much padding
             "====",          // padding only
             "Zm8=\xc3\xa9",  // non-ASCII
             "Zm8\xe9",       // non-ASCII in a full group (libsodium 1.0.18 reads it as '/')
             "\xff\xff\xff\xff",
         })
        EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
    EXPECT_FALSE(base64_decode(std::string_view("Zm9v\0\0\0\0", 8)).has_value());
}

// ---- SHA-256 ----

TEST(Sha256, Fips180Vectors) {
    EXPECT_EQ(sha256(as_bytes("abc")).hex(),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256({}).hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).hex(),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, IncrementalMatchesOneShot) {
    std::mt19937 rng(42);
    Bytes data(10000);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const Id expected = sha256(data);
    for (int round = 0; round < 50; ++round) {
        Sha256 h;
        size_t off = 0;
        while (off < data.size()) {
            size_t n = std::min<size_t>(rng() % 700, data.size() - off);
            h.update(ByteView(data).subspan(off, n));
            off += n;
        }
        EXPECT_EQ(h.finish(), expected);
    }
    Sha256 empty;
    EXPECT_EQ(empty.finish(), sha256({}));
}

// ---- HMAC-SHA256 (RFC 4231) ----

TEST(HmacSha256, Rfc4231) {
    struct Case {
        Bytes key, data;
        const char* mac;
    };
    const Case cases[] = {
        {repeat(0x0b, 20), to_bytes("Hi There"),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {to_bytes("Jefe"), to_bytes("what do ya want for nothing?"),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {repeat(0xaa, 20), repeat(0xdd, 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {range(0x01, 0x19), repeat(0xcd, 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {repeat(0xaa, 131), to_bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {repeat(0xaa, 131),
         to_bytes("This is a test using a larger than block-size key and a larger than "
                  "block-size data. The key needs to be hashed before being used by the HMAC "
                  "algorithm."),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(hmac_sha256(c.key, c.data).hex(), c.mac);
        HmacSha256 h(c.key);
        EXPECT_EQ(h.compute(c.data).hex(), c.mac);
        EXPECT_EQ(h.compute(c.data).hex(), c.mac) << "second use of the same object";
    }
}

TEST(HmacSha256, EmptyKeyAndMessage) {
    EXPECT_EQ(hmac_sha256({}, {}).hex(),
              "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(HmacSha256, PrefixIsConcatenation) {
    HmacSha256 h(as_bytes("chunk id key"));
    Bytes prefix = to_bytes("prefix:"), data = to_bytes("some chunk data");
    EXPECT_EQ(h.compute(prefix, data), hmac_sha256(as_bytes("chunk id key"), concat(prefix, data)));
    EXPECT_EQ(h.compute({}, data), h.compute(data));
    EXPECT_EQ(h.compute(prefix, {}), h.compute(prefix));
}

TEST(HmacSha256, ConcurrentCompute) {
    const Bytes key = repeat(0x5a, 32);
    HmacSha256 h(key);
    std::vector<Bytes> inputs;
    std::vector<Id> expected;
    for (size_t i = 0; i < 64; ++i) {
        inputs.push_back(random_bytes(i * 97 % 5000));
        expected.push_back(hmac_sha256(key, inputs.back()));
    }
    std::vector<int> failures(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 50; ++round)
                for (size_t i = 0; i < inputs.size(); ++i)
                    if (h.compute(inputs[i]) != expected[i]) ++failures[t];
        });
    }
    for (auto& th : threads) th.join();
    for (int f : failures) EXPECT_EQ(f, 0);
}

// ---- HKDF-SHA256 (RFC 5869) ----

TEST(Hkdf, Rfc5869) {
    EXPECT_EQ(
        to_hex(hkdf_sha256(repeat(0x0b, 22), range(0x00, 0x0c), range(0xf0, 0xf9), 42).view()),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    EXPECT_EQ(
        to_hex(hkdf_sha256(range(0x00, 0x4f), range(0x60, 0xaf), range(0xb0, 0xff), 82).view()),
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
        "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
        "cc30c58179ec3e87c14c01d5c1f3434f1d87");
    EXPECT_EQ(
        to_hex(hkdf_sha256(repeat(0x0b, 22), {}, {}, 42).view()),
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(Hkdf, LengthsAndPrefixes) {
    auto full = hkdf_sha256(as_bytes("ikm"), as_bytes("salt"), as_bytes("info"), 255 * 32);
    EXPECT_EQ(full.size(), 255u * 32);
    auto part = hkdf_sha256(as_bytes("ikm"), as_bytes("salt"), as_bytes("info"), 33);
    EXPECT_EQ(to_vec(part.view()), to_vec(full.view().first(33)));
    EXPECT_TRUE(hkdf_sha256(as_bytes("ikm"), {}, {}, 0).empty());
}

TEST(Hkdf, EmptyIkm) {
    // PRK = HMAC(0^32, ""), OKM = HMAC(PRK, "info" || 0x01) (computed with Python's hmac).
    EXPECT_EQ(to_hex(hkdf_sha256({}, {}, as_bytes("info"), 32).view()),
              "9c9c026055b7e6649ec5bf9ac4b3485f38735832679e4bced420d37e18e21755");
}

// ---- AES-256-GCM ----

struct GcmVector {
    const char *key, *iv, *aad, *pt, *ct, *tag;
};

// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13-16 (256-bit keys).
const GcmVector k_gcm_vectors[] = {
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "", "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(AesGcm, KnownAnswers) {
    for (const auto& v : k_gcm_vectors) {
        Bytes key = H(v.key), iv = H(v.iv), aad = H(v.aad), pt = H(v.pt);
        Bytes expected = concat(H(v.ct), H(v.tag));
        auto sealed = aes_gcm_seal(key, iv, aad, pt);
        ASSERT_TRUE(sealed.ok()) << sealed.status().to_string();
        EXPECT_EQ(to_hex(*sealed), to_hex(expected));
        auto opened = aes_gcm_open(key, iv, aad, expected);
        ASSERT_TRUE(opened.ok()) << opened.status().to_string();
        EXPECT_EQ(*opened, pt);
    }
}

TEST(AesGcm, TamperingFailsWithIntegrity) {
    const Bytes key = random_bytes(32), nonce = random_bytes(12), aad = to_bytes("pack header");
    const Bytes pt = random_bytes(100);
    auto sealed = aes_gcm_seal(key, nonce, aad, pt);
    ASSERT_TRUE(sealed.ok());
    const Bytes ct = *sealed;
    auto expect_integrity = [](const Result<Bytes>& r, const char* what) {
        ASSERT_FALSE(r.ok()) << what;
        EXPECT_EQ(r.status().code(), Code::integrity) << what;
    };
    Bytes bad = ct;
    bad[5] ^= 1;
    expect_integrity(aes_gcm_open(key, nonce, aad, bad), "ciphertext");
    bad = ct;
    bad.back() ^= 0x80;
    expect_integrity(aes_gcm_open(key, nonce, aad, bad), "tag");
    expect_integrity(aes_gcm_open(key, nonce, to_bytes("pack headex"), ct), "aad");
    expect_integrity(aes_gcm_open(key, nonce, {}, ct), "missing aad");
    Bytes bad_nonce = nonce;
    bad_nonce[11] ^= 1;
    expect_integrity(aes_gcm_open(key, bad_nonce, aad, ct), "nonce");
    Bytes bad_key = key;
    bad_key[0] ^= 1;
    expect_integrity(aes_gcm_open(bad_key, nonce, aad, ct), "key");
    expect_integrity(aes_gcm_open(key, nonce, aad, ByteView(ct).first(ct.size() - 1)), "truncated");
    expect_integrity(aes_gcm_open(key, nonce, aad, ByteView(ct).first(10)), "shorter than tag");
    // The context is still usable after failures.
    auto ok = aes_gcm_open(key, nonce, aad, ct);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(*ok, pt);
}

TEST(AesGcm, WrongSizesAreInvalidArgument) {
    const Bytes key = random_bytes(32), nonce = random_bytes(12);
    EXPECT_EQ(aes_gcm_seal(random_bytes(16), nonce, {}, {}).status().code(),
              Code::invalid_argument);
    EXPECT_EQ(aes_gcm_seal(key, random_bytes(16), {}, {}).status().code(), Code::invalid_argument);
    EXPECT_EQ(aes_gcm_open(random_bytes(31), nonce, {}, random_bytes(16)).status().code(),
              Code::invalid_argument);
    Bytes small(10);
    EXPECT_EQ(aes_gcm_seal_into(key, nonce, {}, random_bytes(10), small).code(),
              Code::invalid_argument);
}

TEST(AesGcm, IntoVariantsAgree) {
    for (size_t size : {0, 1, 15, 16, 17, 1000, 70000}) {
        const Bytes key = random_bytes(32), nonce = random_bytes(12), aad = random_bytes(size % 40);
        const Bytes pt = random_bytes(size);
        auto sealed = aes_gcm_seal(key, nonce, aad, pt);
        ASSERT_TRUE(sealed.ok());
        Bytes into(size + k_gcm_tag_size);
        ASSERT_TRUE(aes_gcm_seal_into(key, nonce, aad, pt, into).ok());
        EXPECT_EQ(into, *sealed);
        Bytes back(size);
        ASSERT_TRUE(aes_gcm_open_into(key, nonce, aad, into, back).ok());
        EXPECT_EQ(back, pt);
        auto opened = aes_gcm_open(key, nonce, aad, *sealed);
        ASSERT_TRUE(opened.ok());
        EXPECT_EQ(*opened, pt);
    }
}

TEST(AesGcm, ConcurrentUse) {
    std::vector<std::thread> threads;
    std::vector<int> failures(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                Bytes key = random_bytes(32), nonce = random_bytes(12), pt = random_bytes(i * 7);
                auto sealed = aes_gcm_seal(key, nonce, {}, pt);
                auto opened = sealed.ok() ? aes_gcm_open(key, nonce, {}, *sealed) : sealed;
                if (!opened.ok() || *opened != pt) ++failures[t];
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int f : failures) EXPECT_EQ(f, 0);
}

// ---- X25519 (RFC 7748) ----

TEST(X25519, Rfc7748Section5_2) {
    auto r = x25519(H("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                    H("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(to_hex(r->view()),
              "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    r = x25519(H("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
               H("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(to_hex(r->view()),
              "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
}

TEST(X25519, Rfc7748Section5_2Iterated) {
    // k = u = 9; each round k, u = X25519(k, u), k.
    Bytes k(32, 0), u(32, 0);
    k[0] = u[0] = 9;
    for (int i = 1; i <= 1000; ++i) {
        auto r = x25519(k, u);
        ASSERT_TRUE(r.ok());
        u = k;
        k = to_vec(r->view());
        if (i == 1) {
            EXPECT_EQ(to_hex(k),
                      "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
        }
    }
    EXPECT_EQ(to_hex(k), "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

TEST(X25519, Rfc7748Section6_1) {
    const Bytes alice = H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const Bytes bob = H("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    auto alice_pub = x25519_public_from_private(alice);
    auto bob_pub = x25519_public_from_private(bob);
    ASSERT_TRUE(alice_pub.ok() && bob_pub.ok());
    EXPECT_EQ(to_hex(*alice_pub),
              "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    EXPECT_EQ(to_hex(*bob_pub), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    const char* shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    auto ab = x25519(alice, *bob_pub), ba = x25519(bob, *alice_pub);
    ASSERT_TRUE(ab.ok() && ba.ok());
    EXPECT_EQ(to_hex(ab->view()), shared);
    EXPECT_EQ(to_hex(ba->view()), shared);
}

TEST(X25519, LowOrderPointsAreWrongKey) {
    const auto kp = x25519_generate();
    Bytes u1(32, 0);
    u1[0] = 1;
    const Bytes low_order[] = {
        Bytes(32, 0),
        u1,
        // A point of order 8 (from libsodium's blocklist).
        H("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    };
    for (const auto& p : low_order) {
        auto r = x25519(kp.private_key.view(), p);
        ASSERT_FALSE(r.ok()) << to_hex(p);
        EXPECT_EQ(r.status().code(), Code::wrong_key);
        EXPECT_EQ(wrap_key(p, random_bytes(32), {}).status().code(), Code::wrong_key);
    }
}

TEST(X25519, GenerateAndWrongSizes) {
    auto a = x25519_generate(), b = x25519_generate();
    EXPECT_EQ(a.private_key.size(), 32u);
    EXPECT_EQ(a.public_key.size(), 32u);
    EXPECT_NE(a.public_key, b.public_key);
    auto pub = x25519_public_from_private(a.private_key.view());
    ASSERT_TRUE(pub.ok());
    EXPECT_EQ(*pub, a.public_key);
    auto ab = x25519(a.private_key.view(), b.public_key);
    auto ba = x25519(b.private_key.view(), a.public_key);
    ASSERT_TRUE(ab.ok() && ba.ok());
    EXPECT_EQ(to_vec(ab->view()), to_vec(ba->view()));
    EXPECT_EQ(x25519(random_bytes(31), b.public_key).status().code(), Code::invalid_argument);
    EXPECT_EQ(x25519(a.private_key.view(), random_bytes(33)).status().code(),
              Code::invalid_argument);
}

// ---- Ed25519 (RFC 8032 §7.1) ----

TEST(Ed25519, Rfc8032) {
    struct Case {
        const char *seed, *pub, *msg, *sig;
    };
    const Case cases[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
         "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
        {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
         "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
         "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
         "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    };
    for (const auto& c : cases) {
        const Bytes seed = H(c.seed), msg = H(c.msg);
        auto pub = ed25519_public_from_seed(seed);
        ASSERT_TRUE(pub.ok());
        EXPECT_EQ(to_hex(*pub), c.pub);
        auto sig = ed25519_sign(seed, msg);
        ASSERT_TRUE(sig.ok());
        EXPECT_EQ(to_hex(*sig), c.sig);
        EXPECT_TRUE(ed25519_verify(*pub, msg, *sig));
    }
}

TEST(Ed25519, VerifyRejectsTampering) {
    const auto kp = ed25519_generate();
    const auto other = ed25519_generate();
    const Bytes msg = to_bytes("snapshot manifest");
    auto sig = ed25519_sign(kp.seed.view(), msg);
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(ed25519_verify(kp.public_key, msg, *sig));
    Bytes bad_msg = msg;
    bad_msg[3] ^= 1;
    EXPECT_FALSE(ed25519_verify(kp.public_key, bad_msg, *sig));
    for (size_t i : {0, 31, 32, 63}) {
        Bytes bad_sig = *sig;
        bad_sig[i] ^= 1;
        EXPECT_FALSE(ed25519_verify(kp.public_key, msg, bad_sig)) << i;
    }
    EXPECT_FALSE(ed25519_verify(other.public_key, msg, *sig));
    EXPECT_FALSE(ed25519_verify(kp.public_key, msg, ByteView(*sig).first(63)));
    EXPECT_FALSE(ed25519_verify(ByteView(kp.public_key).first(31), msg, *sig));
    EXPECT_EQ(ed25519_sign(random_bytes(31), msg).status().code(), Code::invalid_argument);
}

// ---- key wrapping and sealed boxes ----

TEST(WrapKey, RoundTrip) {
    const auto kp = x25519_generate();
    const SecretBytes file_key = random_secret(32);
    const Bytes context = to_bytes("repo 1234 key slot");
    auto stanza = wrap_key(kp.public_key, file_key.view(), context);
    ASSERT_TRUE(stanza.ok()) << stanza.status().to_string();
    EXPECT_EQ(stanza->size(), k_stanza_size);
    auto unwrapped = unwrap_key(kp.private_key.view(), *stanza, context);
    ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().to_string();
    EXPECT_EQ(to_vec(unwrapped->view()), to_vec(file_key.view()));

    auto again = wrap_key(kp.public_key, file_key.view(), context);
    ASSERT_TRUE(again.ok());
    EXPECT_NE(*again, *stanza) << "each wrap must use a fresh ephemeral key";
    EXPECT_NE(to_vec(ByteView(*again).first(32)), to_vec(ByteView(*stanza).first(32)));
}

TEST(WrapKey, WrongKeyContextAndSize) {
    const auto kp = x25519_generate(), other = x25519_generate();
    const SecretBytes file_key = random_secret(32);
    auto stanza = wrap_key(kp.public_key, file_key.view(), as_bytes("ctx"));
    ASSERT_TRUE(stanza.ok());
    EXPECT_EQ(unwrap_key(other.private_key.view(), *stanza, as_bytes("ctx")).status().code(),
              Code::wrong_key);
    EXPECT_EQ(unwrap_key(kp.private_key.view(), *stanza, as_bytes("ctx2")).status().code(),
              Code::wrong_key);
    EXPECT_EQ(unwrap_key(kp.private_key.view(), *stanza, {}).status().code(), Code::wrong_key);
    EXPECT_EQ(unwrap_key(kp.private_key.view(), ByteView(*stanza).first(111), as_bytes("ctx"))
                  .status()
                  .code(),
              Code::corruption);
    Bytes longer = *stanza;
    longer.push_back(0);
    EXPECT_EQ(unwrap_key(kp.private_key.view(), longer, as_bytes("ctx")).status().code(),
              Code::corruption);
    EXPECT_EQ(wrap_key(kp.public_key, random_bytes(16), {}).status().code(),
              Code::invalid_argument);
}

TEST(WrapKey, EveryByteIsAuthenticated) {
    const auto kp = x25519_generate();
    const SecretBytes file_key = random_secret(32);
    auto stanza = wrap_key(kp.public_key, file_key.view(), as_bytes("ctx"));
    ASSERT_TRUE(stanza.ok());
    for (size_t i = 0; i < stanza->size(); ++i) {
        for (uint8_t mask : {0x01, 0x80, 0xff}) {
            Bytes bad = *stanza;
            bad[i] ^= mask;
            auto r = unwrap_key(kp.private_key.view(), bad, as_bytes("ctx"));
            ASSERT_FALSE(r.ok()) << "byte " << i << " mask " << int(mask);
            EXPECT_EQ(r.status().code(), Code::wrong_key) << "byte " << i;
        }
    }
}

TEST(SealedBox, RoundTripAndFailures) {
    const auto kp = x25519_generate(), other = x25519_generate();
    const Bytes context = to_bytes("config");
    for (size_t size : {0, 1, 40, 5000}) {
        const Bytes pt = random_bytes(size);
        auto sealed = seal_to(kp.public_key, pt, context);
        ASSERT_TRUE(sealed.ok()) << sealed.status().to_string();
        EXPECT_EQ(sealed->size(), k_stanza_size + k_gcm_nonce_size + size + k_gcm_tag_size);
        auto opened = open_sealed(kp.private_key.view(), *sealed, context);
        ASSERT_TRUE(opened.ok()) << opened.status().to_string();
        EXPECT_EQ(to_vec(opened->view()), pt);
        EXPECT_EQ(open_sealed(other.private_key.view(), *sealed, context).status().code(),
                  Code::wrong_key);
        EXPECT_FALSE(open_sealed(kp.private_key.view(), *sealed, as_bytes("other")).ok());
        auto again = seal_to(kp.public_key, pt, context);
        ASSERT_TRUE(again.ok());
        EXPECT_NE(*again, *sealed);
    }
    EXPECT_EQ(open_sealed(kp.private_key.view(), random_bytes(139), context).status().code(),
              Code::corruption);
}

TEST(SealedBox, EveryByteIsAuthenticated) {
    const auto kp = x25519_generate();
    const Bytes pt = random_bytes(40);
    auto sealed = seal_to(kp.public_key, pt, as_bytes("ctx"));
    ASSERT_TRUE(sealed.ok());
    for (size_t i = 0; i < sealed->size(); ++i) {
        Bytes bad = *sealed;
        bad[i] ^= (i % 2) ? 0x80 : 0x01;
        auto r = open_sealed(kp.private_key.view(), bad, as_bytes("ctx"));
        ASSERT_FALSE(r.ok()) << "byte " << i;
        EXPECT_EQ(r.status().code(), i < k_stanza_size ? Code::wrong_key : Code::integrity)
            << "byte " << i;
    }
    EXPECT_FALSE(open_sealed(kp.private_key.view(), ByteView(*sealed).first(sealed->size() - 1),
                             as_bytes("ctx"))
                     .ok());
}

}  // namespace
}  // namespace coffer::crypto
