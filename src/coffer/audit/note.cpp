#include "coffer/audit/note.h"

#include <algorithm>
#include <set>
#include <utility>

#include "coffer/audit/utf8.h"
#include "coffer/crypto/crypto.h"

namespace coffer::audit {
namespace {

constexpr std::string_view k_sig_prefix = "\xe2\x80\x94 ";  // em dash (U+2014), space
constexpr std::string_view k_private_prefix = "PRIVATE+KEY+";

// Go's unicode.IsSpace: the Latin-1 spaces plus every other White_Space code point.
bool is_unicode_space(uint32_t cp) {
    switch (cp) {
        case '\t':
        case '\n':
        case '\v':
        case '\f':
        case '\r':
        case ' ':
        case 0x85:
        case 0xa0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202f:
        case 0x205f:
        case 0x3000:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200a;
    }
}

// The first `sep` splits s; without one, everything is `before` (Go's chop in sumdb/note).
std::pair<std::string_view, std::string_view> chop(std::string_view s, char sep) {
    const size_t i = s.find(sep);
    if (i == std::string_view::npos) return {s, {}};
    return {s.substr(0, i), s.substr(i + 1)};
}

// Exactly eight hex digits (either case, as Go's strconv.ParseUint accepts).
bool parse_hex32(std::string_view s, uint32_t& out) {
    if (s.size() != 8) return false;
    auto bytes = from_hex(s);
    if (!bytes) return false;
    out = (uint32_t{(*bytes)[0]} << 24) | (uint32_t{(*bytes)[1]} << 16) |
          (uint32_t{(*bytes)[2]} << 8) | uint32_t{(*bytes)[3]};
    return true;
}

// Valid UTF-8 with no control character other than newline: what the spec allows in a note.
bool is_note_safe(std::string_view s, bool allow_newline) {
    uint32_t cp = 0;
    for (size_t i = 0; i < s.size();) {
        if (!detail::next_code_point(s, i, cp)) return false;
        if (cp < 0x20 && !(allow_newline && cp == '\n')) return false;
    }
    return true;
}

// SHA-256(name || "\n" || alg || key)[:4], big endian; `encoded` is alg || key.
uint32_t key_hash(std::string_view name, ByteView encoded) {
    crypto::Sha256 h;
    h.update(as_bytes(name));
    h.update(as_bytes("\n"));
    h.update(encoded);
    const Id sum = h.finish();
    return (uint32_t{sum.bytes[0]} << 24) | (uint32_t{sum.bytes[1]} << 16) |
           (uint32_t{sum.bytes[2]} << 8) | uint32_t{sum.bytes[3]};
}

Bytes with_alg(ByteView key) {
    Bytes out{k_alg_ed25519};
    append(out, key);
    return out;
}

Status malformed_note(std::string_view why) {
    return corruption("malformed note: " + std::string(why));
}

}  // namespace

bool is_valid_key_name(std::string_view name) {
    if (name.empty()) return false;
    uint32_t cp = 0;
    for (size_t i = 0; i < name.size();) {
        if (!detail::next_code_point(name, i, cp)) return false;
        if (cp == '+' || is_unicode_space(cp)) return false;
    }
    return true;
}

uint32_t ed25519_key_id(std::string_view name, ByteView public_key) {
    return key_hash(name, with_alg(public_key));
}

std::string key_id_hex(uint32_t id) {
    const uint8_t b[4] = {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                          static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
    return to_hex(b);
}

// ---- keys ----

Result<Verifier> Verifier::from_public_key(std::string name, ByteView public_key) {
    if (!is_valid_key_name(name)) return invalid_argument("invalid key name '" + name + "'");
    if (public_key.size() != crypto::k_ed25519_public_size)
        return invalid_argument("ed25519 public key must be 32 bytes");
    Verifier v;
    v.key_id = ed25519_key_id(name, public_key);
    v.name = std::move(name);
    v.public_key.assign(public_key.begin(), public_key.end());
    return v;
}

Result<Verifier> Verifier::parse(std::string_view vkey) {
    const auto [name, rest] = chop(vkey, '+');
    const auto [hash16, key64] = chop(rest, '+');
    uint32_t id = 0;
    auto key = crypto::base64_decode(key64);
    if (!is_valid_key_name(name) || !parse_hex32(hash16, id) || !key || key->empty())
        return invalid_argument("malformed verifier key");
    if (id != key_hash(name, *key))
        return invalid_argument("verifier key " + std::string(name) + ": key ID does not match");
    if ((*key)[0] != k_alg_ed25519)
        return invalid_argument("verifier key " + std::string(name) + ": not an Ed25519 key");
    if (key->size() != 1 + crypto::k_ed25519_public_size)
        return invalid_argument("verifier key " + std::string(name) + ": wrong key length");
    Verifier v;
    v.name = std::string(name);
    v.key_id = id;
    v.public_key.assign(key->begin() + 1, key->end());
    return v;
}

std::string Verifier::encode() const {
    return name + "+" + key_id_hex(key_id) + "+" + crypto::base64_encode(with_alg(public_key));
}

bool Verifier::verify(ByteView message, ByteView signature) const {
    return crypto::ed25519_verify(public_key, message, signature);
}

Result<Signer> Signer::from_seed(std::string name, ByteView seed) {
    if (!is_valid_key_name(name)) return invalid_argument("invalid key name '" + name + "'");
    TRY_ASSIGN(Bytes pub, crypto::ed25519_public_from_seed(seed));
    Signer s;
    s.key_id = ed25519_key_id(name, pub);
    s.name = std::move(name);
    s.seed = SecretBytes(seed);
    s.public_key = std::move(pub);
    return s;
}

Result<Signer> Signer::generate(std::string name) {
    const crypto::Ed25519KeyPair kp = crypto::ed25519_generate();
    return from_seed(std::move(name), kp.seed.view());
}

Result<Signer> Signer::parse(std::string_view skey) {
    const Status malformed = invalid_argument("malformed signer key");
    if (skey.substr(0, k_private_prefix.size()) != k_private_prefix) return malformed;
    const auto [name, rest] = chop(skey.substr(k_private_prefix.size()), '+');
    const auto [hash16, key64] = chop(rest, '+');
    uint32_t id = 0;
    auto key = crypto::base64_decode(key64);
    if (!is_valid_key_name(name) || !parse_hex32(hash16, id) || !key || key->empty())
        return malformed;
    SecretBytes secret(*key);
    secure_wipe(key->data(), key->size());
    if (secret.data()[0] != k_alg_ed25519)
        return invalid_argument("signer key " + std::string(name) + ": not an Ed25519 key");
    if (secret.size() != 1 + crypto::k_ed25519_seed_size)
        return invalid_argument("signer key " + std::string(name) + ": wrong key length");
    TRY_ASSIGN(Signer s, from_seed(std::string(name), secret.view().subspan(1)));
    // The ID is a hash of the public key, so it can only be checked once that is derived.
    if (s.key_id != id)
        return invalid_argument("signer key " + std::string(name) + ": key ID does not match");
    return s;
}

std::string Signer::encode() const {
    SecretBytes encoded(1 + seed.size());
    encoded.data()[0] = k_alg_ed25519;
    std::copy(seed.view().begin(), seed.view().end(), encoded.data() + 1);
    return std::string(k_private_prefix) + name + "+" + key_id_hex(key_id) + "+" +
           crypto::base64_encode(encoded.view());
}

Verifier Signer::verifier() const {
    Verifier v;
    v.name = name;
    v.key_id = key_id;
    v.public_key = public_key;
    return v;
}

Result<Bytes> Signer::sign(ByteView message) const {
    return crypto::ed25519_sign(seed.view(), message);
}

// ---- notes ----

Result<std::string> sign_note(std::string_view text, std::span<const Signer> signers) {
    if (text.empty() || text.back() != '\n')
        return invalid_argument("note text must end in a newline");
    if (!is_note_safe(text, true))
        return invalid_argument("note text must be UTF-8 without control characters");
    if (signers.empty()) return invalid_argument("a note needs at least one signer");
    std::string out(text);
    out.push_back('\n');
    for (const Signer& s : signers) {
        if (!is_valid_key_name(s.name))
            return invalid_argument("invalid key name '" + s.name + "'");
        TRY_ASSIGN(Bytes sig, s.sign(as_bytes(text)));
        Bytes blob = {static_cast<uint8_t>(s.key_id >> 24), static_cast<uint8_t>(s.key_id >> 16),
                      static_cast<uint8_t>(s.key_id >> 8), static_cast<uint8_t>(s.key_id)};
        append(blob, sig);
        out += k_sig_prefix;
        out += s.name;
        out.push_back(' ');
        out += crypto::base64_encode(blob);
        out.push_back('\n');
    }
    return out;
}

Result<ParsedNote> parse_note(std::string_view message) {
    if (!is_note_safe(message, true))
        return malformed_note("not UTF-8, or holds a control character other than newline");
    const size_t split = message.rfind("\n\n");
    if (split == std::string_view::npos) return malformed_note("no blank line before signatures");
    ParsedNote note;
    note.text = std::string(message.substr(0, split + 1));
    std::string_view sigs = message.substr(split + 2);
    if (sigs.empty() || sigs.back() != '\n')
        return malformed_note("signature block is empty or does not end in a newline");
    std::set<std::string_view> seen_lines;
    size_t count = 0;
    while (!sigs.empty()) {
        const size_t nl = sigs.find('\n');
        std::string_view line = sigs.substr(0, nl);
        sigs.remove_prefix(nl + 1);
        if (line.substr(0, k_sig_prefix.size()) != k_sig_prefix)
            return malformed_note("line after the blank line is not a signature");
        line.remove_prefix(k_sig_prefix.size());
        const auto [name, b64] = chop(line, ' ');
        auto blob = crypto::base64_decode(b64);
        if (!is_valid_key_name(name) || b64.empty() || !blob || blob->size() < 5)
            return malformed_note("bad signature line");
        if (++count > k_max_note_signatures) return malformed_note("too many signatures");
        if (!seen_lines.insert(line).second) continue;
        NoteSignature sig;
        sig.name = std::string(name);
        sig.key_id = (uint32_t{(*blob)[0]} << 24) | (uint32_t{(*blob)[1]} << 16) |
                     (uint32_t{(*blob)[2]} << 8) | uint32_t{(*blob)[3]};
        sig.signature.assign(blob->begin() + 4, blob->end());
        note.signatures.push_back(std::move(sig));
    }
    return note;
}

Result<Note> open_note(std::string_view message, std::span<const Verifier> known) {
    TRY_ASSIGN(ParsedNote parsed, parse_note(message));
    Note note;
    note.text = std::move(parsed.text);
    std::set<std::pair<std::string, uint32_t>> seen;
    for (NoteSignature& sig : parsed.signatures) {
        const Verifier* match = nullptr;
        size_t matches = 0;
        for (const Verifier& v : known) {
            if (v.name == sig.name && v.key_id == sig.key_id) {
                match = &v;
                ++matches;
            }
        }
        if (matches == 0) {
            note.unverified.push_back(std::move(sig));
            continue;
        }
        if (matches > 1) return invalid_argument("ambiguous key " + sig.label());
        // A second signature by the same key is dropped unchecked, as Go does.
        if (!seen.emplace(sig.name, sig.key_id).second) continue;
        if (!match->verify(as_bytes(note.text), sig.signature))
            return integrity_error("invalid signature for key " + sig.label());
        note.verified.push_back(std::move(sig));
    }
    if (note.verified.empty()) return integrity_error("note has no verifiable signatures");
    return note;
}

// ---- checkpoints ----

Result<std::string> format_checkpoint(const Checkpoint& c) {
    auto line_ok = [](const std::string& s) { return !s.empty() && is_note_safe(s, false); };
    if (!line_ok(c.origin))
        return invalid_argument("checkpoint origin must be a non-empty line of UTF-8");
    std::string out = c.origin + "\n" + std::to_string(c.size) + "\n" +
                      crypto::base64_encode(c.root.view()) + "\n";
    for (const std::string& ext : c.extensions) {
        if (!line_ok(ext))
            return invalid_argument("checkpoint extension lines must be non-empty lines of UTF-8");
        out += ext;
        out.push_back('\n');
    }
    return out;
}

Result<Checkpoint> parse_checkpoint(std::string_view text) {
    if (text.empty() || text.back() != '\n')
        return corruption("malformed checkpoint: text does not end in a newline");
    if (!is_note_safe(text, true))
        return corruption("malformed checkpoint: not UTF-8, or holds a control character");
    std::vector<std::string_view> lines;
    for (std::string_view rest = text; !rest.empty();) {
        const size_t nl = rest.find('\n');
        lines.push_back(rest.substr(0, nl));
        rest.remove_prefix(nl + 1);
    }
    if (lines.size() < 3) return corruption("malformed checkpoint: fewer than three lines");
    for (std::string_view line : lines)
        if (line.empty()) return corruption("malformed checkpoint: empty line");
    Checkpoint c;
    c.origin = std::string(lines[0]);
    const std::string_view size = lines[1];
    if (size.size() > 20 || (size.size() > 1 && size[0] == '0'))
        return corruption("malformed checkpoint: bad tree size");
    for (char ch : size) {
        if (ch < '0' || ch > '9') return corruption("malformed checkpoint: bad tree size");
        const auto digit = static_cast<uint64_t>(ch - '0');
        if (c.size > (UINT64_MAX - digit) / 10)
            return corruption("malformed checkpoint: tree size overflows");
        c.size = c.size * 10 + digit;
    }
    auto root = crypto::base64_decode(lines[2]);
    if (!root || root->size() != 32)
        return corruption("malformed checkpoint: root is not a base64 32-byte hash");
    c.root = Id::from(*root);
    for (size_t i = 3; i < lines.size(); ++i) c.extensions.emplace_back(lines[i]);
    return c;
}

}  // namespace coffer::audit
