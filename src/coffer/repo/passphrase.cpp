#include "coffer/repo/passphrase.h"

#include <charconv>
#include <mutex>
#include <string_view>

#include "coffer/crypto/crypto.h"
#include "coffer/util/encoding.h"
#include "coffer/util/file.h"

namespace coffer::repo {

namespace {

constexpr std::string_view k_magic = "coffer-protected v1";
constexpr std::string_view k_comment =
    "# coffer: protected with a passphrase (Argon2id); coffer asks for it when reading this "
    "file\n";
constexpr size_t k_nonce = 12;

std::mutex g_source_mu;
PassphraseSource g_source;

// The lines of a file that are not comments or blank.
std::vector<std::string_view> content_lines(std::string_view all) {
    std::vector<std::string_view> out;
    for (size_t pos = 0; pos < all.size();) {
        size_t end = all.find('\n', pos);
        if (end == std::string_view::npos) end = all.size();
        std::string_view line = all.substr(pos, end - pos);
        pos = end + 1;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        size_t first = line.find_first_not_of(" \t");
        if (first == std::string_view::npos || line[first] == '#') continue;
        out.push_back(line.substr(first));
    }
    return out;
}

bool field(std::string_view token, std::string_view name, uint64_t& out) {
    if (token.substr(0, name.size()) != name) return false;
    token.remove_prefix(name.size());
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
    return ec == std::errc() && end == token.data() + token.size();
}

Status not_protected_form() {
    return invalid_argument(
        "the protected file is malformed: expected 'coffer-protected v1 argon2id ops=N mem=N "
        "salt=HEX' and one line of hex");
}

}  // namespace

bool is_protected(ByteView file) {
    auto lines = content_lines(as_chars(file));
    return !lines.empty() && lines[0].substr(0, k_magic.size()) == k_magic;
}

Result<std::string> protect_text(ByteView text, ByteView passphrase, const KdfCost& cost) {
    if (passphrase.empty()) return invalid_argument("the passphrase is empty");
    Bytes salt = crypto::random_bytes(crypto::k_argon2_salt_size);
    std::string params = std::string(k_magic) + " argon2id ops=" + std::to_string(cost.ops) +
                         " mem=" + std::to_string(cost.mem_bytes) + " salt=" + to_hex(salt);
    TRY_ASSIGN(SecretBytes key, crypto::argon2id(passphrase, salt, cost.ops, cost.mem_bytes, 32));
    Bytes nonce = crypto::random_bytes(k_nonce);
    TRY_ASSIGN(Bytes sealed, crypto::aes_gcm_seal(key.view(), nonce, as_bytes(params), text));
    Bytes all = nonce;
    append(all, sealed);
    return std::string(k_comment) + params + "\n" + to_hex(all) + "\n";
}

Status check_protected_form(ByteView file) {
    // unprotect_text checks the form before it derives any key; an empty passphrase never
    // gets that far, so this costs nothing.
    auto r = unprotect_text(file, ByteView());
    return r.status().code() == Code::invalid_argument ? r.status() : ok_status();
}

Result<SecretBytes> unprotect_text(ByteView file, ByteView passphrase) {
    auto lines = content_lines(as_chars(file));
    if (lines.size() != 2 || lines[0].substr(0, k_magic.size()) != k_magic)
        return not_protected_form();
    std::string_view params = lines[0];
    std::vector<std::string_view> tokens;
    for (size_t pos = 0; pos < params.size();) {
        size_t sp = params.find(' ', pos);
        if (sp == std::string_view::npos) sp = params.size();
        if (sp > pos) tokens.push_back(params.substr(pos, sp - pos));
        pos = sp + 1;
    }
    uint64_t ops = 0, mem = 0;
    if (tokens.size() != 6 || tokens[2] != "argon2id" || !field(tokens[3], "ops=", ops) ||
        !field(tokens[4], "mem=", mem) || tokens[5].substr(0, 5) != "salt=")
        return not_protected_form();
    auto salt = from_hex(tokens[5].substr(5));
    if (!salt || salt->size() != crypto::k_argon2_salt_size) return not_protected_form();
    if (ops > k_max_kdf_ops || mem > k_max_kdf_mem)
        return invalid_argument("the protected file asks for Argon2id with " + std::to_string(ops) +
                                " passes over " + std::to_string(mem >> 20) +
                                " MiB, beyond what coffer allows: it was not made by coffer");
    auto body = from_hex(lines[1]);
    if (!body || body->size() < k_nonce + 16) return not_protected_form();
    if (passphrase.empty()) return wrong_key("wrong passphrase, or the file is damaged");
    TRY_ASSIGN(SecretBytes key, crypto::argon2id(passphrase, *salt, ops, mem, 32));
    auto text = crypto::aes_gcm_open(key.view(), ByteView(body->data(), k_nonce), as_bytes(params),
                                     ByteView(body->data() + k_nonce, body->size() - k_nonce));
    if (!text.ok()) return wrong_key("wrong passphrase, or the file is damaged");
    SecretBytes out(*text);
    secure_wipe(text->data(), text->size());
    return out;
}

void set_passphrase_source(PassphraseSource source) {
    std::lock_guard lock(g_source_mu);
    g_source = std::move(source);
}

Result<SecretBytes> read_key_file(const std::string& path) {
    TRY_ASSIGN(SecretBytes file, read_secret_file(path));
    if (!is_protected(file.view())) return file;
    PassphraseSource source;
    {
        std::lock_guard lock(g_source_mu);
        source = g_source;
    }
    // Errors do not name the file: the callers do ("recovery key file X: ...").
    TRY(check_protected_form(file.view()));
    if (!source) return wrong_key("it is protected with a passphrase, and none can be asked for");
    TRY_ASSIGN(SecretBytes passphrase, source(path));
    return unprotect_text(file.view(), passphrase.view());
}

}  // namespace coffer::repo
