// Audit log exports. A log of 30 entries written by a real Journal, with a key rotation in the
// middle, is exported; each tamper test then rewrites the export the way an attacker who can
// rewrite files would (fixing manifest.json's hashes so that only the log checks remain) and
// asserts that verify_export, anchored by the ORIGINAL genesis key, fails and names the first
// bad entry or checkpoint.
#include "coffer/audit/export.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audit/audit_test_util.h"
#include "coffer/audit/entry.h"
#include "coffer/audit/journal.h"
#include "coffer/audit/merkle.h"
#include "coffer/audit/note.h"
#include "coffer/crypto/crypto.h"
#include "coffer/store/mem/mem_store.h"
#include "store/temp_dir.h"

namespace coffer::audit {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using testing::join_lines;
using testing::slurp;
using testing::spit;
using testing::split_lines;

std::string b64(std::string_view s) {
    return crypto::base64_encode(as_bytes(s));
}
std::string unb64(const std::string& s) {
    auto b = crypto::base64_decode(s);
    EXPECT_TRUE(b.has_value()) << s;
    return b ? std::string(as_chars(*b)) : std::string();
}

Action action(const std::string& what, int n) {
    return Action{"alice", "db1", what, "set/pg", "ok", "", json{{"n", n}}};
}

TrustAnchor trust_key(const std::string& vkey) {
    return {{vkey}, {}};
}

// A journal's log: genesis + 14 actions (entries 0..14), a rotation (activate 15, retire 16),
// then 13 actions (17..29). One checkpoint per size 2..30, so checkpoint j has size j + 2.
struct Log {
    std::vector<std::string> leaves, checkpoints;
    std::string origin;
    std::string genesis_vkey, new_vkey;
    std::optional<Signer> genesis;  // the genesis private key, read before the rotation
};

constexpr uint64_t k_entries = 30;
constexpr uint64_t k_activate_at = 15;
constexpr uint64_t k_retire_at = 16;

Log write_log(const std::string& base) {
    JournalConfig c;
    c.dir = base + "/state";
    c.key_path = base + "/audit.key";
    c.repo_id = "5f2b8c1e9a7d4f6b3c0e1a2d4b6f8a0c1e3d5b7f9a1c3e5d7b9f1a3c5e7d9b1f";
    c.host_key_id = "3fa2c9d41b7e6a05";
    c.host_name = "db1";
    c.store = std::make_shared<store::MemStore>();  // a journal needs a repository to start a log
    Journal j(c);
    Log log;
    for (int i = 0; i < 14; ++i) EXPECT_TRUE(j.append(action("backup.run", i)).ok());
    log.genesis_vkey = j.current_verifier_key().value();
    std::string key = slurp(c.key_path);
    while (!key.empty() && key.back() == '\n') key.pop_back();
    auto g = Signer::parse(key);
    EXPECT_TRUE(g.ok());
    if (g.ok()) log.genesis = std::move(*g);
    auto rotated = j.rotate_key(action("audit.rotate", 0));
    EXPECT_TRUE(rotated.ok()) << rotated.status().to_string();
    if (rotated.ok()) log.new_vkey = *rotated;
    for (int i = 0; i < 13; ++i) EXPECT_TRUE(j.append(action("restore.run", i)).ok());
    EXPECT_TRUE(j.load(log.leaves, log.checkpoints).ok());
    log.origin = origin_of(log.leaves);
    return log;
}

Id prefix_root(const std::vector<std::string>& leaves, uint64_t n) {
    std::vector<Id> hashes;
    for (uint64_t i = 0; i < n; ++i) hashes.push_back(leaf_hash(as_bytes(leaves[i])));
    return root(hashes);
}

std::string checkpoint_note(const std::string& origin, const std::vector<std::string>& leaves,
                            uint64_t size, const Signer& signer) {
    auto text = format_checkpoint({origin, size, prefix_root(leaves, size), {}});
    EXPECT_TRUE(text.ok());
    std::vector<Signer> signers{signer};
    auto note = sign_note(*text, signers);
    EXPECT_TRUE(note.ok()) << note.status().to_string();
    return note.ok() ? *note : std::string();
}

// An export directory and an attacker's tools for it.
struct ExportDir {
    std::string dir;

    std::string path(const std::string& name) const { return dir + "/" + name; }
    std::vector<std::string> lines(const std::string& name) const {
        return split_lines(slurp(path(name)));
    }
    // Rewrites a file and fixes its hash in manifest.json.
    void rewrite(const std::string& name, const std::string& body) const {
        spit(path(name), body);
        json m = json::parse(slurp(path("manifest.json")));
        m["sha256"][name] = crypto::sha256(as_bytes(body)).hex();
        spit(path("manifest.json"), m.dump(2) + "\n");
    }
    void rewrite_lines(const std::string& name, const std::vector<std::string>& lines) const {
        rewrite(name, join_lines(lines));
    }

    // The decoded leaves and notes, and their re-encoding as an attacker would write them.
    std::vector<std::string> leaves() const {
        std::vector<std::string> out;
        for (const auto& l : lines("entries.ndjson"))
            out.push_back(unb64(json::parse(l)["leaf"].get<std::string>()));
        return out;
    }
    void set_leaves(const std::vector<std::string>& leaves) const {
        std::vector<std::string> out;
        for (size_t i = 0; i < leaves.size(); ++i)
            out.push_back(json{{"index", i}, {"leaf", b64(leaves[i])}}.dump());
        rewrite_lines("entries.ndjson", out);
    }
    std::vector<std::string> notes() const {
        std::vector<std::string> out;
        for (const auto& l : lines("checkpoints.ndjson"))
            out.push_back(unb64(json::parse(l)["note"].get<std::string>()));
        return out;
    }
    void set_notes(const std::vector<std::string>& notes) const {
        std::vector<std::string> out;
        for (const auto& n : notes) {
            uint64_t size = 0;
            if (auto p = parse_note(n); p.ok())
                if (auto cp = parse_checkpoint(p->text); cp.ok()) size = cp->size;
            out.push_back(json{{"size", size}, {"note", b64(n)}}.dump());
        }
        rewrite_lines("checkpoints.ndjson", out);
    }
};

class ExportTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ASSERT_TRUE(crypto::init().ok());
        s_tmp = new store::testing::TempDir;
        s_log = new Log(write_log(s_tmp->path() + "/writer"));
    }
    static void TearDownTestSuite() {
        delete s_log;
        delete s_tmp;
        s_log = nullptr;
        s_tmp = nullptr;
    }
    void SetUp() override {
        ASSERT_EQ(log().leaves.size(), k_entries);
        ASSERT_EQ(log().checkpoints.size(), k_entries - 1);
        ASSERT_TRUE(log().genesis.has_value());
    }

    static const Log& log() { return *s_log; }

    // A fresh, untampered export of the log.
    ExportDir fresh_export() {
        ExportDir e{tmp.path() + "/export-" + std::to_string(m_exports++)};
        Status st = write_export(e.dir, log().leaves, log().checkpoints);
        EXPECT_TRUE(st.ok()) << st.to_string();
        return e;
    }

    Report verify(const ExportDir& e, const TrustAnchor& anchor) {
        auto r = verify_export(e.dir, anchor);
        EXPECT_TRUE(r.ok()) << r.status().to_string();
        return r.ok() ? std::move(*r) : Report{};
    }
    Report verify_genesis(const ExportDir& e) { return verify(e, trust_key(log().genesis_vkey)); }

    static void expect_entry_error(const Report& r, uint64_t entry, const std::string& needle) {
        EXPECT_EQ(r.status, LogStatus::failed) << r.summary();
        EXPECT_FALSE(r.anchored);
        EXPECT_EQ(r.error.where, Where::entry) << r.summary();
        EXPECT_EQ(r.error.entry, entry) << r.summary();
        EXPECT_NE(r.error.message.find(needle), std::string::npos) << r.error.message;
    }
    static void expect_checkpoint_error(const Report& r, uint64_t size, uint64_t position,
                                        const std::string& needle) {
        EXPECT_EQ(r.status, LogStatus::failed) << r.summary();
        EXPECT_FALSE(r.anchored);
        EXPECT_EQ(r.error.where, Where::checkpoint) << r.summary();
        EXPECT_EQ(r.error.tree_size, size) << r.summary();
        EXPECT_EQ(r.error.checkpoint, position) << r.summary();
        EXPECT_NE(r.error.message.find(needle), std::string::npos) << r.error.message;
    }
    static void expect_anchor_error(const Report& r, const std::string& needle) {
        EXPECT_EQ(r.status, LogStatus::failed) << r.summary();
        EXPECT_FALSE(r.anchored);
        EXPECT_EQ(r.error.where, Where::anchor) << r.summary();
        EXPECT_NE(r.error.message.find(needle), std::string::npos) << r.error.message;
    }

    store::testing::TempDir tmp;
    int m_exports = 0;
    static store::testing::TempDir* s_tmp;
    static Log* s_log;
};

store::testing::TempDir* ExportTest::s_tmp = nullptr;
Log* ExportTest::s_log = nullptr;

TEST_F(ExportTest, RoundTrip) {
    const ExportDir e = fresh_export();
    for (const char* name :
         {"entries.ndjson", "checkpoints.ndjson", "keys.ndjson", "manifest.json", "README.md"})
        EXPECT_TRUE(fs::is_regular_file(e.path(name))) << name;
    EXPECT_EQ(e.leaves(), log().leaves);
    EXPECT_EQ(e.notes(), log().checkpoints);
    const auto cp_lines = e.lines("checkpoints.ndjson");
    ASSERT_EQ(cp_lines.size(), k_entries - 1);
    for (size_t i = 0; i < cp_lines.size(); ++i)
        EXPECT_EQ(json::parse(cp_lines[i])["size"], i + 2) << i;
    const auto keys = e.lines("keys.ndjson");
    ASSERT_EQ(keys.size(), 2u);
    EXPECT_EQ(json::parse(keys[0])["key"], log().genesis_vkey);
    EXPECT_EQ(json::parse(keys[0])["retired_at"], k_retire_at);
    EXPECT_EQ(json::parse(keys[1])["key"], log().new_vkey);
    EXPECT_EQ(json::parse(keys[1])["activated_at"], k_activate_at);
    EXPECT_FALSE(json::parse(keys[1]).contains("retired_at"));
    const json manifest = json::parse(slurp(e.path("manifest.json")));
    EXPECT_EQ(manifest["origin"], log().origin);
    EXPECT_EQ(manifest["entries"], k_entries);
    EXPECT_EQ(manifest["checkpoints"], k_entries - 1);

    for (const std::string& vkey : {log().genesis_vkey, log().new_vkey}) {
        const Report r = verify(e, trust_key(vkey));
        EXPECT_EQ(r.status, LogStatus::ok) << r.summary();
        EXPECT_TRUE(r.anchored) << r.summary();
        EXPECT_EQ(r.entries, k_entries);
        EXPECT_EQ(r.checkpoints, k_entries - 1);
        EXPECT_EQ(r.origin, log().origin);
    }
    const Report unanchored = verify(e, {});
    EXPECT_EQ(unanchored.status, LogStatus::ok) << unanchored.summary();
    EXPECT_FALSE(unanchored.anchored);
    const Report by_cp = verify(e, {{}, log().checkpoints.back()});
    EXPECT_EQ(by_cp.status, LogStatus::ok) << by_cp.summary();
    EXPECT_TRUE(by_cp.anchored);

    // Never into a non-empty directory; the existing export is left alone.
    const std::string manifest_before = slurp(e.path("manifest.json"));
    Status again = write_export(e.dir, log().leaves, log().checkpoints);
    EXPECT_EQ(again.code(), Code::already_exists) << again.to_string();
    EXPECT_EQ(slurp(e.path("manifest.json")), manifest_before);
    const std::string other = tmp.path() + "/other";
    fs::create_directories(other);
    spit(other + "/unrelated", "x");
    EXPECT_EQ(write_export(other, log().leaves, log().checkpoints).code(), Code::already_exists);
    EXPECT_FALSE(fs::exists(other + "/manifest.json"));
    // An existing empty directory is fine.
    const std::string empty = tmp.path() + "/empty";
    fs::create_directories(empty);
    EXPECT_TRUE(write_export(empty, log().leaves, log().checkpoints).ok());
    EXPECT_EQ(verify(ExportDir{empty}, trust_key(log().genesis_vkey)).status, LogStatus::ok);
}

TEST_F(ExportTest, ManifestMismatchIsAnIntegrityError) {
    for (const char* name : {"entries.ndjson", "checkpoints.ndjson", "keys.ndjson"}) {
        SCOPED_TRACE(name);
        const ExportDir e = fresh_export();
        std::string body = slurp(e.path(name));
        body += "\n";
        spit(e.path(name), body);  // the manifest is not fixed
        auto r = verify_export(e.dir, trust_key(log().genesis_vkey));
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.status().code(), Code::integrity) << r.status().to_string();
        EXPECT_NE(r.status().message().find(name), std::string::npos) << r.status().message();
    }
    const ExportDir e = fresh_export();
    fs::remove(e.path("manifest.json"));
    EXPECT_FALSE(verify_export(e.dir, {}).ok());
}

TEST_F(ExportTest, TamperEditedEntry) {
    const ExportDir e = fresh_export();
    auto leaves = e.leaves();
    const size_t pos = leaves[5].find("\"alice\"");
    ASSERT_NE(pos, std::string::npos);
    leaves[5][pos + 5] = 'f';  // "alicf": still canonical, still the schema
    e.set_leaves(leaves);
    const Report r = verify_genesis(e);
    expect_checkpoint_error(r, 6, 4, "entries 5 to 5 differ from what was signed");
    EXPECT_EQ(r.error.verified_up_to, 5u);
}

TEST_F(ExportTest, TamperDeletedEntry) {
    const ExportDir e = fresh_export();
    auto leaves = e.leaves();
    leaves.erase(leaves.begin() + 10);
    e.set_leaves(leaves);  // the export's own index fields renumbered
    expect_entry_error(verify_genesis(e), 10, "index field is 11, expected 10");
}

TEST_F(ExportTest, TamperSwappedEntries) {
    const ExportDir e = fresh_export();
    auto leaves = e.leaves();
    std::swap(leaves[10], leaves[11]);
    e.set_leaves(leaves);
    expect_entry_error(verify_genesis(e), 10, "index field is 11, expected 10");
}

TEST_F(ExportTest, TamperInsertedEntry) {
    const ExportDir e = fresh_export();
    auto leaves = e.leaves();
    json forged = json::parse(leaves[10]);
    forged["action"] = "backup.delete";
    auto bytes = encode_entry(forged);  // index 10, a plausible time: fine on its own
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    leaves.insert(leaves.begin() + 10, *bytes);
    e.set_leaves(leaves);
    const Report r = verify_genesis(e);
    expect_checkpoint_error(r, 11, 9, "entries 10 to 10 differ from what was signed");
    EXPECT_EQ(r.error.verified_up_to, 10u);
}

TEST_F(ExportTest, TamperTruncatedTail) {
    const ExportDir e = fresh_export();
    const std::string last_seen = e.notes().back();
    auto leaves = e.leaves();
    leaves.resize(k_entries - 5);
    auto notes = e.notes();
    notes.resize(k_entries - 5 - 1);  // sizes 2..25
    e.set_leaves(leaves);
    e.set_notes(notes);
    // Cut cleanly, the log is consistent and even signed by the trusted key...
    EXPECT_EQ(verify_genesis(e).status, LogStatus::ok);
    // ...only a checkpoint seen before shows what is missing.
    const Report r = verify(e, {{}, last_seen});
    expect_anchor_error(r, "covers 30 entries, but the log has only 25: it was truncated");
    EXPECT_EQ(r.error.tree_size, k_entries);
    const Report both = verify(e, {{log().genesis_vkey}, last_seen});
    expect_anchor_error(both, "it was truncated");
}

TEST_F(ExportTest, TamperTruncatedEntriesOnly) {
    // Dropping entries but keeping their checkpoints is caught without any checkpoint anchor.
    const ExportDir e = fresh_export();
    auto leaves = e.leaves();
    leaves.resize(k_entries - 5);
    e.set_leaves(leaves);
    expect_checkpoint_error(verify_genesis(e), 26, 24,
                            "covers 26 entries, but the log has only 25");
}

TEST_F(ExportTest, TamperForgedCheckpointSignature) {
    const ExportDir e = fresh_export();
    auto notes = e.notes();
    std::string& note = notes[6];             // size 8
    const size_t pos = note.rfind(' ') + 30;  // inside the signature, past the key ID
    note[pos] = note[pos] == 'A' ? 'B' : 'A';
    e.set_notes(notes);
    auto g = Verifier::parse(log().genesis_vkey);
    ASSERT_TRUE(g.ok());
    expect_checkpoint_error(verify_genesis(e), 8, 6, "invalid signature for key " + g->label());
}

TEST_F(ExportTest, TamperCheckpointSignedByAnUnknownKey) {
    const ExportDir e = fresh_export();
    auto evil = Signer::generate(log().origin);  // the log's name, another key
    ASSERT_TRUE(evil.ok());
    auto notes = e.notes();
    notes.push_back(checkpoint_note(log().origin, log().leaves, k_entries, *evil));
    e.set_notes(notes);
    expect_checkpoint_error(
        verify_genesis(e), k_entries, k_entries - 1,
        "not signed by any key in the log's registry (signed by " + evil->verifier().label() + ")");
}

TEST_F(ExportTest, TamperCheckpointSignedByTheRetiredKey) {
    // The genesis key was retired by entry 16: it may sign up to size 17, nothing after.
    const ExportDir e = fresh_export();
    auto notes = e.notes();
    notes[18] = checkpoint_note(log().origin, log().leaves, 20, *log().genesis);
    e.set_notes(notes);
    expect_checkpoint_error(verify_genesis(e), 20, 18,
                            "retired by entry 16: it may sign checkpoints only up to size 17");
}

TEST_F(ExportTest, TamperReplacedKeyRegistry) {
    // The attacker rewrites the whole log, same origin and shape, under keys of its own.
    const Log forged = write_log(tmp.path() + "/attacker");
    ASSERT_EQ(forged.origin, log().origin);
    ASSERT_EQ(forged.leaves.size(), k_entries);
    ASSERT_NE(forged.genesis_vkey, log().genesis_vkey);
    const ExportDir e = fresh_export();
    e.set_leaves(forged.leaves);
    e.set_notes(forged.checkpoints);
    const Report self = verify(e, {});
    EXPECT_EQ(self.status, LogStatus::ok) << self.summary();  // consistent, but not anchored
    EXPECT_FALSE(self.anchored);
    auto attacker_genesis = Verifier::parse(forged.genesis_vkey);
    ASSERT_TRUE(attacker_genesis.ok());
    expect_anchor_error(verify_genesis(e),
                        "no checkpoint is signed by a trusted key (this log's genesis key is " +
                            attacker_genesis->label() + ")");
    const Report r = verify(e, {{}, log().checkpoints[8]});  // size 10
    expect_anchor_error(r, "differs from the trusted checkpoint's");
    EXPECT_EQ(r.error.tree_size, 10u);
}

}  // namespace
}  // namespace coffer::audit
