// JSON objects in keys/ signed with a registry key (Ed25519, derived from a recovery key):
// registry entries and revocations (registry.h), rotation statements and rewrap records
// (rotation.h). The signature, in hex under one field of the object, covers info || repository
// id || the object without that field in nlohmann's compact dump (keys sorted), so every other
// field, "kind" included, is signed and one kind of object cannot pass for another.
// Plain functions; thread-safe.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "coffer/repo/keys.h"

namespace coffer::repo {

struct SignedJsonScheme {
    std::string_view info;   // the domain separator (format.h, info::)
    std::string_view field;  // the member that holds the signature
};

// j signed by signer's registry key for repo_id, pretty-printed with a final newline.
Result<std::string> sign_json(nlohmann::json j, const SignedJsonScheme& scheme, const Id& repo_id,
                              const RecoveryKey& signer);

// Empty when j carries a valid signature by public_key, else why not ("it is not signed", "its
// signature is malformed", "its signature does not verify", ...).
std::string json_signature_problem(const nlohmann::json& j, const SignedJsonScheme& scheme,
                                   const Id& repo_id, ByteView public_key);

}  // namespace coffer::repo
