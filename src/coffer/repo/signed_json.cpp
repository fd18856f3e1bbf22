#include "coffer/repo/signed_json.h"

#include <nlohmann/json.hpp>

#include "coffer/crypto/crypto.h"

namespace coffer::repo {

namespace {

Result<Bytes> signed_message(const nlohmann::json& j, const SignedJsonScheme& scheme,
                             const Id& repo_id) {
    nlohmann::json body = j;
    body.erase(std::string(scheme.field));
    Bytes m = to_bytes(scheme.info);
    append(m, repo_id.view());
    try {
        append(m, as_bytes(body.dump()));
    } catch (const nlohmann::json::exception&) {
        return corruption("holds text that is not UTF-8");
    }
    return m;
}

}  // namespace

Result<std::string> sign_json(nlohmann::json j, const SignedJsonScheme& scheme, const Id& repo_id,
                              const RecoveryKey& signer) {
    SecretBytes seed = signer.registry_seed(repo_id);
    TRY_ASSIGN(Bytes message, signed_message(j, scheme, repo_id));
    TRY_ASSIGN(Bytes signature, crypto::ed25519_sign(seed.view(), message));
    j[std::string(scheme.field)] = to_hex(signature);
    return j.dump(2) + "\n";
}

std::string json_signature_problem(const nlohmann::json& j, const SignedJsonScheme& scheme,
                                   const Id& repo_id, ByteView public_key) {
    auto sig = j.find(scheme.field);
    if (sig == j.end() || !sig->is_string()) return "it is not signed";
    auto bytes = from_hex(sig->get<std::string>());
    if (!bytes || bytes->size() != crypto::k_ed25519_signature_size)
        return "its signature is malformed";
    auto message = signed_message(j, scheme, repo_id);
    if (!message.ok()) return "it " + message.status().message();
    if (!crypto::ed25519_verify(public_key, *message, *bytes))
        return "its signature does not verify";
    return {};
}

}  // namespace coffer::repo
