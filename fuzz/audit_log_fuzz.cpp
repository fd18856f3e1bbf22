// The audit log verifier (audit/log_verify.h) and the Merkle tree under it (audit/merkle.h).
//
// The input describes a log: byte 0 holds option flags, then records, each a tag byte (mod 5):
//   0 a raw leaf (varint length, bytes)
//   1 a raw checkpoint note (varint length, bytes)
//   2 a checkpoint of the log so far, signed by the fixed signers in a mask byte, with an
//     optional extension line (varint length, bytes)
//   3 a checkpoint text (varint length, bytes) signed by the signers in a mask byte
//   4 an entry built by the target: action byte (plain, activate or retire a fixed key), varint
//     seconds forward (or back, odd values) from the previous entry's time, index offset byte,
//     target text (varint length, bytes); canonical as the journal writes it
// Flags: bit 0 pass the origin explicitly; bit 1 trust fixed key 0; bit 2 trust fixed key 1;
// bit 3 trust the first checkpoint built by tag 2; bit 4 no time tolerance check.
//
// Checks: the report's root is the Merkle root of the leaves it accepted; a failure has a message
// and is never an internal error; a log that verifies has every leaf canonical and in place, all
// checkpoints verified, consistent tail counts, an anchor met when one was given, inclusion and
// consistency proofs that verify, and the same verdict with its origin passed explicitly.
#include <ctime>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coffer/audit/entry.h"
#include "coffer/audit/jcs.h"
#include "coffer/audit/log_verify.h"
#include "coffer/audit/merkle.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::audit;
using coffer::fuzz::Cursor;
using json = nlohmann::json;

namespace {

constexpr size_t k_max_leaves = 64;
constexpr size_t k_max_checkpoints = 32;

std::vector<Id> hashes_of(const std::vector<std::string>& leaves, size_t n) {
    std::vector<Id> out;
    for (size_t i = 0; i < n && i < leaves.size(); ++i)
        out.push_back(leaf_hash(as_bytes(leaves[i])));
    return out;
}

std::string format_time(int64_t t) {
    time_t secs = static_cast<time_t>(t);
    struct tm tm {};
    gmtime_r(&secs, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::vector<Signer> signers_of(uint8_t mask) {
    std::vector<Signer> out;
    for (int i = 0; i < 3; ++i)
        if (mask & (1 << i)) out.push_back(fuzz::fixed_signer(i));
    if (out.empty()) out.push_back(fuzz::fixed_signer(0));
    return out;
}

struct Log {
    std::vector<std::string> leaves;
    std::vector<std::string> checkpoints;
    std::string first_auto_checkpoint;
    int64_t time = 1767225600;  // 2026-01-01T00:00:00Z
};

void add_entry(Log& log, Cursor& in) {
    uint8_t action = in.u8();
    uint64_t step = in.varint() % 100000;
    int64_t delta = (step & 1) ? -static_cast<int64_t>(step / 2) : static_cast<int64_t>(step / 2);
    uint8_t index_offset = in.u8();
    std::string target = fuzz::str(in.chunk());
    log.time += delta;
    json details = json::object();
    std::string name = "backup.run";
    const Signer& key = fuzz::fixed_signer((action >> 2) % 3);
    switch (action & 3) {
        case 1:
            name = std::string(k_action_key_activate);
            details["key"] = key.verifier().encode();
            break;
        case 2:
            name = std::string(k_action_key_retire);
            details["key_id"] = key_id_hex(key.key_id);
            break;
        default:
            details["files"] = action;
    }
    static const char* const outcomes[] = {"ok", "failed", "refused", "started"};
    json e = {{"schema", std::string(k_entry_schema)},
              {"origin", std::string(fuzz::k_origin)},
              {"index", log.leaves.size() + (index_offset & 0x80 ? index_offset & 3 : 0)},
              {"time", format_time(log.time)},
              {"actor", "fuzz"},
              {"host", "fuzz-host"},
              {"action", name},
              {"target", target},
              {"outcome", (action & 3) ? "ok" : outcomes[(action >> 4) % 4]},
              {"details", details}};
    auto leaf = canonical_json(e);
    if (leaf.ok()) log.leaves.push_back(*leaf);
}

void add_checkpoint(Log& log, Cursor& in, bool of_log) {
    std::string text;
    uint8_t mask;
    if (of_log) {
        mask = in.u8();
        Checkpoint c;
        c.origin = std::string(fuzz::k_origin);
        c.size = log.leaves.size();
        auto hashes = hashes_of(log.leaves, log.leaves.size());
        c.root = root(hashes);
        std::string ext = fuzz::str(in.chunk());
        if (!ext.empty()) c.extensions.push_back(ext);
        auto formatted = format_checkpoint(c);
        if (!formatted.ok()) {
            c.extensions.clear();
            formatted = format_checkpoint(c);
        }
        FUZZ_CHECK(formatted.ok());
        text = *formatted;
    } else {
        text = fuzz::str(in.chunk());
        mask = in.u8();
    }
    std::vector<Signer> signers = signers_of(mask);
    auto note = sign_note(text, signers);
    if (!note.ok()) return;
    if (of_log && log.first_auto_checkpoint.empty()) log.first_auto_checkpoint = *note;
    log.checkpoints.push_back(*note);
}

void check_proofs(const std::vector<std::string>& leaves, const Report& r) {
    std::vector<Id> hashes = hashes_of(leaves, leaves.size());
    const Id full = root(hashes);
    FUZZ_CHECK(full == r.root);
    for (uint64_t i = 0; i < hashes.size(); ++i) {
        auto proof = inclusion_proof(hashes, i);
        FUZZ_CHECK(proof.ok());
        FUZZ_CHECK_MSG(verify_inclusion(i, hashes.size(), hashes[i], *proof, full).ok(),
                       "inclusion proof of leaf " + std::to_string(i) + " does not verify");
        if (!proof->empty()) {
            Id wrong = hashes[i];
            wrong.bytes[0] ^= 1;
            FUZZ_CHECK(!verify_inclusion(i, hashes.size(), wrong, *proof, full).ok());
        }
    }
    for (uint64_t m = 0; m <= hashes.size(); ++m) {
        auto proof = consistency_proof(hashes, m);
        FUZZ_CHECK(proof.ok());
        const Id old_root = root(std::span<const Id>(hashes).subspan(0, m));
        FUZZ_CHECK_MSG(verify_consistency(m, hashes.size(), old_root, full, *proof).ok(),
                       "consistency proof " + std::to_string(m) + " -> " +
                           std::to_string(hashes.size()) + " does not verify");
    }
    CompactTree tree;
    for (const Id& h : hashes) tree.append(h);
    FUZZ_CHECK(tree.size() == hashes.size() && tree.root() == full);
    auto restored = CompactTree::restore(tree.size(), tree.hashes());
    FUZZ_CHECK(restored.ok() && restored->root() == full);
}

void check_report(const Log& log, const TrustAnchor& anchor, const Report& r) {
    FUZZ_CHECK(r.entries <= log.leaves.size());
    FUZZ_CHECK(r.checkpoints <= log.checkpoints.size());
    FUZZ_CHECK_MSG(r.root == root(hashes_of(log.leaves, r.entries)),
                   "report root is not the root of the accepted entries");
    if (r.status == LogStatus::failed) {
        FUZZ_CHECK(!r.anchored);
        FUZZ_CHECK(!r.error.message.empty());
        FUZZ_CHECK_MSG(r.error.message.rfind("internal error", 0) != 0, r.error.message);
        FUZZ_CHECK(r.error.where != Where::none);
        return;
    }
    FUZZ_CHECK(r.entries == log.leaves.size());
    FUZZ_CHECK(r.checkpoints == log.checkpoints.size());
    FUZZ_CHECK(r.has_newest == !log.checkpoints.empty());
    uint64_t signed_size = r.has_newest ? r.newest.size : 0;
    FUZZ_CHECK(signed_size <= r.entries);
    FUZZ_CHECK(r.unsigned_tail == r.entries - signed_size);
    FUZZ_CHECK((r.status == LogStatus::ok) == (r.unsigned_tail == 0));
    FUZZ_CHECK(!r.keys.empty() && r.keys[0].endorsed && r.keys[0].activated_at == 0);
    for (size_t i = 0; i < log.leaves.size(); ++i) {
        json e = json::parse(log.leaves[i], nullptr, false);
        FUZZ_CHECK(!e.is_discarded());
        auto c = canonical_json(e);
        FUZZ_CHECK_MSG(c.ok() && *c == log.leaves[i], "accepted a non-canonical leaf");
        auto f = check_entry(e);
        FUZZ_CHECK_MSG(f.ok(), f.status().to_string());
        FUZZ_CHECK(f->index == i && f->origin == r.origin);
        if (i == 0) FUZZ_CHECK(f->action == k_action_key_activate);
    }
    if (!anchor.trusted_keys.empty()) {
        FUZZ_CHECK_MSG(r.anchored, "trusted keys given, log verified, but not anchored");
        bool signed_by_trusted = false;
        for (const auto& k : r.keys) signed_by_trusted |= k.trusted && k.checkpoints_signed > 0;
        FUZZ_CHECK(signed_by_trusted);
    }
    if (!anchor.trusted_checkpoint.empty()) FUZZ_CHECK(r.anchored);
    if (anchor.trusted_keys.empty() && anchor.trusted_checkpoint.empty()) FUZZ_CHECK(!r.anchored);
    for (const auto& k : r.keys) {
        FUZZ_CHECK(k.activated_at < r.entries);
        if (k.retired) FUZZ_CHECK(k.retired_at > k.activated_at && k.retired_at < r.entries);
        auto v = Verifier::parse(k.key);
        FUZZ_CHECK(v.ok() && v->label() == k.label);
    }
    check_proofs(log.leaves, r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    uint8_t flags = in.u8();
    Log log;
    while (!in.empty() && log.leaves.size() < k_max_leaves &&
           log.checkpoints.size() < k_max_checkpoints) {
        switch (in.u8() % 5) {
            case 0:
                log.leaves.push_back(fuzz::str(in.chunk()));
                break;
            case 1:
                log.checkpoints.push_back(fuzz::str(in.chunk()));
                break;
            case 2:
                add_checkpoint(log, in, true);
                break;
            case 3:
                add_checkpoint(log, in, false);
                break;
            case 4:
                add_entry(log, in);
                break;
        }
    }

    TrustAnchor anchor;
    if (flags & 2) anchor.trusted_keys.push_back(fuzz::fixed_signer(0).verifier().encode());
    if (flags & 4) anchor.trusted_keys.push_back(fuzz::fixed_signer(1).verifier().encode());
    if (flags & 8) anchor.trusted_checkpoint = log.first_auto_checkpoint;
    VerifyOptions options;
    if (flags & 16) options.max_time_step_back_s = -1;
    std::string origin = (flags & 1) ? std::string(fuzz::k_origin) : std::string();

    Report r = verify_log(origin, log.leaves, log.checkpoints, anchor, options);
    check_report(log, anchor, r);
    FUZZ_CHECK(!r.summary().empty());
    if (origin.empty() && r.status != LogStatus::failed) {
        Report again = verify_log(r.origin, log.leaves, log.checkpoints, anchor, options);
        FUZZ_CHECK_MSG(
            again.status == r.status && again.entries == r.entries && again.anchored == r.anchored,
            "an explicit origin changed the verdict: " + again.summary());
    }
    return 0;
}
