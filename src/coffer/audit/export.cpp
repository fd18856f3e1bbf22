#include "coffer/audit/export.h"

#include <sys/stat.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "coffer/crypto/crypto.h"
#include "coffer/util/file.h"

namespace coffer::audit {

namespace {

constexpr std::string_view k_files[] = {"entries.ndjson", "checkpoints.ndjson", "keys.ndjson"};

constexpr std::string_view k_readme = R"(# coffer audit log export

This directory is a complete copy of one coffer host's audit log. It verifies on its own:

    coffer audit verify --offline . --trusted-key '<the audit key you were given>'

or, instead of a key, `--trusted-checkpoint FILE` with a checkpoint you saved earlier (that
also proves nothing was removed from the end since). Without either, the check only shows that
the export is self-consistent, not who wrote it: get the trust anchor from the operator through
another channel.

## Files

- `entries.ndjson`: one line per entry, `{"index": i, "leaf": "<base64>"}`. The base64 decodes
  to the exact bytes of the Merkle leaf: an RFC 8785 canonical JSON object with the fields
  schema ("coffer.audit.entry/v1"), origin, index, time (UTC), actor, host, action, target,
  outcome, error (optional) and details. Never re-serialize an entry to hash it; hash the bytes.
- `checkpoints.ndjson`: `{"size": n, "note": "<base64>"}` per line, in the order written. Each
  note is a C2SP signed note (https://c2sp.org/signed-note) whose text is a C2SP tlog-checkpoint
  (https://c2sp.org/tlog-checkpoint): the origin, the tree size, the base64 root hash, then
  Ed25519 signature lines whose key name is the origin.
- `keys.ndjson`: the signing keys the log registers (entries with action audit.key.activate
  and audit.key.retire), as verifier key strings (the golang.org/x/mod/sumdb/note format).
- `manifest.json`: the origin, the counts, and the SHA-256 of each file.

## Checking by hand

1. Leaf hash = SHA-256(0x00 || leaf bytes); node hash = SHA-256(0x01 || left || right); the
   root of n leaves is the RFC 6962 / RFC 9162 Merkle tree hash.
2. For each checkpoint, the root of the first `size` leaves must equal its root line, and one
   signature must verify with a key the log had activated (and not retired) at that size. A key
   other than the first counts only once a checkpoint covering its activation is signed by a key
   already in use.
3. Each entry's `index` must equal its position and its `origin` the checkpoints' origin.
)";

Result<std::string> read_text(const std::string& path) {
    TRY_ASSIGN(Bytes b, read_file(path));
    return std::string(as_chars(b));
}

}  // namespace

Status write_export(const std::string& dir, const std::vector<std::string>& leaves,
                    const std::vector<std::string>& checkpoints) {
    std::error_code ec;
    if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec))
        return already_exists("export directory " + dir +
                              " exists and is not empty: choose a new directory");
    TRY(make_dirs(dir, 0700));
    std::string entries, cps, keys;
    for (size_t i = 0; i < leaves.size(); ++i)
        entries +=
            nlohmann::json{{"index", i}, {"leaf", crypto::base64_encode(as_bytes(leaves[i]))}}
                .dump() +
            "\n";
    for (const auto& note : checkpoints) {
        auto parsed = parse_note(note);
        uint64_t size = 0;
        if (parsed.ok())
            if (auto cp = parse_checkpoint(parsed->text); cp.ok()) size = cp->size;
        cps +=
            nlohmann::json{{"size", size}, {"note", crypto::base64_encode(as_bytes(note))}}.dump() +
            "\n";
    }
    Report report = verify_log("", leaves, checkpoints, {});
    for (const auto& k : report.keys) {
        nlohmann::json j{{"key", k.key}, {"label", k.label}, {"activated_at", k.activated_at}};
        if (k.retired) j["retired_at"] = k.retired_at;
        keys += j.dump() + "\n";
    }
    const std::string* bodies[] = {&entries, &cps, &keys};
    nlohmann::json files = nlohmann::json::object();
    for (size_t i = 0; i < 3; ++i) {
        std::string path = dir + "/" + std::string(k_files[i]);
        TRY(write_new_file(path, as_bytes(*bodies[i]), 0644));
        files[std::string(k_files[i])] = crypto::sha256(as_bytes(*bodies[i])).hex();
    }
    nlohmann::json manifest{{"format", "coffer.audit.export/v1"},
                            {"origin", report.origin},
                            {"entries", leaves.size()},
                            {"checkpoints", checkpoints.size()},
                            {"sha256", files}};
    TRY(write_new_file(dir + "/manifest.json", as_bytes(manifest.dump(2) + "\n"), 0644));
    return write_new_file(dir + "/README.md", as_bytes(k_readme), 0644);
}

Result<Report> verify_export(const std::string& dir, const TrustAnchor& anchor) {
    TRY_ASSIGN(std::string manifest_text, read_text(dir + "/manifest.json"));
    auto manifest = nlohmann::json::parse(manifest_text, nullptr, false);
    if (manifest.is_discarded() || !manifest.is_object() || !manifest.contains("sha256") ||
        !manifest["sha256"].is_object())
        return corruption(dir + "/manifest.json is not an audit export manifest");
    std::string bodies[3];
    for (size_t i = 0; i < 3; ++i) {
        std::string name(k_files[i]);
        TRY_ASSIGN(bodies[i], read_text(dir + "/" + name));
        auto want = manifest["sha256"].value(name, std::string());
        if (crypto::sha256(as_bytes(bodies[i])).hex() != want)
            return integrity_error(dir + "/" + name +
                                   " does not match the manifest's SHA-256: "
                                   "the export was altered or damaged");
    }
    std::vector<std::string> leaves, checkpoints;
    auto lines = [](const std::string& s) {
        std::vector<std::string> out;
        size_t start = 0;
        for (size_t nl; (nl = s.find('\n', start)) != std::string::npos; start = nl + 1)
            out.push_back(s.substr(start, nl - start));
        return out;
    };
    size_t n = 0;
    for (const auto& line : lines(bodies[0])) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        std::optional<Bytes> leaf;
        if (!j.is_discarded() && j.is_object() && j.contains("leaf") && j["leaf"].is_string())
            leaf = crypto::base64_decode(j["leaf"].get<std::string>());
        if (!leaf || !j.contains("index") || j["index"] != n)
            return corruption(dir + "/entries.ndjson line " + std::to_string(n + 1) +
                              " is not {\"index\": " + std::to_string(n) + ", \"leaf\": base64}");
        leaves.emplace_back(as_chars(*leaf));
        ++n;
    }
    size_t c = 0;
    for (const auto& line : lines(bodies[1])) {
        ++c;
        auto j = nlohmann::json::parse(line, nullptr, false);
        std::optional<Bytes> note;
        if (!j.is_discarded() && j.is_object() && j.contains("note") && j["note"].is_string())
            note = crypto::base64_decode(j["note"].get<std::string>());
        if (!note)
            return corruption(dir + "/checkpoints.ndjson line " + std::to_string(c) +
                              " is not {\"size\": n, \"note\": base64}");
        checkpoints.emplace_back(as_chars(*note));
    }
    return verify_log(manifest.value("origin", std::string()), leaves, checkpoints, anchor);
}

}  // namespace coffer::audit
