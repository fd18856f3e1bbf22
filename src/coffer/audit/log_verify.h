// The verifier of a coffer audit log: pure (no I/O, no clock), so the live log and an offline
// export are checked by the same code. Storage, the CLI and export live elsewhere.
//
// Inputs: the leaves exactly as stored (canonical entries, entry.h, without newlines), the
// checkpoints as signed notes in the order written (note.h), and a trust anchor from outside the
// log. The verifier hashes the stored bytes; it parses them only to read fields, and refuses an
// entry whose bytes are not the canonical form of what they parse to.
//
// Key registry. Entry 0 must be audit.key.activate: the genesis key. A key activated by entry i
// may sign checkpoints of size n > i; one retired by entry j only those with n <= j + 1 (it may
// sign the checkpoint that records its retirement, nothing after). A key is usable only once
// ENDORSED: the genesis key is; any other becomes so when a checkpoint covering its activation is
// signed by an endorsed key. So after activating a new key the writer must sign the next
// checkpoint with a key already in use (it may cosign with the new one) before retiring the old
// one. Without that rule anyone could append "activate my key" and sign what follows with it.
//
// Checks, in log order (checkpoint of size n right after entry n-1), stopping at the first
// failure: each entry parses, is canonical, fits the schema, carries the log's origin and its own
// position as index, is not older than the newest earlier entry by more than the tolerance, and
// keeps the registry consistent; each checkpoint parses, has the log's origin, a size no smaller
// than the previous one and no larger than the log, a verified signature from an endorsed key
// valid for its size and none from a key retired before it, and the root of the log's prefix of
// that size. A signature from a key unknown at that size is ignored, as the note spec requires.
//
// Trust anchor. With trusted keys, at least one checkpoint must be validly signed by one of
// them: a log regenerated from scratch under an attacker's genesis key fails, because the
// attacker cannot sign with the trusted key. With a trusted checkpoint (one the caller verified
// before; its text is taken as given and its signatures are not re-checked), the log must reach
// its size and have its root there: this catches truncation and rewritten history. With neither,
// the result says the log is only self-consistent. Thread-safe; inputs are only read.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coffer/audit/entry.h"
#include "coffer/audit/note.h"
#include "coffer/util/bytes.h"

namespace coffer::audit {

struct TrustAnchor {
    std::vector<std::string> trusted_keys;  // verifier key strings
    std::string trusted_checkpoint;         // signed note bytes; empty for none
};

struct VerifyOptions {
    // An entry may be up to this much older than the newest entry before it (clock steps, NTP
    // corrections, writers on hosts with slightly different clocks). Negative: no time check.
    int64_t max_time_step_back_s = 300;
};

enum class LogStatus : uint8_t {
    ok,             // every check passed and the newest checkpoint covers every entry
    unsigned_tail,  // as ok, but entries after the newest checkpoint are not yet signed
    failed,         // see Report::error
};

enum class Where : uint8_t { none, log, entry, checkpoint, anchor };

// The first problem found.
struct Finding {
    Where where = Where::none;
    uint64_t entry = 0;       // Where::entry: the entry's position in the log
    uint64_t tree_size = 0;   // Where::checkpoint and Where::anchor: the checkpoint's tree size
    uint64_t checkpoint = 0;  // Where::checkpoint: its position in the checkpoint sequence
    bool size_known = false;  // false when the checkpoint was too malformed to read its size
    // Entries below this are covered by a checkpoint that verified, so a change that only a root
    // mismatch reveals lies in [verified_up_to, tree_size).
    uint64_t verified_up_to = 0;
    std::string message;  // one line, naming the entry or checkpoint
};

struct KeyInfo {
    std::string key;    // verifier key string
    std::string label;  // "name+c74f20a3"
    uint64_t activated_at = 0;
    bool retired = false;
    uint64_t retired_at = 0;
    bool endorsed = false;
    uint64_t endorsed_at_size = 0;  // the checkpoint that endorsed it; 0 for the genesis key
    bool trusted = false;           // one of TrustAnchor::trusted_keys
    uint64_t checkpoints_signed = 0;
};

struct Report {
    LogStatus status = LogStatus::failed;
    // True when the trust anchor given was met; false when none was given (or on failure).
    bool anchored = false;
    std::string origin;
    uint64_t entries = 0;      // entries that passed their checks
    uint64_t checkpoints = 0;  // checkpoints that verified
    std::vector<KeyInfo> keys;
    bool has_newest = false;
    Checkpoint newest;           // the last checkpoint that verified
    uint64_t unsigned_tail = 0;  // entries after it
    Id root;                     // root over the entries that passed
    Finding error;               // when status == failed

    // One line for people: "ok: 50 entries, 13 checkpoints, ..., anchored" / "failed: ...".
    std::string summary() const;
};

// Verifies a whole log. `origin` is the log's origin; when empty it is read from entry 0 (then
// only an anchor ties the log to anything). Never fails itself: every problem, including a
// malformed trust anchor, is reported in the Report.
Report verify_log(std::string_view origin, std::span<const std::string> leaves,
                  std::span<const std::string> checkpoints, const TrustAnchor& anchor,
                  const VerifyOptions& options = {});

}  // namespace coffer::audit
