// The audit journal: one host's log kept in a state directory and replicated to a repository.
// Each test drives a real Journal over an in-memory (or local) store in a fresh temporary
// directory, damages the local state or the repository the way a crash, a restore from an old
// backup or an operator would, and checks what the next append does and that the log (local and
// replica) still verifies, anchored by the right keys.
#include "coffer/audit/journal.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audit/audit_test_util.h"
#include "coffer/audit/entry.h"
#include "coffer/audit/log_verify.h"
#include "coffer/audit/note.h"
#include "coffer/crypto/crypto.h"
#include "coffer/store/fault/fault_store.h"
#include "coffer/store/local/local_store.h"
#include "coffer/store/mem/mem_store.h"
#include "store/temp_dir.h"

namespace coffer::audit {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::string_view k_repo_id =
    "5f2b8c1e9a7d4f6b3c0e1a2d4b6f8a0c1e3d5b7f9a1c3e5d7b9f1a3c5e7d9b1f";
constexpr std::string_view k_host_key_id = "3fa2c9d41b7e6a05";

using testing::join_lines;
using testing::slurp;
using testing::spit;
using testing::split_lines;

Action action(const std::string& what, int n = 0) {
    return Action{"alice", "db1", what, "set/pg", "ok", "", json{{"n", n}}};
}

TrustAnchor trust(const std::string& vkey) {
    return {{vkey}, {}};
}

std::string key_file_text(const std::string& path) {
    std::string s = slurp(path);
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

class JournalTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(crypto::init().ok());
        recovery = crypto::x25519_generate();
    }

    JournalConfig config(std::shared_ptr<store::Store> s) const {
        JournalConfig c;
        c.dir = dir();
        c.key_path = key_path();
        c.repo_id = std::string(k_repo_id);
        c.host_key_id = std::string(k_host_key_id);
        c.host_name = "db1";
        c.store = std::move(s);
        c.recovery_public_key = recovery.public_key;
        return c;
    }
    Journal journal() const { return Journal(config(mem)); }

    std::string dir() const { return tmp.path() + "/state/audit"; }
    std::string key_path() const { return tmp.path() + "/audit.key"; }
    std::string log_path() const { return dir() + "/log.ndjson"; }
    std::string checkpoints_path() const { return dir() + "/checkpoints.ndjson"; }
    std::string prefix() const { return "audit/" + std::string(k_host_key_id) + "/"; }

    void append_n(Journal& j, int n) {
        for (int i = 0; i < n; ++i) {
            auto r = j.append(action("backup.run", i));
            ASSERT_TRUE(r.ok()) << r.status().to_string();
            EXPECT_TRUE(r->warning.empty()) << r->warning;
        }
    }

    struct Local {
        std::vector<std::string> leaves, checkpoints;
    };
    Local load(Journal& j) {
        Local l;
        Status st = j.load(l.leaves, l.checkpoints);
        EXPECT_TRUE(st.ok()) << st.to_string();
        return l;
    }

    std::set<std::string> repo_names() {
        std::set<std::string> out;
        auto listed = mem->list(prefix());
        EXPECT_TRUE(listed.ok()) << listed.status().to_string();
        if (listed.ok())
            for (const auto& o : *listed) out.insert(o.name);
        return out;
    }

    // Verifies the local log and the replica (which must be equal) against `vkey`.
    void expect_verifies(Journal& j, const std::string& vkey) {
        Local l = load(j);
        Report r = verify_log("", l.leaves, l.checkpoints, trust(vkey));
        EXPECT_EQ(r.status, LogStatus::ok) << r.summary();
        EXPECT_TRUE(r.anchored) << r.summary();
        auto rep = j.read_replica();
        ASSERT_TRUE(rep.ok()) << rep.status().to_string();
        EXPECT_EQ(rep->leaves, l.leaves);
        EXPECT_EQ(rep->checkpoints, l.checkpoints);
        Report rr = verify_log("", rep->leaves, rep->checkpoints, trust(vkey));
        EXPECT_EQ(rr.status, LogStatus::ok) << rr.summary();
        EXPECT_TRUE(rr.anchored) << rr.summary();
    }

    std::string verifier_key(Journal& j) {
        auto k = j.current_verifier_key();
        EXPECT_TRUE(k.ok()) << k.status().to_string();
        return k.ok() ? *k : std::string();
    }

    store::testing::TempDir tmp;
    std::shared_ptr<store::MemStore> mem = std::make_shared<store::MemStore>();
    crypto::X25519KeyPair recovery;
};

uint64_t checkpoint_size(const std::string& note) {
    auto parsed = parse_note(note);
    EXPECT_TRUE(parsed.ok()) << parsed.status().to_string();
    if (!parsed.ok()) return UINT64_MAX;
    auto cp = parse_checkpoint(parsed->text);
    EXPECT_TRUE(cp.ok()) << cp.status().to_string();
    return cp.ok() ? cp->size : UINT64_MAX;
}

// Whether `note` verifies with exactly this verifier key.
bool signed_by(const std::string& note, const std::string& vkey) {
    auto v = Verifier::parse(vkey);
    EXPECT_TRUE(v.ok());
    std::vector<Verifier> known{*v};
    return open_note(note, known).ok();
}

TEST_F(JournalTest, GenesisCreatesKeyActivationCheckpointAndReplica) {
    Journal j = journal();
    EXPECT_EQ(verifier_key(j), "");
    auto r = j.append(action("backup.run"));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->index, 1u);
    EXPECT_TRUE(r->warning.empty()) << r->warning;

    struct stat st {};
    ASSERT_EQ(::stat(key_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    const std::string vkey = verifier_key(j);
    ASSERT_FALSE(vkey.empty());
    auto verifier = Verifier::parse(vkey);
    ASSERT_TRUE(verifier.ok());
    EXPECT_EQ(verifier->name, j.origin_for_new_log());

    Local l = load(j);
    ASSERT_EQ(l.leaves.size(), 2u);
    json e0 = json::parse(l.leaves[0]);
    EXPECT_EQ(e0["action"], k_action_key_activate);
    EXPECT_EQ(e0["index"], 0);
    EXPECT_EQ(e0["details"]["key"], vkey);
    EXPECT_EQ(e0["origin"], j.origin_for_new_log());
    json e1 = json::parse(l.leaves[1]);
    EXPECT_EQ(e1["action"], "backup.run");
    EXPECT_EQ(e1["index"], 1);
    EXPECT_EQ(e1["actor"], "alice");
    EXPECT_EQ(e1["details"]["n"], 0);
    EXPECT_EQ(origin_of(l.leaves), j.origin_for_new_log());
    ASSERT_EQ(l.checkpoints.size(), 1u);
    EXPECT_EQ(checkpoint_size(l.checkpoints[0]), 2u);

    Report rep = verify_log("", l.leaves, l.checkpoints, trust(vkey));
    EXPECT_EQ(rep.status, LogStatus::ok) << rep.summary();
    EXPECT_TRUE(rep.anchored) << rep.summary();
    ASSERT_EQ(rep.keys.size(), 1u);
    EXPECT_EQ(rep.keys[0].key, vkey);

    const std::string sealed_name = prefix() + "keys/" + key_id_hex(verifier->key_id) + ".sealed";
    EXPECT_EQ(repo_names(),
              (std::set<std::string>{prefix() + "log/000000000000-000000000002",
                                     prefix() + "checkpoints/000000000002", sealed_name}));
    auto seg = mem->get(prefix() + "log/000000000000-000000000002");
    ASSERT_TRUE(seg.ok());
    EXPECT_EQ(as_chars(*seg), join_lines(l.leaves));
    auto cp = mem->get(prefix() + "checkpoints/000000000002");
    ASSERT_TRUE(cp.ok());
    EXPECT_EQ(as_chars(*cp), l.checkpoints[0]);

    auto sealed = mem->get(sealed_name);
    ASSERT_TRUE(sealed.ok());
    const std::string context = "coffer audit key v1" + std::string(k_repo_id);
    auto opened = crypto::open_sealed(recovery.private_key.view(), *sealed, as_bytes(context));
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    EXPECT_EQ(as_chars(opened->view()), key_file_text(key_path()));
    auto recovered = Signer::parse(as_chars(opened->view()));
    ASSERT_TRUE(recovered.ok());
    EXPECT_EQ(recovered->verifier().encode(), vkey);
    // The seal is bound to the repository.
    EXPECT_FALSE(crypto::open_sealed(recovery.private_key.view(), *sealed,
                                     as_bytes("coffer audit key v1" + std::string(64, '0')))
                     .ok());
}

TEST_F(JournalTest, ManyAppendsOverALocalStore) {
    auto local = store::LocalStore::create(tmp.path() + "/repo");
    ASSERT_TRUE(local.ok()) << local.status().to_string();
    std::shared_ptr<store::Store> repo = std::move(*local);
    Journal j(config(repo));
    for (int i = 0; i < 20; ++i) {
        auto r = j.append(action("backup.run", i));
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        EXPECT_EQ(r->index, static_cast<uint64_t>(i + 1));
        EXPECT_TRUE(r->warning.empty()) << r->warning;
    }
    Local l = load(j);
    ASSERT_EQ(l.leaves.size(), 21u);
    for (size_t i = 0; i < l.leaves.size(); ++i) EXPECT_EQ(json::parse(l.leaves[i])["index"], i);
    for (size_t i = 1; i < l.leaves.size(); ++i)
        EXPECT_EQ(json::parse(l.leaves[i])["details"]["n"], i - 1);
    ASSERT_EQ(l.checkpoints.size(), 20u);
    for (size_t i = 0; i < l.checkpoints.size(); ++i)
        EXPECT_EQ(checkpoint_size(l.checkpoints[i]), i + 2);

    auto rep = j.read_replica();
    ASSERT_TRUE(rep.ok()) << rep.status().to_string();
    EXPECT_EQ(rep->leaves, l.leaves);
    EXPECT_EQ(rep->checkpoints, l.checkpoints);
    const std::string vkey = verifier_key(j);
    Report r = verify_log("", rep->leaves, rep->checkpoints, trust(vkey));
    EXPECT_EQ(r.status, LogStatus::ok) << r.summary();
    EXPECT_TRUE(r.anchored);
    EXPECT_EQ(r.entries, 21u);
    EXPECT_EQ(r.checkpoints, 20u);
    // One segment and one checkpoint object per append, one sealed key.
    auto listed = repo->list(prefix());
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->size(), 41u);
}

TEST_F(JournalTest, RolledBackLocalLogIsRefused) {
    Journal j = journal();
    append_n(j, 5);
    const std::string old_copy = tmp.path() + "/old-state";
    fs::copy(dir(), old_copy, fs::copy_options::recursive);
    append_n(j, 3);
    fs::remove_all(dir());
    fs::copy(old_copy, dir(), fs::copy_options::recursive);
    const std::string log_before = slurp(log_path());
    const std::string cps_before = slurp(checkpoints_path());
    ASSERT_EQ(split_lines(log_before).size(), 6u);
    const auto repo_before = repo_names();

    auto r = j.append(action("backup.run"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::integrity) << r.status().to_string();
    EXPECT_NE(r.status().message().find("rolled back"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("6 entries"), std::string::npos) << r.status().message();
    EXPECT_EQ(slurp(log_path()), log_before);
    EXPECT_EQ(slurp(checkpoints_path()), cps_before);
    EXPECT_EQ(repo_names(), repo_before);
    // It stays refused.
    EXPECT_EQ(j.append(action("backup.run")).status().code(), Code::integrity);
    EXPECT_EQ(slurp(log_path()), log_before);
}

TEST_F(JournalTest, DivergedLocalLogIsRefused) {
    Journal j = journal();
    append_n(j, 5);
    auto lines = split_lines(slurp(log_path()));
    ASSERT_EQ(lines.size(), 6u);
    const size_t pos = lines[3].find("\"alice\"");
    ASSERT_NE(pos, std::string::npos);
    lines[3].replace(pos, 7, "\"mally\"");  // same length, same line count
    spit(log_path(), join_lines(lines));
    const std::string log_before = slurp(log_path());
    const std::string cps_before = slurp(checkpoints_path());

    auto r = j.append(action("backup.run"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::integrity) << r.status().to_string();
    EXPECT_NE(r.status().message().find("differs"), std::string::npos) << r.status().message();
    EXPECT_EQ(slurp(log_path()), log_before);
    EXPECT_EQ(slurp(checkpoints_path()), cps_before);
}

TEST_F(JournalTest, LostStateDirectoryIsRebuiltFromTheRepository) {
    Journal j = journal();
    append_n(j, 4);
    const Local before = load(j);
    ASSERT_EQ(before.leaves.size(), 5u);
    fs::remove_all(dir());
    ASSERT_FALSE(fs::exists(dir()));

    auto r = j.append(action("restore.run", 99));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->index, 5u);
    EXPECT_TRUE(r->warning.empty()) << r->warning;
    Local after = load(j);
    ASSERT_EQ(after.leaves.size(), 6u);
    EXPECT_EQ(std::vector<std::string>(after.leaves.begin(), after.leaves.begin() + 5),
              before.leaves);
    EXPECT_EQ(json::parse(after.leaves[5])["action"], "restore.run");
    EXPECT_EQ(after.checkpoints.size(), before.checkpoints.size() + 1);
    expect_verifies(j, verifier_key(j));
}

// A rebuild adopts the repository's copy only as far as its newest checkpoint signed by this
// host's key: entries someone appended after it (a forged segment) are not taken in, let alone
// signed over; and a copy whose checkpoint does not verify is refused.
TEST_F(JournalTest, RebuildAdoptsOnlyWhatThisHostSigned) {
    Journal j = journal();
    append_n(j, 4);
    const Local before = load(j);
    ASSERT_EQ(before.leaves.size(), 5u);
    // A forged entry after the log, in a segment of its own.
    json forged = json::parse(before.leaves.back());
    forged["index"] = 5;
    forged["action"] = "restore.run";
    forged["target"] = "something that never happened";
    auto leaf = encode_entry(forged);
    ASSERT_TRUE(leaf.ok());
    ASSERT_TRUE(mem->put("audit/" + std::string(k_host_key_id) + "/log/000000000005-000000000006",
                         as_bytes(*leaf + "\n"), store::PutMode::create_only)
                    .ok());
    fs::remove_all(dir());
    auto r = j.append(action("backup.run", 7));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->index, 5u) << "the forged entry was adopted";
    Local after = load(j);
    EXPECT_EQ(json::parse(after.leaves[5])["details"]["n"], 7);

    // A repository copy whose newest checkpoint is not this host's: refused, nothing adopted.
    Journal other = journal();
    fs::remove_all(dir());
    std::string cps_prefix = "audit/" + std::string(k_host_key_id) + "/checkpoints/";
    auto listed = mem->list(cps_prefix);
    ASSERT_TRUE(listed.ok());
    std::string newest;
    for (const auto& o : *listed) newest = std::max(newest, o.name);
    auto bytes = mem->get(newest);
    ASSERT_TRUE(bytes.ok());
    std::string note(as_chars(*bytes));
    // Inside the signature's base64, another letter of the alphabet (a flipped bit could make
    // the note malformed instead of wrongly signed).
    char& c = note[note.size() - 5];
    c = c == 'A' ? 'B' : 'A';
    ASSERT_TRUE(mem->put(newest, as_bytes(note), store::PutMode::overwrite).ok());
    auto refused = other.append(action("backup.run", 8));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::integrity) << refused.status().to_string();
    EXPECT_FALSE(fs::exists(log_path()));
}

TEST_F(JournalTest, TornLastLineIsCutAndTheLogContinues) {
    Journal j = journal();
    append_n(j, 3);
    const std::string intact = slurp(log_path());
    {
        std::ofstream out(log_path(), std::ios::binary | std::ios::app);
        out << "{\"action\":\"backup.r";
    }
    Local l = load(j);
    EXPECT_EQ(l.leaves.size(), 4u);
    EXPECT_EQ(slurp(log_path()), intact);

    {
        std::ofstream out(log_path(), std::ios::binary | std::ios::app);
        out << "{\"action\":\"backup.r";
    }
    auto r = j.append(action("backup.run", 7));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->index, 4u);
    Local after = load(j);
    ASSERT_EQ(after.leaves.size(), 5u);
    EXPECT_EQ(json::parse(after.leaves[4])["details"]["n"], 7);
    expect_verifies(j, verifier_key(j));
}

// After the clock steps back, an entry takes the previous entry's time (and says how far behind
// the clock was), so the log still verifies: times in it never go backwards.
TEST_F(JournalTest, EntryTimesNeverGoBackwards) {
    Journal j = journal();
    append_n(j, 2);
    Local l = load(j);
    // An entry from "the future", as a clock set far ahead would have written it.
    json future = json::parse(l.leaves.back());
    future["index"] = l.leaves.size();
    future["time"] = "2100-01-01T00:00:00.000Z";
    auto leaf = coffer::audit::encode_entry(future);
    ASSERT_TRUE(leaf.ok()) << leaf.status().to_string();
    {
        std::ofstream out(log_path(), std::ios::binary | std::ios::app);
        out << *leaf << "\n";
    }
    auto r = j.append(action("backup.run", 9));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    Local after = load(j);
    json last = json::parse(after.leaves.back());
    EXPECT_EQ(last["time"], "2100-01-01T00:00:00.000Z");
    EXPECT_GT(last["details"]["clock_behind_ms"].get<int64_t>(), int64_t(1) << 40);
    expect_verifies(j, verifier_key(j));
}

// Two hosts in one repository keep two logs, each under its own key's prefix, and each verifies
// on its own. A checkpoint one host plants in the other's prefix is not taken for the other's:
// the other refuses to go on and says the checkpoint is not its own.
TEST_F(JournalTest, TwoHostsKeepSeparateLogsAndOneCannotSpeakForTheOther) {
    Journal a = journal();
    JournalConfig cb = config(mem);
    cb.host_key_id = "7c1d2e3f4a5b6c7d";
    cb.host_name = "db2";
    cb.dir = tmp.path() + "/state-b/audit";
    cb.key_path = tmp.path() + "/host-b.key.audit";
    Journal b(cb);
    append_n(a, 3);
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(b.append(action("backup.run", i)).ok());
    auto ra = a.read_replica();
    auto rb = b.read_replica();
    ASSERT_TRUE(ra.ok() && rb.ok());
    EXPECT_EQ(ra->leaves.size(), 4u);
    EXPECT_EQ(rb->leaves.size(), 3u);
    EXPECT_NE(origin_of(ra->leaves), origin_of(rb->leaves));
    EXPECT_EQ(verify_log("", rb->leaves, rb->checkpoints, trust(verifier_key(b))).status,
              LogStatus::ok);

    // Host a writes a checkpoint, signed with its own key, into b's prefix.
    std::string key_a = slurp(key_path());
    auto signer_a = Signer::parse(key_a.substr(0, key_a.find('\n')));
    ASSERT_TRUE(signer_a.ok()) << signer_a.status().to_string();
    Checkpoint forged{origin_of(rb->leaves), 99, Id{}, {}};
    auto text = format_checkpoint(forged);
    ASSERT_TRUE(text.ok());
    auto note = sign_note(*text, std::vector<Signer>{*signer_a});
    ASSERT_TRUE(note.ok());
    ASSERT_TRUE(mem->put("audit/" + cb.host_key_id + "/checkpoints/000000000099", as_bytes(*note),
                         store::PutMode::create_only)
                    .ok());
    auto refused = b.append(action("backup.run", 9));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::integrity);
    EXPECT_NE(refused.status().message().find("not signed by any key of this host's log"),
              std::string::npos)
        << refused.status().to_string();
    // Host a's own log goes on untouched.
    EXPECT_TRUE(a.append(action("backup.run", 5)).ok());
}

TEST_F(JournalTest, MissingKeyWithAnExistingLogIsRefused) {
    Journal j = journal();
    append_n(j, 2);
    const std::string log_before = slurp(log_path());
    ASSERT_EQ(::unlink(key_path().c_str()), 0);

    auto r = j.append(action("backup.run"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::not_found) << r.status().to_string();
    EXPECT_NE(r.status().message().find(key_path()), std::string::npos) << r.status().message();
    EXPECT_EQ(slurp(log_path()), log_before);
    EXPECT_FALSE(fs::exists(key_path()));  // not silently replaced by a new key
}

TEST_F(JournalTest, ReplicationFailureIsSoftAndRetried) {
    auto fault = std::make_shared<store::FaultStore>(mem);
    Journal j(config(fault));
    append_n(j, 2);
    const auto repo_before = repo_names();

    fault->add_rule({.op = store::Op::put, .prefix = prefix()});
    auto r = j.append(action("backup.run", 42));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->index, 3u);
    EXPECT_FALSE(r->warning.empty());
    Local l = load(j);
    ASSERT_EQ(l.leaves.size(), 4u);  // durable locally
    EXPECT_EQ(json::parse(l.leaves[3])["details"]["n"], 42);
    EXPECT_EQ(repo_names(), repo_before);  // the first put failed, nothing else was tried

    // The fault fired once: the next append copies everything missing.
    auto again = j.append(action("backup.run", 43));
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_EQ(again->index, 4u);
    EXPECT_TRUE(again->warning.empty()) << again->warning;
    expect_verifies(j, verifier_key(j));
    EXPECT_EQ(repo_names().count(prefix() + "checkpoints/000000000004"), 1u);
    EXPECT_EQ(repo_names().count(prefix() + "checkpoints/000000000005"), 1u);
}

TEST_F(JournalTest, ReplicationFailureOfACheckpointIsRetried) {
    // The segment goes up but the checkpoint put fails: the next append uploads it.
    auto fault = std::make_shared<store::FaultStore>(mem);
    Journal j(config(fault));
    append_n(j, 2);
    fault->add_rule({.op = store::Op::put, .prefix = prefix() + "checkpoints/"});
    auto r = j.append(action("backup.run"));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_FALSE(r->warning.empty());
    EXPECT_EQ(repo_names().count(prefix() + "checkpoints/000000000004"), 0u);
    append_n(j, 1);
    expect_verifies(j, verifier_key(j));
}

TEST_F(JournalTest, RotateKey) {
    Journal j = journal();
    append_n(j, 4);
    const std::string old_vkey = verifier_key(j);
    const std::string old_key_text = key_file_text(key_path());
    auto old_verifier = Verifier::parse(old_vkey);
    ASSERT_TRUE(old_verifier.ok());

    auto rotated = j.rotate_key(action("audit.rotate"));
    ASSERT_TRUE(rotated.ok()) << rotated.status().to_string();
    const std::string new_vkey = *rotated;
    EXPECT_NE(new_vkey, old_vkey);
    EXPECT_EQ(verifier_key(j), new_vkey);
    EXPECT_NE(key_file_text(key_path()), old_key_text);
    EXPECT_FALSE(fs::exists(key_path() + ".next"));
    struct stat st {};
    ASSERT_EQ(::stat(key_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);

    append_n(j, 3);
    Local l = load(j);
    ASSERT_EQ(l.leaves.size(), 10u);  // 5, activate, retire, 3
    EXPECT_EQ(json::parse(l.leaves[5])["action"], k_action_key_activate);
    EXPECT_EQ(json::parse(l.leaves[5])["details"]["key"], new_vkey);
    EXPECT_EQ(json::parse(l.leaves[6])["action"], k_action_key_retire);
    EXPECT_EQ(json::parse(l.leaves[6])["details"]["key_id"], key_id_hex(old_verifier->key_id));
    // Subsequent checkpoints are signed by the new key only.
    for (size_t i = l.checkpoints.size() - 3; i < l.checkpoints.size(); ++i) {
        EXPECT_TRUE(signed_by(l.checkpoints[i], new_vkey)) << i;
        EXPECT_FALSE(signed_by(l.checkpoints[i], old_vkey)) << i;
    }

    for (const std::string& anchor : {old_vkey, new_vkey}) {
        SCOPED_TRACE(anchor);
        expect_verifies(j, anchor);
    }
    Report r = verify_log("", l.leaves, l.checkpoints, trust(old_vkey));
    ASSERT_EQ(r.keys.size(), 2u);
    EXPECT_EQ(r.keys[0].key, old_vkey);
    EXPECT_TRUE(r.keys[0].retired);
    EXPECT_EQ(r.keys[0].retired_at, 6u);
    EXPECT_TRUE(r.keys[0].trusted);
    EXPECT_EQ(r.keys[1].key, new_vkey);
    EXPECT_FALSE(r.keys[1].retired);
    EXPECT_TRUE(r.keys[1].endorsed);
    // Both keys are sealed in the repository.
    auto new_verifier = Verifier::parse(new_vkey);
    ASSERT_TRUE(new_verifier.ok());
    const auto names = repo_names();
    EXPECT_EQ(names.count(prefix() + "keys/" + key_id_hex(old_verifier->key_id) + ".sealed"), 1u);
    EXPECT_EQ(names.count(prefix() + "keys/" + key_id_hex(new_verifier->key_id) + ".sealed"), 1u);
}

TEST_F(JournalTest, RotateKeyWithoutALogIsRefused) {
    Journal j = journal();
    auto r = j.rotate_key(action("audit.rotate"));
    EXPECT_EQ(r.status().code(), Code::invalid_argument) << r.status().to_string();
    EXPECT_FALSE(fs::exists(key_path()));
}

TEST_F(JournalTest, UnloggedNextKeyIsDiscarded) {
    // A crash after rotate_key wrote <key>.next but before the log named it.
    Journal j = journal();
    append_n(j, 3);
    const std::string vkey = verifier_key(j);
    const std::string key_before = slurp(key_path());
    auto stray = Signer::generate(j.origin_for_new_log());
    ASSERT_TRUE(stray.ok());
    spit(key_path() + ".next", stray->encode() + "\n");
    ASSERT_EQ(::chmod((key_path() + ".next").c_str(), 0600), 0);

    auto r = j.append(action("backup.run"));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_FALSE(fs::exists(key_path() + ".next"));
    EXPECT_EQ(slurp(key_path()), key_before);
    EXPECT_EQ(verifier_key(j), vkey);
    Local l = load(j);
    EXPECT_TRUE(signed_by(l.checkpoints.back(), vkey));
    EXPECT_FALSE(signed_by(l.checkpoints.back(), stray->verifier().encode()));
    expect_verifies(j, vkey);
    Report rep = verify_log("", l.leaves, l.checkpoints, trust(vkey));
    EXPECT_EQ(rep.keys.size(), 1u);
}

// Crash points inside rotate_key. rotate_key copies to the repository only at its end, so the
// rotation is kept out of the repository (every put under audit/ fails meanwhile) and the local
// files are then cut back to what a crash at each point leaves.
class JournalInterruptedRotationTest : public JournalTest {
protected:
    Journal faulty_journal() const { return Journal(config(fault)); }

    // Runs a real rotation after `before` appends, then puts the key files back as they were
    // just before the final rename: the old key in place, the new one in <key>.next.
    void rotate_then_undo_rename(Journal& j, int before) {
        append_n(j, before);
        old_vkey = verifier_key(j);
        old_key = slurp(key_path());
        const auto repo_before = repo_names();
        fault->add_rule({.op = store::Op::put, .prefix = "audit/", .forever = true});
        auto rotated = j.rotate_key(action("audit.rotate"));
        fault->clear_rules();
        ASSERT_TRUE(rotated.ok()) << rotated.status().to_string();
        ASSERT_EQ(repo_names(), repo_before);
        new_vkey = *rotated;
        new_key = slurp(key_path());
        spit(key_path() + ".next", new_key);
        spit(key_path(), old_key);
    }
    // Drops the last n lines of a local file.
    void drop_last_lines(const std::string& path, size_t n) {
        auto lines = split_lines(slurp(path));
        ASSERT_GE(lines.size(), n);
        lines.resize(lines.size() - n);
        spit(path, join_lines(lines));
    }

    std::shared_ptr<store::FaultStore> fault = std::make_shared<store::FaultStore>(mem);
    std::string old_vkey, old_key, new_vkey, new_key;
};

TEST_F(JournalInterruptedRotationTest, LoggedRotationIsFinished) {
    // Crash after the activation, both checkpoints and the retirement, before the rename.
    Journal j = faulty_journal();
    rotate_then_undo_rename(j, 3);
    auto r = j.append(action("backup.run"));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_FALSE(fs::exists(key_path() + ".next"));
    EXPECT_EQ(slurp(key_path()), new_key);
    Local l = load(j);
    EXPECT_TRUE(signed_by(l.checkpoints.back(), new_vkey));
    expect_verifies(j, old_vkey);
    expect_verifies(j, new_vkey);
}

TEST_F(JournalInterruptedRotationTest, CrashAfterRetirementBeforeItsCheckpoint) {
    // The old key is retired by the log, but the checkpoint after the retirement is missing.
    Journal j = faulty_journal();
    rotate_then_undo_rename(j, 3);
    drop_last_lines(checkpoints_path(), 1);
    auto r = j.append(action("backup.run"));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(slurp(key_path()), new_key);
    expect_verifies(j, old_vkey);
    expect_verifies(j, new_vkey);
}

TEST_F(JournalInterruptedRotationTest, CrashAfterActivationBeforeItsCheckpoint) {
    // The activation entry is durable, but no checkpoint signed by the old key covers it yet, so
    // nothing endorses the new key: the log must not continue with the new key alone.
    Journal j = faulty_journal();
    rotate_then_undo_rename(j, 3);
    drop_last_lines(log_path(), 1);          // the retirement
    drop_last_lines(checkpoints_path(), 2);  // both rotation checkpoints
    {
        Local l = load(j);  // a valid log with an unsigned tail of one...
        Report r = verify_log("", l.leaves, l.checkpoints, trust(old_vkey));
        EXPECT_EQ(r.status, LogStatus::unsigned_tail) << r.summary();
        EXPECT_EQ(r.unsigned_tail, 1u);
    }
    for (int i = 0; i < 2; ++i) {
        auto r = j.append(action("backup.run", i));
        ASSERT_TRUE(r.ok()) << r.status().to_string();
    }
    EXPECT_FALSE(fs::exists(key_path() + ".next"));
    expect_verifies(j, old_vkey);
    // ...and a later rotation still works.
    auto rotated = j.rotate_key(action("audit.rotate"));
    ASSERT_TRUE(rotated.ok()) << rotated.status().to_string();
    append_n(j, 1);
    expect_verifies(j, old_vkey);
    expect_verifies(j, *rotated);
}

TEST_F(JournalInterruptedRotationTest, CrashAfterEndorsementBeforeRetirement) {
    // The checkpoint signed by both keys is durable; the retirement is not.
    Journal j = faulty_journal();
    rotate_then_undo_rename(j, 3);
    drop_last_lines(log_path(), 1);
    drop_last_lines(checkpoints_path(), 1);
    append_n(j, 2);
    EXPECT_FALSE(fs::exists(key_path() + ".next"));
    expect_verifies(j, old_vkey);
}

}  // namespace
}  // namespace coffer::audit
