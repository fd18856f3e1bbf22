// The audit log verifier and the entry schema. A fixture log of 50 entries with a key rotation in
// the middle and checkpoints every few entries is tampered with one way per test; each test
// asserts that the verifier fails and names the first bad entry or checkpoint.
#include "coffer/audit/log_verify.h"

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "coffer/audit/jcs.h"
#include "coffer/audit/merkle.h"
#include "coffer/crypto/crypto.h"

namespace coffer::audit {
namespace {

using json = nlohmann::json;

constexpr int64_t k_t0 = 1714564800;  // 2024-05-01T12:00:00Z

std::string time_text(int64_t seconds) {
    return format_entry_time(std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));
}

std::string must_encode(const json& e) {
    auto r = encode_entry(e);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : std::string();
}

// Writes a log the way the real writer will: entries through encode_entry, checkpoints as signed
// notes over the prefix root.
struct LogBuilder {
    std::string origin;
    std::vector<std::string> leaves;
    std::vector<std::string> checkpoints;
    std::vector<uint64_t> checkpoint_sizes;
    CompactTree tree;

    explicit LogBuilder(std::string o) : origin(std::move(o)) {}

    json fields(const std::string& action, json details, int64_t time) const {
        return {{"schema", k_entry_schema}, {"origin", origin},
                {"index", leaves.size()},   {"time", time_text(time)},
                {"actor", "alice"},         {"host", "db1"},
                {"action", action},         {"target", "set/pg"},
                {"outcome", "ok"},          {"details", std::move(details)}};
    }
    void add_json(const json& e) {
        leaves.push_back(must_encode(e));
        tree.append(leaf_hash(as_bytes(leaves.back())));
    }
    void add(const std::string& action, json details = json::object()) {
        add_json(fields(action, std::move(details), k_t0 + 60 * int64_t(leaves.size())));
    }
    void activate(const Signer& s) {
        add(std::string(k_action_key_activate), {{"key", s.verifier().encode()}});
    }
    void retire(const Signer& s) {
        add(std::string(k_action_key_retire), {{"key_id", key_id_hex(s.key_id)}});
    }

    std::string note(uint64_t size, const Id& root, const std::vector<Signer>& signers) const {
        Checkpoint c{origin, size, root, {}};
        auto text = format_checkpoint(c);
        EXPECT_TRUE(text.ok());
        auto n = sign_note(*text, signers);
        EXPECT_TRUE(n.ok()) << n.status().to_string();
        return n.ok() ? *n : std::string();
    }
    void checkpoint(const std::vector<Signer>& signers) {
        checkpoints.push_back(note(tree.size(), tree.root(), signers));
        checkpoint_sizes.push_back(tree.size());
    }
    size_t checkpoint_at(uint64_t size) const {
        return static_cast<size_t>(
            std::find(checkpoint_sizes.begin(), checkpoint_sizes.end(), size) -
            checkpoint_sizes.begin());
    }
    // The root of the first n leaves.
    Id prefix_root(uint64_t n) const {
        CompactTree t;
        for (uint64_t i = 0; i < n; ++i) t.append(leaf_hash(as_bytes(leaves[i])));
        return t.root();
    }
};

Signer key(const std::string& name) {
    return Signer::generate(name).value();
}

// Genesis key G signs checkpoints 4..24; entry 25 activates K2; checkpoint 26 is signed by G
// (endorsing K2) and cosigned by K2; entry 26 retires G, which cosigns checkpoint 27, its last;
// K2 alone signs 28..48 and the final checkpoint at 50.
struct Fixture {
    Signer g = key("coffer.test/genesis");
    Signer k2 = key("coffer.test/k2");
    LogBuilder log{"coffer.test/audit/unit"};

    Fixture() { build(log, g, k2); }

    static void build(LogBuilder& log, const Signer& g, const Signer& k2) {
        log.activate(g);
        while (log.leaves.size() < 25) {
            log.add("backup.run", {{"snapshot", "s" + std::to_string(log.leaves.size())}});
            if (log.leaves.size() % 4 == 0) log.checkpoint({g});
        }
        log.activate(k2);  // entry 25
        log.checkpoint({g, k2});
        log.retire(g);  // entry 26
        log.checkpoint({g, k2});
        while (log.leaves.size() < 50) {
            log.add("restore.run", {{"files", log.leaves.size()}});
            if (log.leaves.size() % 4 == 0 || log.leaves.size() == 50) log.checkpoint({k2});
        }
    }

    Report verify(const TrustAnchor& anchor = {}) const {
        return verify_log(log.origin, log.leaves, log.checkpoints, anchor);
    }
};

TrustAnchor trust_key(const Signer& s) {
    return {{s.verifier().encode()}, {}};
}

TrustAnchor trust_checkpoint(const std::string& note) {
    return {{}, note};
}

// Re-encodes entry i after `edit`, as an attacker who knows the format would.
void edit_entry(LogBuilder& log, size_t i, const std::function<void(json&)>& edit) {
    json e = json::parse(log.leaves[i]);
    edit(e);
    log.leaves[i] = must_encode(e);
}

void expect_entry_error(const Report& r, uint64_t entry, const std::string& needle) {
    EXPECT_EQ(r.status, LogStatus::failed) << r.summary();
    EXPECT_EQ(r.error.where, Where::entry) << r.summary();
    EXPECT_EQ(r.error.entry, entry) << r.summary();
    EXPECT_NE(r.error.message.find("entry " + std::to_string(entry) + ": "), std::string::npos)
        << r.error.message;
    EXPECT_NE(r.error.message.find(needle), std::string::npos) << r.error.message;
    EXPECT_EQ(r.error.message.find('\n'), std::string::npos);
    EXPECT_FALSE(r.anchored);
}

void expect_checkpoint_error(const Report& r, const LogBuilder& log, uint64_t size,
                             const std::string& needle) {
    EXPECT_EQ(r.status, LogStatus::failed) << r.summary();
    EXPECT_EQ(r.error.where, Where::checkpoint) << r.summary();
    EXPECT_TRUE(r.error.size_known);
    EXPECT_EQ(r.error.tree_size, size) << r.summary();
    EXPECT_EQ(r.error.checkpoint, log.checkpoint_at(size)) << r.summary();
    EXPECT_NE(r.error.message.find("(size " + std::to_string(size) + ")"), std::string::npos)
        << r.error.message;
    EXPECT_NE(r.error.message.find(needle), std::string::npos) << r.error.message;
    EXPECT_EQ(r.error.message.find('\n'), std::string::npos);
}

void expect_anchor_error(const Report& r, const std::string& needle) {
    EXPECT_EQ(r.status, LogStatus::failed) << r.summary();
    EXPECT_EQ(r.error.where, Where::anchor) << r.summary();
    EXPECT_NE(r.error.message.find(needle), std::string::npos) << r.error.message;
    EXPECT_FALSE(r.anchored);
}

// ---- the untampered log ----

TEST(AuditLog, UntamperedLogPasses) {
    Fixture f;
    const Report r = f.verify();
    ASSERT_EQ(r.status, LogStatus::ok) << r.summary();
    EXPECT_FALSE(r.anchored);
    EXPECT_NE(r.summary().find("self-consistent only"), std::string::npos) << r.summary();
    EXPECT_EQ(r.origin, f.log.origin);
    EXPECT_EQ(r.entries, 50u);
    EXPECT_EQ(r.checkpoints, f.log.checkpoints.size());
    EXPECT_EQ(r.checkpoints, 15u);
    ASSERT_TRUE(r.has_newest);
    EXPECT_EQ(r.newest.size, 50u);
    EXPECT_EQ(r.newest.root, f.log.tree.root());
    EXPECT_EQ(r.root, f.log.tree.root());
    EXPECT_EQ(r.unsigned_tail, 0u);
    EXPECT_EQ(r.error.where, Where::none);

    ASSERT_EQ(r.keys.size(), 2u);
    const KeyInfo& g = r.keys[0];
    EXPECT_EQ(g.key, f.g.verifier().encode());
    EXPECT_EQ(g.activated_at, 0u);
    EXPECT_TRUE(g.retired);
    EXPECT_EQ(g.retired_at, 26u);
    EXPECT_TRUE(g.endorsed);
    EXPECT_EQ(g.endorsed_at_size, 0u);
    EXPECT_EQ(g.checkpoints_signed, 8u);  // 4..24, 26 and 27
    const KeyInfo& k2 = r.keys[1];
    EXPECT_EQ(k2.label, f.k2.verifier().label());
    EXPECT_EQ(k2.activated_at, 25u);
    EXPECT_FALSE(k2.retired);
    EXPECT_EQ(k2.endorsed_at_size, 26u);
    // 27, 28..48 and 50: its cosignature on 26 came before it was endorsed, so it does not count.
    EXPECT_EQ(k2.checkpoints_signed, 8u);
}

TEST(AuditLog, UntamperedLogIsAnchoredByEachKindOfAnchor) {
    Fixture f;
    for (const TrustAnchor& a :
         {trust_key(f.g), trust_key(f.k2), trust_checkpoint(f.log.checkpoints[5]),
          trust_checkpoint(f.log.checkpoints.back()),
          TrustAnchor{{f.g.verifier().encode()}, f.log.checkpoints[9]}}) {
        const Report r = f.verify(a);
        EXPECT_EQ(r.status, LogStatus::ok) << r.summary();
        EXPECT_TRUE(r.anchored) << r.summary();
        EXPECT_NE(r.summary().find("anchored"), std::string::npos);
    }
    EXPECT_TRUE(f.verify(trust_key(f.g)).keys[0].trusted);
    // The origin may be left for the verifier to read from entry 0.
    EXPECT_EQ(verify_log("", f.log.leaves, f.log.checkpoints, trust_key(f.g)).status,
              LogStatus::ok);
}

TEST(AuditLog, UnknownCosignaturesAreIgnored) {
    Fixture f;
    const Signer witness = key("witness.example/w1");
    f.log.checkpoints[3] = f.log.note(16, f.log.prefix_root(16), {witness, f.g});
    EXPECT_EQ(f.verify(trust_key(f.g)).status, LogStatus::ok);
}

// ---- the tamper matrix ----

TEST(AuditLog, EditedEntryIsCaughtByTheNextCheckpoint) {
    Fixture f;
    edit_entry(f.log, 13, [](json& e) { e["actor"] = "mallory"; });
    const Report r = f.verify(trust_key(f.g));
    expect_checkpoint_error(r, f.log, 16, "entries 12 to 15 differ from what was signed");
    EXPECT_EQ(r.error.verified_up_to, 12u);
    EXPECT_EQ(r.checkpoints, 3u);
}

TEST(AuditLog, NonCanonicalOrUnparsableEntryIsNamed) {
    {
        Fixture f;
        f.log.leaves[13].insert(1, " ");
        expect_entry_error(f.verify(), 13, "not in canonical form");
    }
    {
        Fixture f;  // a duplicate member: parsers disagree on which one wins
        std::string& leaf = f.log.leaves[13];
        leaf.insert(leaf.size() - 1, ",\"actor\":\"mallory\"");
        expect_entry_error(f.verify(), 13, "not in canonical form");
    }
    {
        Fixture f;
        f.log.leaves[13].pop_back();
        expect_entry_error(f.verify(), 13, "not valid JSON");
    }
    {
        Fixture f;
        json e = json::parse(f.log.leaves[13]);
        e.erase("host");
        f.log.leaves[13] = canonical_json(e).value();  // canonical, but not through encode_entry
        expect_entry_error(f.verify(), 13, "missing field 'host'");
    }
}

TEST(AuditLog, DeletedEntry) {
    Fixture f;
    f.log.leaves.erase(f.log.leaves.begin() + 13);
    const Report r = f.verify();
    expect_entry_error(r, 13, "index field is 14, expected 13: an entry before it was removed");
    EXPECT_EQ(r.error.verified_up_to, 12u);
    EXPECT_EQ(r.entries, 13u);
}

TEST(AuditLog, DeletedEntryWithRenumbering) {
    Fixture f;
    f.log.leaves.erase(f.log.leaves.begin() + 13);
    for (size_t i = 13; i < f.log.leaves.size(); ++i)
        edit_entry(f.log, i, [i](json& e) { e["index"] = i; });
    expect_checkpoint_error(f.verify(), f.log, 16, "entries 12 to 15");
}

TEST(AuditLog, SwappedEntries) {
    Fixture f;
    std::swap(f.log.leaves[13], f.log.leaves[14]);
    expect_entry_error(f.verify(), 13, "index field is 14, expected 13");
}

TEST(AuditLog, InsertedEntry) {
    Fixture f;
    const json forged = f.log.fields("backup.delete", json::object(), k_t0 + 60 * 13 + 1);
    json at13 = forged;
    at13["index"] = 13;
    f.log.leaves.insert(f.log.leaves.begin() + 13, must_encode(at13));
    // Position 13 looks fine on its own; position 14 repeats index 13.
    const Report r = f.verify();
    expect_entry_error(r, 14, "index field is 13, expected 14: an entry was inserted before it");
    EXPECT_EQ(r.error.verified_up_to, 12u);
}

TEST(AuditLog, InsertedEntryWithRenumbering) {
    Fixture f;
    json forged = f.log.fields("backup.delete", json::object(), k_t0 + 60 * 13 + 1);
    forged["index"] = 13;
    f.log.leaves.insert(f.log.leaves.begin() + 13, must_encode(forged));
    for (size_t i = 14; i < f.log.leaves.size(); ++i)
        edit_entry(f.log, i, [i](json& e) { e["index"] = i; });
    expect_checkpoint_error(f.verify(), f.log, 16, "entries 12 to 15");
}

TEST(AuditLog, TruncatedTailAgainstATrustedCheckpoint) {
    Fixture f;
    const std::string seen_before = f.log.checkpoints[f.log.checkpoint_at(48)];
    f.log.leaves.resize(40);
    f.log.checkpoints.resize(f.log.checkpoint_at(40) + 1);
    // Cut cleanly, the log is consistent with itself: only the anchor can tell.
    EXPECT_EQ(f.verify().status, LogStatus::ok);
    EXPECT_EQ(f.verify(trust_key(f.k2)).status, LogStatus::ok);
    const Report r = f.verify(trust_checkpoint(seen_before));
    expect_anchor_error(r, "covers 48 entries, but the log has only 40: it was truncated");
    EXPECT_EQ(r.error.tree_size, 48u);
}

TEST(AuditLog, TruncatedLeavesBelowTheirCheckpoints) {
    Fixture f;
    f.log.leaves.resize(42);
    expect_checkpoint_error(f.verify(), f.log, 44, "covers 44 entries, but the log has only 42");
}

TEST(AuditLog, ForgedCheckpointSignature) {
    Fixture f;
    std::string& note = f.log.checkpoints[f.log.checkpoint_at(20)];
    // A character well inside the base64 signature, past the 4-byte key ID.
    const size_t pos = note.rfind(' ') + 30;
    note[pos] = note[pos] == 'A' ? 'B' : 'A';
    expect_checkpoint_error(f.verify(), f.log, 20,
                            "invalid signature for key " + f.g.verifier().label());
}

TEST(AuditLog, ForgedCheckpointText) {
    Fixture f;
    std::string& note = f.log.checkpoints[f.log.checkpoint_at(20)];
    const std::string real = crypto::base64_encode(f.log.prefix_root(20).view());
    note.replace(note.find(real), real.size(), crypto::base64_encode(f.log.prefix_root(19).view()));
    expect_checkpoint_error(f.verify(), f.log, 20, "invalid signature");
}

TEST(AuditLog, WellSignedCheckpointWithAWrongRoot) {
    Fixture f;
    f.log.checkpoints[f.log.checkpoint_at(20)] = f.log.note(20, f.log.prefix_root(19), {f.g});
    const Report r = f.verify();
    expect_checkpoint_error(r, f.log, 20, "entries 16 to 19 differ from what was signed");
    EXPECT_EQ(r.error.verified_up_to, 16u);
}

TEST(AuditLog, CheckpointSignedByAnUnknownKey) {
    Fixture f;
    const Signer evil = key("coffer.test/evil");
    f.log.checkpoints[f.log.checkpoint_at(20)] = f.log.note(20, f.log.prefix_root(20), {evil});
    expect_checkpoint_error(
        f.verify(), f.log, 20,
        "not signed by any key in the log's registry (signed by " + evil.verifier().label() + ")");
}

TEST(AuditLog, CheckpointSignedByARetiredKey) {
    // G was retired by entry 26: it signed checkpoint 27, and may sign nothing after.
    for (bool with_k2 : {false, true}) {
        Fixture f;
        std::vector<Signer> signers = {f.g};
        if (with_k2) signers.push_back(f.k2);
        f.log.checkpoints[f.log.checkpoint_at(32)] = f.log.note(32, f.log.prefix_root(32), signers);
        expect_checkpoint_error(f.verify(), f.log, 32,
                                "signed by key " + f.g.verifier().label() +
                                    ", retired by entry 26: it may sign checkpoints only up to "
                                    "size 27");
    }
}

TEST(AuditLog, RetirementBoundaryIsExact) {
    // Size 27 (the checkpoint recording the retirement) is the last G may sign; 28 is too late.
    Fixture f;
    f.log.checkpoints[f.log.checkpoint_at(28)] = f.log.note(28, f.log.prefix_root(28), {f.k2, f.g});
    expect_checkpoint_error(f.verify(), f.log, 28, "it may sign checkpoints only up to size 27");
}

TEST(AuditLog, KeyCannotSignBeforeItsActivation) {
    // K2 is activated by entry 25, so a checkpoint of size 24 signed by it alone has no signature
    // from a key the log knows at that size.
    Fixture f;
    f.log.checkpoints[f.log.checkpoint_at(24)] = f.log.note(24, f.log.prefix_root(24), {f.k2});
    expect_checkpoint_error(f.verify(), f.log, 24, "not signed by any key in the log's registry");
}

TEST(AuditLog, KeyActivatedByTheLogItselfIsNotTrusted) {
    Fixture f;
    const Signer evil = key("coffer.test/evil");
    f.log.activate(evil);  // entry 50
    f.log.add("backup.delete");
    f.log.checkpoint({evil});
    expect_checkpoint_error(f.verify(), f.log, 52,
                            "no checkpoint from an earlier key has endorsed");

    // The same activation endorsed by the writer's current key is a normal rotation.
    f.log.checkpoints.back() = f.log.note(52, f.log.tree.root(), {f.k2});
    const Report r = f.verify(trust_key(f.g));
    EXPECT_EQ(r.status, LogStatus::ok) << r.summary();
    EXPECT_EQ(r.keys.back().endorsed_at_size, 52u);
}

TEST(AuditLog, ReplacedKeyRegistry) {
    Fixture f;
    // The attacker regenerates the whole log under keys of its own, entries otherwise the same.
    const Signer a1 = key("coffer.test/genesis");
    const Signer a2 = key("coffer.test/k2");
    LogBuilder forged(f.log.origin);
    Fixture::build(forged, a1, a2);
    auto run = [&](const TrustAnchor& anchor) {
        return verify_log(forged.origin, forged.leaves, forged.checkpoints, anchor);
    };
    EXPECT_EQ(run({}).status, LogStatus::ok);  // self-consistent, but says so
    EXPECT_FALSE(run({}).anchored);
    expect_anchor_error(run(trust_key(f.g)),
                        "no checkpoint is signed by a trusted key (this log's genesis key is " +
                            a1.verifier().label() + ")");
    expect_anchor_error(run(trust_key(f.k2)), "no checkpoint is signed by a trusted key");
    const Report r = run(trust_checkpoint(f.log.checkpoints[f.log.checkpoint_at(24)]));
    expect_anchor_error(r, "differs from the trusted checkpoint's");
    EXPECT_EQ(r.error.tree_size, 24u);
}

TEST(AuditLog, TransplantedEntryFromAnotherOrigin) {
    Fixture f;
    LogBuilder other("coffer.test/audit/other");
    Fixture::build(other, f.g, f.k2);
    f.log.leaves[13] = other.leaves[13];
    expect_entry_error(f.verify(), 13,
                       "origin is 'coffer.test/audit/other', expected "
                       "'coffer.test/audit/unit': the entry belongs to another log");
}

TEST(AuditLog, WholeLogFromAnotherOrigin) {
    Fixture f;
    const Report r = verify_log("coffer.test/audit/expected", f.log.leaves, f.log.checkpoints, {});
    expect_entry_error(r, 0, "origin is 'coffer.test/audit/unit'");
}

TEST(AuditLog, CheckpointsOutOfOrder) {
    Fixture f;
    std::swap(f.log.checkpoints[5], f.log.checkpoints[6]);  // sizes 24 and 26
    const Report r = f.verify();
    EXPECT_EQ(r.error.where, Where::checkpoint);
    EXPECT_EQ(r.error.checkpoint, 6u);
    EXPECT_EQ(r.error.tree_size, 24u);
    EXPECT_NE(r.error.message.find("tree size goes backwards"), std::string::npos);
}

TEST(AuditLog, MalformedCheckpoint) {
    Fixture f;
    f.log.checkpoints[4] = "not a note\n";
    const Report r = f.verify();
    EXPECT_EQ(r.error.where, Where::checkpoint);
    EXPECT_EQ(r.error.checkpoint, 4u);
    EXPECT_FALSE(r.error.size_known);
    EXPECT_EQ(r.error.verified_up_to, 16u);
    EXPECT_NE(r.error.message.find("checkpoint 4: malformed note"), std::string::npos)
        << r.error.message;
}

TEST(AuditLog, CheckpointFromAnotherOrigin) {
    Fixture f;
    LogBuilder other("coffer.test/audit/other");
    other.leaves = f.log.leaves;
    f.log.checkpoints[4] = other.note(20, f.log.prefix_root(20), {f.g});
    expect_checkpoint_error(f.verify(), f.log, 20, "origin is 'coffer.test/audit/other'");
}

TEST(AuditLog, UnsignedTail) {
    Fixture f;
    for (int i = 0; i < 3; ++i) f.log.add("backup.run");
    const Report r = f.verify(trust_key(f.g));
    EXPECT_EQ(r.status, LogStatus::unsigned_tail) << r.summary();
    EXPECT_EQ(r.unsigned_tail, 3u);
    EXPECT_EQ(r.entries, 53u);
    EXPECT_TRUE(r.anchored);
    EXPECT_NE(r.summary().find("3 entries after it not yet signed"), std::string::npos);

    const Report none = verify_log(f.log.origin, f.log.leaves, {}, {});
    EXPECT_EQ(none.status, LogStatus::unsigned_tail);
    EXPECT_EQ(none.unsigned_tail, 53u);
    EXPECT_EQ(verify_log(f.log.origin, f.log.leaves, {}, trust_key(f.g)).status, LogStatus::failed);
}

TEST(AuditLog, TimeMayStepBackOnlyWithinTheTolerance) {
    const Signer g = key("coffer.test/genesis");
    auto build = [&](int64_t step_back) {
        LogBuilder log("coffer.test/audit/time");
        log.activate(g);
        log.add("backup.run");
        log.add_json(log.fields("backup.run", json::object(), k_t0 + 120 - step_back));
        log.checkpoint({g});
        return log;
    };
    const LogBuilder small = build(200);  // 140 s before entry 1
    EXPECT_EQ(verify_log(small.origin, small.leaves, small.checkpoints, {}).status, LogStatus::ok);
    const LogBuilder big = build(120 + 301);
    const Report r = verify_log(big.origin, big.leaves, big.checkpoints, {});
    expect_entry_error(r, 2, "time goes back 361s before entry 1 (tolerance 300s)");
    VerifyOptions off;
    off.max_time_step_back_s = -1;
    EXPECT_EQ(verify_log(big.origin, big.leaves, big.checkpoints, {}, off).status, LogStatus::ok);
}

TEST(AuditLog, RegistryRules) {
    const Signer g = key("coffer.test/genesis");
    {
        LogBuilder log("o");
        log.add("backup.run");
        expect_entry_error(verify_log("o", log.leaves, {}, {}), 0,
                           "the first entry must be audit.key.activate");
    }
    {
        LogBuilder log("o");
        log.activate(g);
        log.activate(g);
        expect_entry_error(verify_log("o", log.leaves, {}, {}), 1, "already activated");
    }
    {
        LogBuilder log("o");
        log.activate(g);
        log.add(std::string(k_action_key_retire), {{"key_id", "00000000"}});
        expect_entry_error(verify_log("o", log.leaves, {}, {}), 1,
                           "retires key ID 00000000, which is not active");
    }
    {
        LogBuilder log("o");
        log.activate(g);
        log.retire(g);
        log.retire(g);
        expect_entry_error(verify_log("o", log.leaves, {}, {}), 2, "which is not active");
    }
}

TEST(AuditLog, EmptyLogAndBadAnchors) {
    Fixture f;
    const Report empty = verify_log("o", {}, {}, {});
    EXPECT_EQ(empty.status, LogStatus::failed);
    EXPECT_EQ(empty.error.where, Where::log);

    const Report bad_key = f.verify({{"not a key"}, {}});
    EXPECT_EQ(bad_key.error.where, Where::anchor);
    EXPECT_NE(bad_key.error.message.find("trusted key: malformed verifier key"), std::string::npos);

    const Report bad_cp = f.verify(trust_checkpoint("garbage"));
    EXPECT_EQ(bad_cp.error.where, Where::anchor);
    EXPECT_NE(bad_cp.error.message.find("trusted checkpoint: malformed"), std::string::npos);

    LogBuilder other("coffer.test/audit/other");
    other.leaves = f.log.leaves;
    expect_anchor_error(f.verify(trust_checkpoint(other.note(8, f.log.prefix_root(8), {f.g}))),
                        "the trusted checkpoint is for origin 'coffer.test/audit/other'");
}

}  // namespace
}  // namespace coffer::audit
