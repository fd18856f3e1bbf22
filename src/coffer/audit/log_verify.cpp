#include "coffer/audit/log_verify.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "coffer/audit/jcs.h"
#include "coffer/audit/merkle.h"

namespace coffer::audit {
namespace {

using json = nlohmann::json;

std::string str(uint64_t n) {
    return std::to_string(n);
}

std::string short_root(const Id& id) {
    return id.hex().substr(0, 16);
}

// A checkpoint read ahead of verification: its size decides where in the log it is checked.
struct ParsedCheckpoint {
    bool ok = false;
    std::string problem;  // when !ok
    ParsedNote note;
    Checkpoint cp;
};

ParsedCheckpoint read_checkpoint(std::string_view bytes) {
    ParsedCheckpoint out;
    auto note = parse_note(bytes);
    if (!note.ok()) {
        out.problem = note.status().message();
        return out;
    }
    auto cp = parse_checkpoint(note->text);
    if (!cp.ok()) {
        out.problem = cp.status().message();
        return out;
    }
    out.ok = true;
    out.note = std::move(note).value();
    out.cp = std::move(cp).value();
    return out;
}

struct KeyState {
    Verifier verifier;
    size_t report_index = 0;  // into Report::keys
};

class LogVerifier {
public:
    LogVerifier(std::string_view origin, std::span<const std::string> leaves,
                std::span<const std::string> checkpoints, const TrustAnchor& anchor,
                const VerifyOptions& options)
        : m_leaves(leaves), m_checkpoint_bytes(checkpoints), m_anchor(anchor), m_options(options) {
        m_report.origin = std::string(origin);
    }

    Report run() {
        if (load_anchor() && walk() && check_anchor_met()) {
            m_report.unsigned_tail =
                m_leaves.size() - (m_report.has_newest ? m_report.newest.size : 0);
            m_report.status =
                m_report.unsigned_tail == 0 ? LogStatus::ok : LogStatus::unsigned_tail;
            m_report.anchored = m_trusted_key_signed || m_trusted_checkpoint_matched;
        }
        m_report.root = m_tree.root();
        return std::move(m_report);
    }

private:
    // Each check returns false after recording the first failure.
    bool fail(Finding f) {
        f.verified_up_to = m_verified_up_to;
        m_report.status = LogStatus::failed;
        m_report.anchored = false;
        m_report.error = std::move(f);
        return false;
    }
    bool fail_log(std::string message) {
        Finding f;
        f.where = Where::log;
        f.message = std::move(message);
        return fail(std::move(f));
    }
    bool fail_entry(uint64_t p, const std::string& message) {
        Finding f;
        f.where = Where::entry;
        f.entry = p;
        f.message = "entry " + str(p) + ": " + message;
        return fail(std::move(f));
    }
    bool fail_checkpoint(size_t j, const ParsedCheckpoint& c, const std::string& message) {
        Finding f;
        f.where = Where::checkpoint;
        f.checkpoint = j;
        f.size_known = c.ok;
        f.tree_size = c.ok ? c.cp.size : 0;
        f.message = "checkpoint " + str(j) + (c.ok ? " (size " + str(c.cp.size) + ")" : "") + ": " +
                    message;
        return fail(std::move(f));
    }
    bool fail_anchor(uint64_t size, bool size_known, std::string message) {
        Finding f;
        f.where = Where::anchor;
        f.tree_size = size;
        f.size_known = size_known;
        f.message = std::move(message);
        return fail(std::move(f));
    }

    bool load_anchor() {
        for (const std::string& k : m_anchor.trusted_keys) {
            auto v = Verifier::parse(k);
            if (!v.ok()) return fail_anchor(0, false, "trusted key: " + v.status().message());
            m_trusted.push_back(std::move(v).value());
        }
        if (!m_anchor.trusted_checkpoint.empty()) {
            m_trusted_checkpoint = read_checkpoint(m_anchor.trusted_checkpoint);
            if (!m_trusted_checkpoint.ok)
                return fail_anchor(0, false, "trusted checkpoint: " + m_trusted_checkpoint.problem);
        }
        return true;
    }

    bool walk() {
        if (m_leaves.empty()) return fail_log("the log is empty: there is no genesis entry");
        if (m_report.origin.empty()) adopt_origin();
        for (const std::string& bytes : m_checkpoint_bytes)
            m_checkpoints.push_back(read_checkpoint(bytes));

        const uint64_t n = m_leaves.size();
        for (uint64_t p = 0;; ++p) {
            // The tree now holds p leaves: check everything that claims to describe that prefix.
            if (m_trusted_checkpoint.ok && m_trusted_checkpoint.cp.size == p &&
                !check_trusted_checkpoint())
                return false;
            while (m_next < m_checkpoints.size()) {
                const ParsedCheckpoint& c = m_checkpoints[m_next];
                if (!c.ok) return fail_checkpoint(m_next, c, c.problem);
                if (c.cp.size < m_last_size)
                    return fail_checkpoint(m_next, c,
                                           "tree size goes backwards (the checkpoint before it "
                                           "has size " +
                                               str(m_last_size) + ")");
                if (c.cp.size != p) break;
                if (!verify_checkpoint(m_next, c)) return false;
                ++m_next;
            }
            if (p == n) break;
            if (!verify_entry(p)) return false;
        }
        if (m_next < m_checkpoints.size())
            return fail_checkpoint(m_next, m_checkpoints[m_next],
                                   "covers " + str(m_checkpoints[m_next].cp.size) +
                                       " entries, but the log has only " + str(n) +
                                       " (entries were removed from its end)");
        if (m_trusted_checkpoint.ok && m_trusted_checkpoint.cp.size > n)
            return fail_anchor(
                m_trusted_checkpoint.cp.size, true,
                "the trusted checkpoint covers " + str(m_trusted_checkpoint.cp.size) +
                    " entries, but the log has only " + str(n) + ": it was truncated");
        return true;
    }

    // Best effort: a bad entry 0 fails on its own when it is checked.
    void adopt_origin() {
        json e = json::parse(m_leaves[0], nullptr, false);
        if (e.is_object()) {
            auto it = e.find("origin");
            if (it != e.end() && it->is_string()) m_report.origin = it->get<std::string>();
        }
    }

    bool verify_entry(uint64_t p) {
        const std::string& leaf = m_leaves[p];
        json e = json::parse(leaf, nullptr, false);
        if (e.is_discarded()) return fail_entry(p, "not valid JSON");
        auto canonical = canonical_json(e);
        if (!canonical.ok()) return fail_entry(p, canonical.status().message());
        if (*canonical != leaf)
            return fail_entry(p, "not in canonical form (RFC 8785): the stored bytes were edited");
        auto fields_or = audit::check_entry(e);
        if (!fields_or.ok()) return fail_entry(p, fields_or.status().message());
        EntryFields& f = fields_or.value();

        if (f.origin != m_report.origin)
            return fail_entry(p, "origin is '" + f.origin + "', expected '" + m_report.origin +
                                     "': the entry belongs to another log");
        if (f.index != p)
            return fail_entry(p, "index field is " + str(f.index) + ", expected " + str(p) +
                                     (f.index < p ? ": an entry was inserted before it, or "
                                                    "entries were reordered"
                                                  : ": an entry before it was removed, or "
                                                    "entries were reordered"));
        const EntryTime allowed{f.time.seconds + m_options.max_time_step_back_s, f.time.nanos};
        if (p > 0 && m_options.max_time_step_back_s >= 0 && allowed < m_newest_time) {
            return fail_entry(
                p, "time goes back " +
                       str(static_cast<uint64_t>(m_newest_time.seconds - f.time.seconds)) +
                       "s before entry " + str(m_newest_time_entry) + " (tolerance " +
                       str(m_options.max_time_step_back_s) + "s)");
        }
        if (p == 0 || f.time > m_newest_time) {
            m_newest_time = f.time;
            m_newest_time_entry = p;
        }
        if (p == 0 && f.action != k_action_key_activate)
            return fail_entry(p, "the first entry must be " + std::string(k_action_key_activate) +
                                     " (the genesis key), not " + f.action);
        if (f.action == k_action_key_activate && !activate(p, f.activated_key)) return false;
        if (f.action == k_action_key_retire && !retire(p, f.retired_key_id)) return false;

        m_tree.append(leaf_hash(as_bytes(leaf)));
        m_report.entries = p + 1;
        return true;
    }

    bool activate(uint64_t p, const Verifier& v) {
        for (const KeyState& k : m_keys) {
            const KeyInfo& info = m_report.keys[k.report_index];
            if (k.verifier.name == v.name && k.verifier.key_id == v.key_id)
                return fail_entry(p, "activates key " + v.label() + ", which entry " +
                                         str(info.activated_at) +
                                         " already activated (keys are never re-activated)");
        }
        KeyInfo info;
        info.key = v.encode();
        info.label = v.label();
        info.activated_at = p;
        info.endorsed = p == 0;
        for (const Verifier& t : m_trusted)
            info.trusted = info.trusted || (t.name == v.name && t.key_id == v.key_id &&
                                            t.public_key == v.public_key);
        m_keys.push_back({v, m_report.keys.size()});
        m_report.keys.push_back(std::move(info));
        return true;
    }

    bool retire(uint64_t p, uint32_t key_id) {
        KeyInfo* target = nullptr;
        for (const KeyState& k : m_keys) {
            KeyInfo& info = m_report.keys[k.report_index];
            if (k.verifier.key_id != key_id || info.retired) continue;
            if (target) return fail_entry(p, "key ID " + key_id_hex(key_id) + " is ambiguous");
            target = &info;
        }
        if (!target)
            return fail_entry(p, "retires key ID " + key_id_hex(key_id) + ", which is not active");
        target->retired = true;
        target->retired_at = p;
        return true;
    }

    bool check_trusted_checkpoint() {
        const Checkpoint& t = m_trusted_checkpoint.cp;
        if (t.origin != m_report.origin)
            return fail_anchor(t.size, true,
                               "the trusted checkpoint is for origin '" + t.origin +
                                   "', but this log is '" + m_report.origin + "'");
        if (t.root != m_tree.root())
            return fail_anchor(
                t.size, true,
                "the log's root at size " + str(t.size) + " (" + short_root(m_tree.root()) +
                    ") differs from the trusted checkpoint's (" + short_root(t.root) +
                    "): entries before " + str(t.size) + " were rewritten");
        m_trusted_checkpoint_matched = true;
        return true;
    }

    bool verify_checkpoint(size_t j, const ParsedCheckpoint& c) {
        const uint64_t size = c.cp.size;
        if (c.cp.origin != m_report.origin)
            return fail_checkpoint(
                j, c, "origin is '" + c.cp.origin + "', expected '" + m_report.origin + "'");
        // Keys activated so far, retired ones included so that their signatures are checked
        // (and refused below) rather than ignored as unknown.
        std::vector<Verifier> known;
        for (const KeyState& k : m_keys) known.push_back(k.verifier);
        bool any_known = false;
        std::string signers;
        for (const NoteSignature& s : c.note.signatures) {
            signers += (signers.empty() ? "" : ", ") + s.label();
            for (const Verifier& v : known)
                any_known = any_known || (v.name == s.name && v.key_id == s.key_id);
        }
        if (!any_known)
            return fail_checkpoint(
                j, c, "not signed by any key in the log's registry (signed by " + signers + ")");
        auto opened = open_note(m_checkpoint_bytes[j], known);
        if (!opened.ok()) return fail_checkpoint(j, c, opened.status().message());

        std::vector<KeyInfo*> valid;
        for (const NoteSignature& s : opened->verified) {
            KeyInfo* info = nullptr;
            for (const KeyState& k : m_keys)
                if (k.verifier.name == s.name && k.verifier.key_id == s.key_id)
                    info = &m_report.keys[k.report_index];
            if (info->retired && size > info->retired_at + 1)
                return fail_checkpoint(
                    j, c,
                    "signed by key " + info->label + ", retired by entry " + str(info->retired_at) +
                        ": it may sign checkpoints only up to size " + str(info->retired_at + 1));
            if (info->endorsed) valid.push_back(info);
        }
        if (valid.empty())
            return fail_checkpoint(
                j, c,
                "signed only by keys that no checkpoint from an earlier key has endorsed (" +
                    signers + "): a key activated by the log itself is not yet trusted");
        if (c.cp.root != m_tree.root()) {
            const std::string which = m_verified_up_to == size
                                          ? "a checkpoint of the same size has a different root"
                                          : "entries " + str(m_verified_up_to) + " to " +
                                                str(size - 1) + " differ from what was signed";
            return fail_checkpoint(j, c,
                                   "root " + short_root(c.cp.root) + " does not match the log's " +
                                       short_root(m_tree.root()) + ": " + which);
        }

        // Accepted. Every key activated before this size is now vouched for by an endorsed key.
        for (KeyInfo& info : m_report.keys) {
            if (!info.endorsed) {
                info.endorsed = true;
                info.endorsed_at_size = size;
            }
        }
        for (KeyInfo* info : valid) {
            ++info->checkpoints_signed;
            m_trusted_key_signed = m_trusted_key_signed || info->trusted;
        }
        m_verified_up_to = size;
        m_last_size = size;
        ++m_report.checkpoints;
        m_report.has_newest = true;
        m_report.newest = c.cp;
        return true;
    }

    bool check_anchor_met() {
        if (m_trusted.empty() || m_trusted_key_signed) return true;
        std::string genesis = m_report.keys.empty() ? "none" : m_report.keys[0].label;
        return fail_anchor(0, false,
                           "no checkpoint is signed by a trusted key (this log's genesis key is " +
                               genesis + "): the key registry is not the one trusted");
    }

    std::span<const std::string> m_leaves;
    std::span<const std::string> m_checkpoint_bytes;
    const TrustAnchor& m_anchor;
    VerifyOptions m_options;

    Report m_report;
    CompactTree m_tree;
    std::vector<KeyState> m_keys;
    std::vector<Verifier> m_trusted;
    ParsedCheckpoint m_trusted_checkpoint;
    bool m_trusted_checkpoint_matched = false;
    bool m_trusted_key_signed = false;
    std::vector<ParsedCheckpoint> m_checkpoints;
    size_t m_next = 0;         // next checkpoint to check
    uint64_t m_last_size = 0;  // size of the last checkpoint that verified
    uint64_t m_verified_up_to = 0;
    EntryTime m_newest_time;
    uint64_t m_newest_time_entry = 0;
};

}  // namespace

std::string Report::summary() const {
    if (status == LogStatus::failed) return "failed: " + error.message;
    std::string s = status == LogStatus::ok ? "ok" : "unsigned tail";
    s += ": " + str(entries) + " entries, " + str(checkpoints) + " checkpoints";
    if (has_newest) s += ", newest at size " + str(newest.size);
    if (unsigned_tail != 0) s += ", " + str(unsigned_tail) + " entries after it not yet signed";
    s += anchored ? ", anchored" : ", self-consistent only (no trust anchor)";
    return s;
}

Report verify_log(std::string_view origin, std::span<const std::string> leaves,
                  std::span<const std::string> checkpoints, const TrustAnchor& anchor,
                  const VerifyOptions& options) {
    try {
        return LogVerifier(origin, leaves, checkpoints, anchor, options).run();
    } catch (const std::exception& e) {
        Report r;
        r.error.where = Where::log;
        r.error.message = std::string("internal error while verifying: ") + e.what();
        return r;
    }
}

}  // namespace coffer::audit
