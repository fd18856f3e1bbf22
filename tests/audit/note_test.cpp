// Signed notes and checkpoints. The keys, note and signatures are the fixed vectors of
// golang.org/x/mod/sumdb/note note_test.go (TestNewVerifier, TestNewSigner, TestSign, TestOpen),
// copied byte for byte; Ed25519 is deterministic, so signing must reproduce Go's output exactly.
// The two sample notes are the examples of c2sp.org/signed-note and c2sp.org/tlog-checkpoint.
#include "coffer/audit/note.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coffer/crypto/crypto.h"

namespace coffer::audit {
namespace {

const std::string k_peter_vkey =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const std::string k_peter_skey =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const std::string k_enoch_vkey = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const std::string k_text =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
const std::string k_peter_sig =
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const std::string k_enoch_sig =
    "— EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/"
    "5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

Verifier peter() {
    return Verifier::parse(k_peter_vkey).value();
}
Verifier enoch() {
    return Verifier::parse(k_enoch_vkey).value();
}

Result<Note> open_with(const std::string& msg, std::vector<Verifier> known) {
    return open_note(msg, known);
}

TEST(NoteKeys, PeterNeumannVerifierKey) {
    auto v = Verifier::parse(k_peter_vkey);
    ASSERT_TRUE(v.ok()) << v.status().to_string();
    EXPECT_EQ(v->name, "PeterNeumann");
    EXPECT_EQ(v->key_id, 0xc74f20a3u);
    EXPECT_EQ(v->label(), "PeterNeumann+c74f20a3");
    EXPECT_EQ(v->encode(), k_peter_vkey);
    EXPECT_EQ(ed25519_key_id(v->name, v->public_key), 0xc74f20a3u);
}

// Go's TestNewVerifier: every proper substring and every single-byte increment is refused.
TEST(NoteKeys, VerifierKeyManglingsAreRefused) {
    const std::string& k = k_peter_vkey;
    for (size_t i = 0; i <= k.size(); ++i)
        for (size_t j = i + 1; j <= k.size(); ++j)
            if (i != 0 || j != k.size()) {
                EXPECT_FALSE(Verifier::parse(k.substr(i, j - i)).ok()) << k.substr(i, j - i);
            }
    for (size_t i = 0; i < k.size(); ++i) {
        std::string b = k;
        ++b[i];
        EXPECT_FALSE(Verifier::parse(b).ok()) << b;
    }
    // Wrong key length and unknown algorithm, each with a matching key hash.
    EXPECT_FALSE(Verifier::parse(
                     "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
                     .ok());
    EXPECT_FALSE(
        Verifier::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").ok());
}

TEST(NoteKeys, PeterNeumannSignerKey) {
    auto s = Signer::parse(k_peter_skey);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    EXPECT_EQ(s->name, "PeterNeumann");
    EXPECT_EQ(s->key_id, 0xc74f20a3u);
    EXPECT_EQ(s->encode(), k_peter_skey);
    EXPECT_EQ(s->verifier().encode(), k_peter_vkey);
}

// Go's TestNewSigner manglings.
TEST(NoteKeys, SignerKeyManglingsAreRefused) {
    const std::string& k = k_peter_skey;
    for (size_t i = 0; i <= k.size(); ++i)
        for (size_t j = i + 1; j <= k.size(); ++j)
            if (i != 0 || j != k.size()) {
                EXPECT_FALSE(Signer::parse(k.substr(i, j - i)).ok()) << k.substr(i, j - i);
            }
    for (size_t i = 0; i < k.size(); ++i) {
        std::string b = k;
        ++b[i];
        EXPECT_FALSE(Signer::parse(b).ok()) << b;
    }
}

TEST(NoteKeys, NameRules) {
    for (const char* ok : {"PeterNeumann", "example.com/log42", "a", "ünïcode", "a-b_c:d"})
        EXPECT_TRUE(is_valid_key_name(ok)) << ok;
    for (const char* bad : {"", "a b", "a+b", "+", "a\tb", "a\nb",
                            "a\xc2\xa0"
                            "b" /* NBSP */,
                            "a\xe2\x80\x83"
                            "b" /* em space */,
                            "a\xe3\x80\x80"
                            "b" /* U+3000 */,
                            "a\xc2\x85"
                            "b" /* NEL */,
                            "a\xff"})
        EXPECT_FALSE(is_valid_key_name(bad)) << bad;
    EXPECT_EQ(Signer::generate("bad name").status().code(), Code::invalid_argument);
    EXPECT_EQ(Verifier::from_public_key("ok", Bytes(31)).status().code(), Code::invalid_argument);
}

TEST(NoteKeys, GeneratedKeysRoundTrip) {
    auto s = Signer::generate("coffer.example/audit");
    ASSERT_TRUE(s.ok());
    auto s2 = Signer::parse(s->encode());
    ASSERT_TRUE(s2.ok());
    EXPECT_EQ(s2->public_key, s->public_key);
    auto v = Verifier::parse(s->verifier().encode());
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->key_id, s->key_id);
    auto sig = s->sign(as_bytes("hi"));
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(v->verify(as_bytes("hi"), *sig));
    EXPECT_FALSE(v->verify(as_bytes("ho"), *sig));
}

// Go's TestSign.
TEST(SignedNote, SignReproducesGoByteForByte) {
    const std::vector<Signer> signers = {Signer::parse(k_peter_skey).value()};
    auto msg = sign_note(k_text, signers);
    ASSERT_TRUE(msg.ok()) << msg.status().to_string();
    EXPECT_EQ(*msg, k_text + "\n" + k_peter_sig);

    EXPECT_EQ(sign_note("abc", signers).status().code(), Code::invalid_argument);
    EXPECT_EQ(sign_note("a\x01"
                        "b\n",
                        signers)
                  .status()
                  .code(),
              Code::invalid_argument);
    EXPECT_EQ(sign_note("\xff\n", signers).status().code(), Code::invalid_argument);
    EXPECT_EQ(sign_note(k_text, {}).status().code(), Code::invalid_argument);
    std::vector<Signer> bad = signers;
    bad[0].name = "bad name";
    EXPECT_EQ(sign_note(k_text, bad).status().code(), Code::invalid_argument);
}

// Go's TestOpen.
TEST(SignedNote, OpenVerifiesKnownAndIgnoresUnknownSignatures) {
    const std::string both = k_text + "\n" + k_peter_sig + k_enoch_sig;

    auto n = open_with(both, {peter()});
    ASSERT_TRUE(n.ok()) << n.status().to_string();
    EXPECT_EQ(n->text, k_text);
    ASSERT_EQ(n->verified.size(), 1u);
    EXPECT_EQ(n->verified[0].label(), "PeterNeumann+c74f20a3");
    ASSERT_EQ(n->unverified.size(), 1u);
    EXPECT_EQ(n->unverified[0].label(), "EnochRoot+af0cfe78");

    n = open_with(both, {peter(), enoch()});
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(n->verified.size(), 2u);
    EXPECT_EQ(n->verified[1].label(), "EnochRoot+af0cfe78");
    EXPECT_TRUE(n->unverified.empty());

    auto none = open_with(both, {});
    EXPECT_EQ(none.status().code(), Code::integrity);
    EXPECT_EQ(none.status().message(), "note has no verifiable signatures");
}

TEST(SignedNote, AmbiguousVerifiersAndRepeatedSignatures) {
    auto amb = open_with(k_text + "\n" + k_enoch_sig, {enoch(), peter(), enoch()});
    EXPECT_EQ(amb.status().code(), Code::invalid_argument);
    EXPECT_EQ(amb.status().message(), "ambiguous key EnochRoot+af0cfe78");
    // Unused duplicates do not matter.
    EXPECT_TRUE(open_with(k_text + "\n" + k_peter_sig, {enoch(), peter(), enoch()}).ok());

    std::string many = k_text + "\n";
    for (int i = 0; i < 101; ++i) many += k_peter_sig;
    EXPECT_EQ(open_with(many, {peter()}).status().code(), Code::corruption);
    EXPECT_EQ(open_with(many, {}).status().code(), Code::corruption);

    // Repeats are dropped: two Peter lines verify once; an Enoch line with extra bytes is a
    // different unknown signature and kept, the exact repeat of an unknown one is not.
    const std::string enoch_abcd = k_enoch_sig.substr(0, 60) + "ABCD" + k_enoch_sig.substr(60);
    auto n = open_with(
        k_text + "\n" + k_peter_sig + k_peter_sig + k_enoch_sig + k_enoch_sig + enoch_abcd,
        {peter()});
    ASSERT_TRUE(n.ok()) << n.status().to_string();
    EXPECT_EQ(n->verified.size(), 1u);
    ASSERT_EQ(n->unverified.size(), 2u);
    EXPECT_EQ(n->unverified[1].signature.size(), 64u + 3u);
}

TEST(SignedNote, BadSignaturesFromKnownKeysAreErrors) {
    // Go's "invalid signature": four extra base64 characters inside Peter's signature.
    const std::string bad = k_peter_sig.substr(0, 60) + "ABCD" + k_peter_sig.substr(60);
    auto r = open_with(k_text + "\n" + bad, {peter()});
    EXPECT_EQ(r.status().code(), Code::integrity);
    EXPECT_EQ(r.status().message(), "invalid signature for key PeterNeumann+c74f20a3");

    // Tampered text.
    std::string tampered = k_text + "\n" + k_peter_sig;
    tampered.replace(tampered.find("cryptography"), 12, "cryptographY");
    EXPECT_EQ(open_with(tampered, {peter()}).status().code(), Code::integrity);

    // A key claiming Peter's name and ID with another public key: known, so it must verify.
    Verifier impostor = peter();
    impostor.public_key = Signer::generate("x").value().public_key;
    EXPECT_EQ(open_with(k_text + "\n" + k_peter_sig, {impostor}).status().code(), Code::integrity);

    // A different key of the same name has another ID: the signature is unknown, not bad.
    Verifier other = Signer::generate("PeterNeumann").value().verifier();
    EXPECT_EQ(open_with(k_text + "\n" + k_peter_sig, {other}).status().message(),
              "note has no verifiable signatures");
}

// Go's badMsgs, each a malformed note.
TEST(SignedNote, MalformedNotes) {
    const std::vector<std::string> bad = {
        k_text,
        k_text + "\n",
        k_text + "\n" + k_peter_sig.substr(0, k_peter_sig.size() - 1),
        "\x01" + k_text + "\n" + k_peter_sig,
        "\xff" + k_text + "\n" + k_peter_sig,
        k_text + "\n" +
            "— Bad Name "
            "x08go/ZJkuBS9UG/"
            "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        k_text + "\n" + k_peter_sig + "Unexpected line.\n",
        // And a few more: a hyphen instead of the em dash, a short signature, bad base64.
        k_text + "\n- PeterNeumann " + k_peter_sig.substr(k_peter_sig.find(' ', 4) + 1),
        k_text + "\n— PeterNeumann AAAAAA==\n",
        k_text + "\n— PeterNeumann x08go/ZJ kuBS9UG\n",
        k_text + "\n— PeterNeumann\n",
    };
    for (const std::string& msg : bad) {
        auto r = open_with(msg, {peter()});
        EXPECT_EQ(r.status().code(), Code::corruption) << msg;
        EXPECT_EQ(parse_note(msg).status().code(), Code::corruption) << msg;
    }
}

// The example of c2sp.org/signed-note: its text holds a blank line, so the signatures start
// after the last one.
TEST(SignedNote, C2spSignedNoteExample) {
    const std::string text =
        "Ognuno sta solo sul cuor della terra\n"
        "trafitto da un raggio di sole:\n"
        "\n"
        "ed è subito sera.\n";
    const std::string msg = text +
                            "\n— quasimodo.example/salvatore "
                            "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXx"
                            "j99ihAQwaqP3ZekRwNtIc=\n";
    auto n = parse_note(msg);
    ASSERT_TRUE(n.ok()) << n.status().to_string();
    EXPECT_EQ(n->text, text);
    ASSERT_EQ(n->signatures.size(), 1u);
    EXPECT_EQ(n->signatures[0].name, "quasimodo.example/salvatore");
    EXPECT_EQ(n->signatures[0].key_id, 0x367ba04bu);
    EXPECT_EQ(n->signatures[0].signature.size(), 64u);
}

// The example of c2sp.org/tlog-checkpoint.
TEST(Checkpoint, C2spCheckpointExample) {
    const std::string msg =
        "example.com/behind-the-sofa\n"
        "20852163\n"
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        "\n"
        "— example.com/behind-the-sofa "
        "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
        "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
    auto n = parse_note(msg);
    ASSERT_TRUE(n.ok()) << n.status().to_string();
    auto c = parse_checkpoint(n->text);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    EXPECT_EQ(c->origin, "example.com/behind-the-sofa");
    EXPECT_EQ(c->size, 20852163u);
    EXPECT_EQ(crypto::base64_encode(c->root.view()),
              "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
    EXPECT_TRUE(c->extensions.empty());
    auto again = format_checkpoint(*c);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, n->text);
}

TEST(Checkpoint, SignedRoundTripWithExtensions) {
    Checkpoint c;
    c.origin = "coffer.example/audit/3fa2";
    c.size = 42;
    c.root = crypto::sha256(as_bytes("root"));
    c.extensions = {"first extension", "— second"};
    auto text = format_checkpoint(c);
    ASSERT_TRUE(text.ok());
    const std::vector<Signer> signers = {Signer::parse(k_peter_skey).value()};
    auto signed_note = sign_note(*text, signers);
    ASSERT_TRUE(signed_note.ok());
    auto opened = open_with(*signed_note, {peter()});
    ASSERT_TRUE(opened.ok());
    auto back = parse_checkpoint(opened->text);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->origin, c.origin);
    EXPECT_EQ(back->size, c.size);
    EXPECT_EQ(back->root, c.root);
    EXPECT_EQ(back->extensions, c.extensions);

    c.extensions = {""};
    EXPECT_EQ(format_checkpoint(c).status().code(), Code::invalid_argument);
    c.extensions = {"a\nb"};
    EXPECT_EQ(format_checkpoint(c).status().code(), Code::invalid_argument);
    c.extensions.clear();
    c.origin = "";
    EXPECT_EQ(format_checkpoint(c).status().code(), Code::invalid_argument);
    c.origin = "tab\there";
    EXPECT_EQ(format_checkpoint(c).status().code(), Code::invalid_argument);
}

TEST(Checkpoint, StrictParsing) {
    const std::string root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    auto parses = [](const std::string& t) { return parse_checkpoint(t).ok(); };
    EXPECT_TRUE(parses("o\n0\n" + root + "\n"));
    EXPECT_TRUE(parses("o\n18446744073709551615\n" + root + "\n"));
    EXPECT_EQ(parse_checkpoint("o\n18446744073709551615\n" + root + "\n")->size, UINT64_MAX);
    EXPECT_TRUE(parses("o\n7\n" + root + "\next\n"));
    for (const std::string& bad : std::vector<std::string>{
             "o\n7\n" + root,                            // no final newline
             "o\n7\n",                                   // no root
             "\n7\n" + root + "\n",                      // empty origin
             "o\n07\n" + root + "\n",                    // leading zero
             "o\n00\n" + root + "\n",                    // leading zero
             "o\n+7\n" + root + "\n",                    // sign
             "o\n-7\n" + root + "\n",                    // sign
             "o\n 7\n" + root + "\n",                    // space
             "o\n7 \n" + root + "\n",                    // space
             "o\n1e3\n" + root + "\n",                   // not decimal
             "o\n\n" + root + "\n",                      // empty size
             "o\n18446744073709551616\n" + root + "\n",  // overflow
             "o\n7\n" + root.substr(0, 43) + "\n",       // bad base64
             "o\n7\nAAAA\n",                             // not 32 bytes
             "o\n7\n " + root + "\n",                    // space before the root
             "o\n7\n" + root + "\n\n",                   // empty extension line
             "o\n7\n" + root + "\nx\n\ny\n",             // empty line between extensions
             "o\r\n7\n" + root + "\n",                   // CR
         })
        EXPECT_EQ(parse_checkpoint(bad).status().code(), Code::corruption) << bad;
}

}  // namespace
}  // namespace coffer::audit
