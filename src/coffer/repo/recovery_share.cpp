#include "coffer/repo/recovery_share.h"

#include <cctype>
#include <charconv>
#include <set>

#include "coffer/crypto/crypto.h"
#include "coffer/crypto/shamir.h"
#include "coffer/repo/passphrase.h"
#include "coffer/util/encoding.h"
#include "coffer/util/file.h"

namespace coffer::repo {

namespace {

constexpr std::string_view k_prefix = "crs1";

Bytes share_checksum(int k, int n, uint8_t index, ByteView split_id, ByteView value) {
    Bytes input = to_bytes("coffer recovery share v1");
    input.push_back(static_cast<uint8_t>(k));
    input.push_back(static_cast<uint8_t>(n));
    input.push_back(index);
    append(input, split_id);
    append(input, value);
    Id h = crypto::sha256(input);
    secure_wipe(input.data(), input.size());
    return Bytes(h.bytes.begin(), h.bytes.begin() + 4);
}

bool parse_int(std::string_view s, int& out) {
    if (s.empty() || s.size() > 3) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

Status malformed(const std::string& why) {
    return invalid_argument("recovery share is malformed: " + why);
}

}  // namespace

Result<std::pair<int, int>> parse_k_of_n(std::string_view text) {
    size_t of = text.find("-of-");
    int k = 0, n = 0;
    if (of == std::string_view::npos || !parse_int(text.substr(0, of), k) ||
        !parse_int(text.substr(of + 4), n))
        return invalid_argument("shares must be given as K-of-N (2-of-3, say), not '" +
                                std::string(text) + "'");
    if (k < 2 || n < k || n > 255)
        return invalid_argument("shares must be K-of-N with 2 <= K <= N <= 255, not " +
                                std::string(text));
    return std::pair{k, n};
}

std::string RecoveryShare::to_text() const {
    Bytes all(value.data(), value.data() + value.size());
    append(all, share_checksum(k, n, index, split_id, value.view()));
    std::string hex = to_hex(all);
    secure_wipe(all.data(), all.size());
    std::string out = std::string(k_prefix) + "-" + std::to_string(k) + "of" + std::to_string(n) +
                      "-" + std::to_string(index) + "-" + to_hex(split_id);
    for (size_t i = 0; i < hex.size(); i += 8) out += "-" + hex.substr(i, 8);
    secure_wipe(hex.data(), hex.size());
    return out;
}

Result<RecoveryShare> RecoveryShare::parse(std::string_view text) {
    std::string compact;
    for (char c : text)
        if (!isspace(static_cast<unsigned char>(c)))
            compact += static_cast<char>(tolower(static_cast<unsigned char>(c)));
    struct Wipe {
        std::string& s;
        ~Wipe() { secure_wipe(s.data(), s.size()); }
    } wipe{compact};
    std::vector<std::string_view> parts;
    for (size_t pos = 0; pos <= compact.size();) {
        size_t dash = compact.find('-', pos);
        if (dash == std::string::npos) dash = compact.size();
        parts.emplace_back(std::string_view(compact).substr(pos, dash - pos));
        pos = dash + 1;
    }
    if (parts.empty() || parts[0] != k_prefix) {
        if (!parts.empty() && parts[0] == "crk1")
            return malformed(
                "this is a whole recovery key, not a share: pass it with "
                "--recovery-key-file");
        return malformed("it must start with 'crs1-'");
    }
    if (parts.size() < 5) return malformed("expected crs1-KofN-INDEX-SPLIT- and 72 hex digits");
    RecoveryShare s;
    size_t of = parts[1].find("of");
    int index = 0;
    if (of == std::string_view::npos || !parse_int(parts[1].substr(0, of), s.k) ||
        !parse_int(parts[1].substr(of + 2), s.n) || s.k < 2 || s.n < s.k || s.n > 255)
        return malformed("the part after 'crs1-' is not K of N (2of3, say)");
    if (!parse_int(parts[2], index) || index < 1 || index > s.n)
        return malformed("its share number is not between 1 and " + std::to_string(s.n));
    s.index = static_cast<uint8_t>(index);
    auto split = from_hex(parts[3]);
    if (!split || split->size() != 4) return malformed("the split id must be 8 hex digits");
    s.split_id = *split;
    std::string rest;
    for (size_t i = 4; i < parts.size(); ++i) rest += parts[i];
    auto raw = from_hex(rest);
    secure_wipe(rest.data(), rest.size());
    if (!raw || raw->size() != 36) {
        if (raw) secure_wipe(raw->data(), raw->size());
        return malformed("expected 72 hex digits after the split id");
    }
    s.value = SecretBytes(ByteView(raw->data(), 32));
    bool sum_ok = ct_equal(ByteView(raw->data() + 32, 4),
                           share_checksum(s.k, s.n, s.index, s.split_id, s.value.view()));
    secure_wipe(raw->data(), raw->size());
    if (!sum_ok)
        return malformed("share " + std::to_string(s.index) +
                         "'s checksum does not match (a digit was mistyped)");
    return s;
}

Result<RecoveryShare> RecoveryShare::load(const std::string& path) {
    auto text = read_key_file(path);
    if (!text.ok()) {
        if (text.status().code() == Code::not_found)
            return not_found("recovery share file " + path + " does not exist");
        return text.status().with_context("recovery share file " + path);
    }
    std::string_view all = as_chars(text->view());
    std::string_view line_found;
    for (size_t pos = 0; pos < all.size();) {
        size_t end = all.find('\n', pos);
        if (end == std::string_view::npos) end = all.size();
        std::string_view line = all.substr(pos, end - pos);
        pos = end + 1;
        size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string_view::npos || line[first] == '#') continue;
        if (!line_found.empty())
            return invalid_argument("recovery share file " + path +
                                    " holds more than one share line: one share per file");
        line_found = line;
    }
    auto share = parse(line_found);
    if (!share.ok()) return share.status().with_context("recovery share file " + path);
    return share;
}

Result<std::vector<RecoveryShare>> split_recovery_key(const RecoveryKey& key, int k, int n) {
    TRY_ASSIGN(auto parts, crypto::shamir_split(key.private_key.view(), k, n));
    Bytes split_id = crypto::random_bytes(4);
    std::vector<RecoveryShare> out;
    for (auto& p : parts) out.push_back(RecoveryShare{k, n, p.index, split_id, std::move(p.value)});
    return out;
}

Result<RecoveryKey> recover_from_shares(const std::vector<RecoveryShare>& shares) {
    if (shares.empty()) return invalid_argument("no recovery shares given");
    const RecoveryShare& first = shares.front();
    std::set<uint8_t> seen;
    for (const auto& s : shares) {
        if (s.split_id != first.split_id || s.k != first.k || s.n != first.n)
            return invalid_argument("recovery shares " + std::to_string(first.index) + " and " +
                                    std::to_string(s.index) + " come from different splits (" +
                                    to_hex(first.split_id) + ", " + to_hex(s.split_id) +
                                    "): give shares of one split");
        if (!seen.insert(s.index).second)
            return invalid_argument("recovery share " + std::to_string(s.index) +
                                    " is given twice: give " + std::to_string(first.k) +
                                    " different shares");
    }
    if (static_cast<int>(shares.size()) < first.k)
        return invalid_argument(std::to_string(first.k) + " of the " + std::to_string(first.n) +
                                " recovery shares are needed, " + std::to_string(shares.size()) +
                                " given: pass each with --recovery-share FILE");
    std::vector<crypto::Share> parts;
    for (const auto& s : shares) parts.push_back({s.index, s.value});
    TRY_ASSIGN(SecretBytes priv, crypto::shamir_combine(parts));
    TRY_ASSIGN(Bytes pub, crypto::x25519_public_from_private(priv.view()));
    return RecoveryKey{std::move(priv), std::move(pub)};
}

std::string share_file_text(const RecoveryShare& s, const std::string& repository_id) {
    return "# coffer recovery share " + std::to_string(s.index) + " of " + std::to_string(s.n) +
           " for repository " + repository_id + " (split " + to_hex(s.split_id) + ").\n" +
           "# Any " + std::to_string(s.k) + " of the " + std::to_string(s.n) +
           " shares recover the recovery key; fewer reveal nothing about it.\n"
           "# Give each share to a different person. Use: --recovery-share FILE, once per "
           "share.\n" +
           s.to_text() + "\n";
}

}  // namespace coffer::repo
