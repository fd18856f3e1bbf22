// Signed notes, checkpoints and key strings (audit/note.h). The input is one text.
//
// Checks:
// - parse_note: rebuilding the note from what was parsed (text, blank line, one line per kept
//   signature) parses to the same thing; every signature's name is a valid key name.
// - open_note with the fixed verifiers: success means at least one signature verified, each
//   verified one really verifies over the text, no key counted twice, text as parse_note says.
// - sign_note(text) with a fixed signer, for every text parse_note produced, opens again.
// - parse_checkpoint: strict, so format_checkpoint(parse_checkpoint(x)) == x, for the input and
//   for the note's text.
// - Verifier::parse / Signer::parse: encode() parses back to the same key, the key ID is the
//   hash of name and key, and a signer's verifier verifies its signatures.
#include <set>
#include <string>
#include <vector>

#include "coffer/audit/note.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::audit;

namespace {

const std::vector<Verifier>& known() {
    static const std::vector<Verifier> v = {fuzz::fixed_signer(0).verifier(),
                                            fuzz::fixed_signer(1).verifier()};
    return v;
}

std::string rebuild(const ParsedNote& n) {
    std::string out = n.text + "\n";
    for (const NoteSignature& s : n.signatures) {
        Bytes blob = {static_cast<uint8_t>(s.key_id >> 24), static_cast<uint8_t>(s.key_id >> 16),
                      static_cast<uint8_t>(s.key_id >> 8), static_cast<uint8_t>(s.key_id)};
        append(blob, s.signature);
        out += "\xe2\x80\x94 " + s.name + " " + crypto::base64_encode(blob) + "\n";
    }
    return out;
}

bool same(const ParsedNote& a, const ParsedNote& b) {
    if (a.text != b.text || a.signatures.size() != b.signatures.size()) return false;
    for (size_t i = 0; i < a.signatures.size(); ++i) {
        const auto &x = a.signatures[i], &y = b.signatures[i];
        if (x.name != y.name || x.key_id != y.key_id || x.signature != y.signature) return false;
    }
    return true;
}

void check_checkpoint(std::string_view text) {
    auto c = parse_checkpoint(text);
    if (!c.ok()) {
        FUZZ_CHECK(c.status().code() == Code::corruption);
        return;
    }
    auto printed = format_checkpoint(*c);
    FUZZ_CHECK_MSG(printed.ok(), printed.status().to_string());
    FUZZ_CHECK_MSG(*printed == text, "checkpoint is not in its one accepted spelling:\n" +
                                         std::string(text) + "---\n" + *printed);
}

void check_note(std::string_view message) {
    auto parsed = parse_note(message);
    auto opened = open_note(message, known());
    if (!parsed.ok()) {
        FUZZ_CHECK(parsed.status().code() == Code::corruption);
        FUZZ_CHECK(!opened.ok());
        return;
    }
    FUZZ_CHECK(!parsed->text.empty() && parsed->text.back() == '\n');
    FUZZ_CHECK(!parsed->signatures.empty());
    FUZZ_CHECK(parsed->signatures.size() <= k_max_note_signatures);
    for (const auto& s : parsed->signatures) FUZZ_CHECK(is_valid_key_name(s.name));
    std::string rebuilt = rebuild(*parsed);
    auto reparsed = parse_note(rebuilt);
    FUZZ_CHECK_MSG(reparsed.ok(), reparsed.status().to_string());
    FUZZ_CHECK(same(*parsed, *reparsed));

    if (opened.ok()) {
        FUZZ_CHECK(opened->text == parsed->text);
        FUZZ_CHECK(!opened->verified.empty());
        std::set<std::pair<std::string, uint32_t>> keys;
        for (const auto& s : opened->verified) {
            FUZZ_CHECK_MSG(keys.emplace(s.name, s.key_id).second, "a key counted twice");
            const Verifier* v = nullptr;
            for (const auto& k : known())
                if (k.name == s.name && k.key_id == s.key_id) v = &k;
            FUZZ_CHECK(v != nullptr);
            FUZZ_CHECK_MSG(v->verify(as_bytes(opened->text), s.signature),
                           "open_note counted a signature that does not verify");
        }
    } else {
        FUZZ_CHECK(opened.status().code() == Code::integrity ||
                   opened.status().code() == Code::invalid_argument);
    }

    // Re-signing the text must give a note that opens.
    const Signer& signer = fuzz::fixed_signer(0);
    auto signed_note = sign_note(parsed->text, std::span<const Signer>(&signer, 1));
    FUZZ_CHECK_MSG(signed_note.ok(), signed_note.status().to_string());
    auto reopened = open_note(*signed_note, known());
    FUZZ_CHECK_MSG(reopened.ok(), reopened.status().to_string());
    FUZZ_CHECK(reopened->text == parsed->text && reopened->verified.size() == 1);

    check_checkpoint(parsed->text);
}

void check_keys(std::string_view text) {
    auto v = Verifier::parse(text);
    if (v.ok()) {
        FUZZ_CHECK(is_valid_key_name(v->name) && v->public_key.size() == 32);
        FUZZ_CHECK(v->key_id == ed25519_key_id(v->name, v->public_key));
        auto back = Verifier::parse(v->encode());
        FUZZ_CHECK_MSG(back.ok(), back.status().to_string());
        FUZZ_CHECK(back->name == v->name && back->key_id == v->key_id &&
                   back->public_key == v->public_key && back->encode() == v->encode());
        FUZZ_CHECK(v->label() == v->name + "+" + key_id_hex(v->key_id));
    } else {
        FUZZ_CHECK(v.status().code() == Code::invalid_argument);
    }
    auto s = Signer::parse(text);
    if (s.ok()) {
        auto back = Signer::parse(s->encode());
        FUZZ_CHECK_MSG(back.ok(), back.status().to_string());
        FUZZ_CHECK(back->name == s->name && back->key_id == s->key_id &&
                   back->public_key == s->public_key);
        Verifier ver = s->verifier();
        FUZZ_CHECK(ver.key_id == ed25519_key_id(ver.name, ver.public_key));
        auto sig = s->sign(as_bytes("coffer fuzz"));
        FUZZ_CHECK(sig.ok() && ver.verify(as_bytes("coffer fuzz"), *sig));
        auto vback = Verifier::parse(ver.encode());
        FUZZ_CHECK(vback.ok() && vback->public_key == ver.public_key);
    } else {
        FUZZ_CHECK(s.status().code() == Code::invalid_argument);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    std::string_view text(reinterpret_cast<const char*>(data), size);
    check_note(text);
    check_checkpoint(text);
    if (text.find('\n') == std::string_view::npos) check_keys(text);
    is_valid_key_name(text);
    return 0;
}
