#include "coffer/audit/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include "coffer/audit/entry.h"
#include "coffer/audit/log_verify.h"
#include "coffer/audit/merkle.h"
#include "coffer/crypto/crypto.h"
#include "coffer/util/file.h"

namespace coffer::audit {

namespace {

constexpr std::string_view k_key_context = "coffer audit key v1";

std::string pad(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%012llu", static_cast<unsigned long long>(v));
    return buf;
}

std::vector<Id> leaf_hashes(const std::vector<std::string>& leaves, size_t n) {
    std::vector<Id> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.push_back(leaf_hash(as_bytes(leaves[i])));
    return out;
}

// Splits a file into its complete lines; a torn last line (a crash mid-append, never followed
// by a checkpoint) is cut off the file.
Result<std::vector<std::string>> read_lines(const std::string& path) {
    std::vector<std::string> lines;
    auto bytes = read_file(path);
    if (!bytes.ok()) {
        if (bytes.status().code() == Code::not_found) return lines;
        return bytes.status();
    }
    std::string_view s = as_chars(*bytes);
    size_t start = 0;
    for (size_t nl; (nl = s.find('\n', start)) != std::string_view::npos; start = nl + 1)
        lines.emplace_back(s.substr(start, nl - start));
    if (start < s.size() && ::truncate(path.c_str(), static_cast<off_t>(start)) != 0)
        return errno_status("cut the torn last line of " + path, errno);
    return lines;
}

Status append_line(const std::string& path, std::string_view line) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return errno_status("open " + path, errno);
    std::string data = std::string(line) + "\n";
    Status st = write_all(fd, as_bytes(data), path);
    if (st.ok() && ::fdatasync(fd) != 0) st = errno_status("fsync " + path, errno);
    ::close(fd);
    return st;
}

// A key file's text without its trailing newline.
std::string_view key_text(const SecretBytes& file) {
    std::string_view s = as_chars(file.view());
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
        s.remove_suffix(1);
    return s;
}

Result<std::string> read_checkpoint_line(const std::string& line, const std::string& where) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("note") || !j["note"].is_string())
        return corruption(where + " holds a line that is not a checkpoint record");
    auto note = crypto::base64_decode(j["note"].get<std::string>());
    if (!note) return corruption(where + " holds a checkpoint that is not base64");
    return std::string(as_chars(*note));
}

// The verifier keys the log activated, by key ID, and whether each is retired.
struct Registry {
    std::map<uint32_t, std::pair<std::string, bool>> keys;  // id -> (verifier key, retired)
};
Registry registry_of(const std::vector<std::string>& leaves) {
    Registry r;
    for (const auto& leaf : leaves) {
        if (leaf.find("\"audit.key.") == std::string::npos) continue;
        auto j = nlohmann::json::parse(leaf, nullptr, false);
        if (j.is_discarded()) continue;
        auto fields = check_entry(j);
        if (!fields.ok()) continue;
        if (fields->action == k_action_key_activate)
            r.keys[fields->activated_key.key_id] = {fields->activated_key.encode(), false};
        else if (fields->action == k_action_key_retire)
            r.keys[fields->retired_key_id].second = true;
    }
    return r;
}

}  // namespace

std::string origin_of(const std::vector<std::string>& leaves) {
    if (leaves.empty()) return "";
    auto j = nlohmann::json::parse(leaves[0], nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("origin") || !j["origin"].is_string())
        return "";
    return j["origin"].get<std::string>();
}

class Journal::Lock {
public:
    static Result<Lock> take(const std::string& dir) {
        TRY(make_dirs(dir, 0700));
        std::string path = dir + "/lock";
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) return errno_status("open audit lock " + path, errno);
        while (::flock(fd, LOCK_EX) != 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd);
            return errno_status("lock " + path, err);
        }
        return Lock(fd);
    }
    Lock(Lock&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
    ~Lock() {
        if (m_fd >= 0) ::close(m_fd);
    }

private:
    explicit Lock(int fd) : m_fd(fd) {}
    int m_fd;
};

std::string Journal::origin_for_new_log() const {
    std::string host;
    for (char c : m_cfg.host_name)  // a key name may hold neither whitespace nor '+'
        host += (c == '+' || c == '/' || static_cast<unsigned char>(c) <= ' ') ? '_' : c;
    if (host.empty()) host = "host";
    return "coffer.audit/" + m_cfg.repo_id.substr(0, 16) + "/" + host + "/" + m_cfg.host_key_id;
}

Status Journal::load(std::vector<std::string>& leaves, std::vector<std::string>& checkpoints) {
    TRY_ASSIGN(Lock lock, Lock::take(m_cfg.dir));
    return load_locked(leaves, checkpoints);
}

Status Journal::load_locked(std::vector<std::string>& leaves,
                            std::vector<std::string>& checkpoints) {
    TRY_ASSIGN(leaves, read_lines(m_cfg.dir + "/log.ndjson"));
    TRY_ASSIGN(auto lines, read_lines(m_cfg.dir + "/checkpoints.ndjson"));
    checkpoints.clear();
    for (const auto& line : lines) {
        TRY_ASSIGN(std::string note, read_checkpoint_line(line, m_cfg.dir + "/checkpoints.ndjson"));
        checkpoints.push_back(std::move(note));
    }
    return ok_status();
}

Result<Replica> Journal::read_replica() {
    Replica r;
    if (!m_cfg.store) return r;
    std::string prefix = "audit/" + m_cfg.host_key_id + "/";
    TRY_ASSIGN(auto segments, m_cfg.store->list(prefix + "log/"));
    // Segments by first index; at each position take the one reaching furthest.
    std::map<uint64_t, std::pair<uint64_t, std::string>> by_first;
    for (const auto& o : segments) {
        std::string base = o.name.substr(o.name.rfind('/') + 1);
        unsigned long long first = 0, end = 0;
        if (std::sscanf(base.c_str(), "%llu-%llu", &first, &end) != 2 || end <= first)
            return corruption("audit segment " + o.name + " has a malformed name");
        auto& slot = by_first[first];
        if (end > slot.first) slot = {end, o.name};
    }
    uint64_t pos = 0;
    while (true) {
        auto best = by_first.end();
        for (auto it = by_first.begin(); it != by_first.end() && it->first <= pos; ++it)
            if (it->second.first > pos &&
                (best == by_first.end() || it->second.first > best->second.first))
                best = it;
        if (best == by_first.end()) break;
        TRY_ASSIGN(Bytes bytes, m_cfg.store->get(best->second.second));
        std::string_view s = as_chars(bytes);
        uint64_t i = best->first;
        for (size_t start = 0, nl; (nl = s.find('\n', start)) != std::string_view::npos;
             start = nl + 1, ++i) {
            std::string leaf(s.substr(start, nl - start));
            if (i < r.leaves.size()) {
                if (r.leaves[i] != leaf)
                    return integrity_error("audit segment " + best->second.second +
                                           " disagrees with another about entry " +
                                           std::to_string(i));
            } else if (i == r.leaves.size()) {
                r.leaves.push_back(std::move(leaf));
            }
        }
        if (i != best->second.first)
            return corruption("audit segment " + best->second.second + " holds " +
                              std::to_string(i - best->first) + " entries, not what its name says");
        pos = best->second.first;
    }
    TRY_ASSIGN(auto cps, m_cfg.store->list(prefix + "checkpoints/"));
    std::vector<std::string> names;
    for (const auto& o : cps) names.push_back(o.name);
    std::sort(names.begin(), names.end());  // zero-padded sizes: name order is size order
    for (const auto& name : names) {
        TRY_ASSIGN(Bytes note, m_cfg.store->get(name));
        r.checkpoints.emplace_back(as_chars(note));
    }
    return r;
}

Status Journal::check_against_replica(std::vector<std::string>& leaves,
                                      std::vector<std::string>& checkpoints) {
    if (!m_cfg.store) return ok_status();
    std::string prefix = "audit/" + m_cfg.host_key_id + "/";
    TRY_ASSIGN(auto cps, m_cfg.store->list(prefix + "checkpoints/"));
    if (cps.empty()) {
        // Segments without any checkpoint: a first replication cut short. A new local log would
        // start a second history under the same origin; refuse rather than fork it.
        TRY_ASSIGN(auto segments, m_cfg.store->list(prefix + "log/"));
        if (leaves.empty() && !segments.empty())
            return integrity_error(
                "the repository holds audit segments for this host but no "
                "checkpoint, and there is no local log in " +
                m_cfg.dir + ": restore the local log, or move audit/" + m_cfg.host_key_id +
                "/ aside in the repository");
        return ok_status();
    }
    std::string newest;
    for (const auto& o : cps) newest = std::max(newest, o.name);
    TRY_ASSIGN(Bytes bytes, m_cfg.store->get(newest));
    auto parsed = parse_note(as_chars(bytes));
    if (!parsed.ok()) return parsed.status().with_context("audit checkpoint " + newest);
    TRY_ASSIGN(Checkpoint cp, parse_checkpoint(parsed->text));
    if (leaves.empty()) {
        // A new or wiped state directory: the repository's copy is the log, once it verifies
        // against this host's own key, and only as far as its newest signed checkpoint: entries
        // after it could have been put there by anyone with write access to the repository.
        TRY_ASSIGN(Replica r, read_replica());
        TRY_ASSIGN(std::string own_key, current_verifier_key());
        if (own_key.empty())
            return not_found("the repository holds this host's audit log but the signing key " +
                             m_cfg.key_path +
                             " is missing: put the key file back to continue the log");
        TrustAnchor anchor{{own_key}, ""};
        Report check = verify_log("", r.leaves, r.checkpoints, anchor);
        if (check.status == LogStatus::failed || !check.has_newest)
            return integrity_error(
                "the repository's audit log for this host does not verify, so "
                "it is not adopted: " +
                check.summary() + " (run coffer audit verify)");
        r.leaves.resize(check.newest.size);
        while (!r.checkpoints.empty()) {
            auto n = parse_note(r.checkpoints.back());
            auto c = n.ok() ? parse_checkpoint(n->text) : Result<Checkpoint>(n.status());
            if (c.ok() && c->size <= r.leaves.size()) break;
            r.checkpoints.pop_back();
        }
        std::string log, cpl;
        for (const auto& l : r.leaves) log += l + "\n";
        for (const auto& c : r.checkpoints)
            cpl += nlohmann::json{{"note", crypto::base64_encode(as_bytes(c))}}.dump() + "\n";
        TRY(write_file_atomic(m_cfg.dir + "/log.ndjson", as_bytes(log), 0600));
        TRY(write_file_atomic(m_cfg.dir + "/checkpoints.ndjson", as_bytes(cpl), 0600));
        leaves = std::move(r.leaves);
        checkpoints = std::move(r.checkpoints);
        return ok_status();
    }
    // Only a checkpoint signed by one of this log's own keys says anything about it: anyone
    // with write access to the repository (another host) could put a note there.
    std::vector<Verifier> own;
    for (const auto& [id, key] : registry_of(leaves).keys)
        if (auto v = Verifier::parse(key.first); v.ok()) own.push_back(std::move(*v));
    if (!open_note(as_chars(bytes), own).ok())
        return integrity_error("audit checkpoint " + newest +
                               " in the repository is not signed by any key of this host's log: "
                               "it was written by someone else; run coffer audit verify");
    if (leaves.size() < cp.size)
        return integrity_error(
            "the local audit log in " + m_cfg.dir + " has " + std::to_string(leaves.size()) +
            " entries but the repository's checkpoint covers " + std::to_string(cp.size) +
            ": the local log was rolled back; refusing to continue it "
            "(move it aside to rebuild it from the repository)");
    if (root(leaf_hashes(leaves, cp.size)) != cp.root)
        return integrity_error("the local audit log in " + m_cfg.dir +
                               " differs from the repository's checkpoint at size " +
                               std::to_string(cp.size) + ": run coffer audit verify");
    return ok_status();
}

Result<Signer> Journal::load_or_create_key(const std::vector<std::string>& leaves, bool& created) {
    created = false;
    std::string next = m_cfg.key_path + ".next";
    if (auto pending = read_secret_file(next); pending.ok()) {
        // A rotation was interrupted: finish it if the log activated the new key and retired the
        // old one. rotate_key retires the old key only after the checkpoint both keys sign, which
        // endorses the new key; before that the new key alone would sign checkpoints that no
        // verifier accepts, so the old key carries on (its next checkpoint endorses an activated
        // key that no longer exists, which is harmless).
        auto signer = Signer::parse(key_text(*pending));
        Registry reg = registry_of(leaves);
        bool old_retired = true;  // no readable old key: the new one is all there is
        if (auto cur = read_secret_file(m_cfg.key_path); cur.ok()) {
            if (auto old = Signer::parse(key_text(*cur)); old.ok()) {
                auto it = reg.keys.find(old->key_id);
                old_retired = it != reg.keys.end() && it->second.second;
            }
        }
        if (signer.ok() && reg.keys.count(signer->key_id) && old_retired) {
            if (::rename(next.c_str(), m_cfg.key_path.c_str()) != 0)
                return errno_status("rename " + next, errno);
        } else {
            ::unlink(next.c_str());
        }
    }
    auto text = read_secret_file(m_cfg.key_path);
    if (text.ok()) {
        TRY_ASSIGN(Signer s, Signer::parse(key_text(*text)));
        if (!leaves.empty() && s.name != origin_of(leaves))
            return wrong_key("audit key " + m_cfg.key_path + " is for log " + s.name + ", not " +
                             origin_of(leaves));
        return s;
    }
    if (text.status().code() != Code::not_found) return text.status();
    if (!leaves.empty())
        return not_found("audit signing key " + m_cfg.key_path + " is missing, so the log in " +
                         m_cfg.dir +
                         " cannot be continued: put the key file back (it is kept beside the "
                         "host key)");
    TRY_ASSIGN(Signer s, Signer::generate(origin_for_new_log()));
    std::string enc = s.encode() + "\n";
    Status st = write_new_file(m_cfg.key_path, as_bytes(enc), 0600);
    secure_wipe(enc.data(), enc.size());
    TRY(st);
    created = true;
    return s;
}

// Canonical JSON has no floats: a duration in seconds becomes its decimal text.
static nlohmann::json without_floats(const nlohmann::json& v) {
    if (v.is_number_float()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.3f", v.get<double>());
        return buf;
    }
    if (v.is_object() || v.is_array()) {
        nlohmann::json out = v;
        for (auto& [k, x] : out.items()) x = without_floats(x);
        return out;
    }
    return v;
}

Result<std::string> Journal::encode(const Action& a, const std::string& origin, uint64_t index,
                                    const std::string& previous) {
    // Entry times never go backwards: after a clock step back the previous entry's time is
    // used, and how far behind the clock was is kept in the details.
    std::string time = format_entry_time(std::chrono::system_clock::now());
    int64_t behind_ms = 0;
    if (!previous.empty()) {
        auto p = nlohmann::json::parse(previous, nullptr, false);
        if (!p.is_discarded() && p.is_object() && p.contains("time") && p["time"].is_string()) {
            auto last = parse_entry_time(p["time"].get<std::string>());
            auto now = parse_entry_time(time);
            if (last.ok() && now.ok() && *now < *last) {
                behind_ms = (last->seconds - now->seconds) * 1000 +
                            (int64_t(last->nanos) - int64_t(now->nanos)) / 1000000;
                time = p["time"].get<std::string>();
            }
        }
    }
    nlohmann::json j = {
        {"schema", k_entry_schema},
        {"origin", origin},
        {"index", index},
        {"time", time},
        {"actor", a.actor.empty() ? "unknown" : a.actor},
        {"host", a.host},
        {"action", a.action},
        {"target", a.target},
        {"outcome", a.outcome},
        {"details", a.details.is_object() ? without_floats(a.details) : nlohmann::json::object()}};
    if (!a.error.empty()) j["error"] = a.error;
    if (behind_ms > 0) j["details"]["clock_behind_ms"] = behind_ms;
    return encode_entry(j);
}

Status Journal::append_leaf(std::vector<std::string>& leaves, const std::string& leaf) {
    TRY(append_line(m_cfg.dir + "/log.ndjson", leaf));
    leaves.push_back(leaf);
    return ok_status();
}

Status Journal::append_checkpoint(std::vector<std::string>& checkpoints,
                                  const std::vector<std::string>& leaves,
                                  const std::vector<Signer>& signers) {
    Checkpoint cp{origin_of(leaves), leaves.size(), root(leaf_hashes(leaves, leaves.size())), {}};
    TRY_ASSIGN(std::string text, format_checkpoint(cp));
    TRY_ASSIGN(std::string note, sign_note(text, signers));
    TRY(append_line(
        m_cfg.dir + "/checkpoints.ndjson",
        nlohmann::json{{"size", cp.size}, {"note", crypto::base64_encode(as_bytes(note))}}.dump()));
    checkpoints.push_back(std::move(note));
    return ok_status();
}

Status Journal::replicate(const std::vector<std::string>& leaves,
                          const std::vector<std::string>& checkpoints, const Signer& key) {
    if (!m_cfg.store || leaves.empty()) return ok_status();
    std::string prefix = "audit/" + m_cfg.host_key_id + "/";
    TRY_ASSIGN(auto segments, m_cfg.store->list(prefix + "log/"));
    std::map<uint64_t, uint64_t> ranges;
    for (const auto& o : segments) {
        unsigned long long first = 0, end = 0;
        if (std::sscanf(o.name.substr(o.name.rfind('/') + 1).c_str(), "%llu-%llu", &first, &end) ==
            2)
            ranges[first] = std::max<uint64_t>(ranges[first], end);
    }
    uint64_t covered = 0;
    for (const auto& [first, end] : ranges)
        if (first <= covered) covered = std::max(covered, end);
    if (covered < leaves.size()) {
        std::string seg;
        for (size_t i = covered; i < leaves.size(); ++i) seg += leaves[i] + "\n";
        Status st = m_cfg.store->put(prefix + "log/" + pad(covered) + "-" + pad(leaves.size()),
                                     as_bytes(seg), store::PutMode::create_only);
        if (!st.ok() && st.code() != Code::already_exists) return st;
    }
    // Every checkpoint the repository lacks, not only the newest: after a rotation the one
    // signed by both keys is what endorses the new key.
    TRY_ASSIGN(auto stored, m_cfg.store->list(prefix + "checkpoints/"));
    std::set<std::string> have;
    for (const auto& o : stored) have.insert(o.name);
    for (const auto& note : checkpoints) {
        auto parsed = parse_note(note);
        if (!parsed.ok()) return parsed.status();
        TRY_ASSIGN(Checkpoint cp, parse_checkpoint(parsed->text));
        std::string name = prefix + "checkpoints/" + pad(cp.size);
        if (have.count(name)) continue;
        Status st = m_cfg.store->put(name, as_bytes(note), store::PutMode::create_only);
        if (!st.ok() && st.code() != Code::already_exists) return st;
    }
    if (!m_cfg.recovery_public_key.empty()) {
        std::string name = prefix + "keys/" + key_id_hex(key.key_id) + ".sealed";
        if (m_cfg.store->stat(name).status().code() == Code::not_found) {
            std::string enc = key.encode();
            auto sealed = crypto::seal_to(m_cfg.recovery_public_key, as_bytes(enc),
                                          as_bytes(std::string(k_key_context) + m_cfg.repo_id));
            secure_wipe(enc.data(), enc.size());
            if (!sealed.ok()) return sealed.status();
            Status st = m_cfg.store->put(name, *sealed, store::PutMode::create_only);
            if (!st.ok() && st.code() != Code::already_exists) return st;
        }
    }
    return ok_status();
}

Result<Appended> Journal::append(const Action& action) {
    if (!m_cfg.store && ::access((m_cfg.dir + "/log.ndjson").c_str(), F_OK) != 0)
        // Without the repository there is no telling whether a log exists there already;
        // starting one here could fork it.
        return not_found("no local audit log in " + m_cfg.dir +
                         " and no repository to look for one in: nothing recorded");
    TRY_ASSIGN(Lock lock, Lock::take(m_cfg.dir));
    std::vector<std::string> leaves, checkpoints;
    TRY(load_locked(leaves, checkpoints));
    TRY(check_against_replica(leaves, checkpoints));
    if (leaves.empty() && !m_cfg.store)
        return not_found("no local audit log in " + m_cfg.dir +
                         " and no repository to look for one in: nothing recorded");
    bool created = false;
    TRY_ASSIGN(Signer key, load_or_create_key(leaves, created));
    // An empty log starts with its key's activation, also when the key file outlived the log
    // (a wiped state directory and no copy in the repository): the key's name is the origin.
    std::string origin = leaves.empty() ? key.name : origin_of(leaves);
    if (leaves.empty()) {
        Action genesis{action.actor,
                       action.host,
                       std::string(k_action_key_activate),
                       origin,
                       "ok",
                       "",
                       nlohmann::json{{"key", key.verifier().encode()}}};
        TRY_ASSIGN(std::string leaf, encode(genesis, origin, 0, ""));
        TRY(append_leaf(leaves, leaf));
    }
    TRY_ASSIGN(std::string leaf, encode(action, origin, leaves.size(), leaves.back()));
    TRY(append_leaf(leaves, leaf));
    TRY(append_checkpoint(checkpoints, leaves, {key}));
    Appended out{leaves.size() - 1, ""};
    Status rep = replicate(leaves, checkpoints, key);
    if (!rep.ok())
        out.warning = "audit log not copied to the repository yet (the next action retries): " +
                      rep.message();
    return out;
}

Result<std::string> Journal::rotate_key(const Action& who) {
    TRY_ASSIGN(Lock lock, Lock::take(m_cfg.dir));
    std::vector<std::string> leaves, checkpoints;
    TRY(load_locked(leaves, checkpoints));
    TRY(check_against_replica(leaves, checkpoints));
    if (leaves.empty())
        return invalid_argument(
            "there is no audit log yet: nothing to rotate (any action starts "
            "one)");
    bool created = false;
    TRY_ASSIGN(Signer old_key, load_or_create_key(leaves, created));
    std::string origin = origin_of(leaves);
    TRY_ASSIGN(Signer new_key, Signer::generate(origin));
    // The new key goes to disk before the log names it, so a crash in between loses nothing.
    std::string next = m_cfg.key_path + ".next";
    std::string enc = new_key.encode() + "\n";
    ::unlink(next.c_str());
    Status st = write_new_file(next, as_bytes(enc), 0600);
    secure_wipe(enc.data(), enc.size());
    TRY(st);
    Action activate = who;
    activate.action = k_action_key_activate;
    activate.outcome = "ok";
    activate.error.clear();
    activate.details = {{"key", new_key.verifier().encode()}};
    TRY_ASSIGN(std::string a, encode(activate, origin, leaves.size(), leaves.back()));
    TRY(append_leaf(leaves, a));
    // Signed by the old key, which endorses the new one, and by the new one.
    TRY(append_checkpoint(checkpoints, leaves, {old_key, new_key}));
    Action retire = who;
    retire.action = k_action_key_retire;
    retire.outcome = "ok";
    retire.error.clear();
    retire.details = {{"key_id", key_id_hex(old_key.key_id)}};
    TRY_ASSIGN(std::string r, encode(retire, origin, leaves.size(), leaves.back()));
    TRY(append_leaf(leaves, r));
    TRY(append_checkpoint(checkpoints, leaves, {new_key}));
    if (::rename(next.c_str(), m_cfg.key_path.c_str()) != 0)
        return errno_status("replace audit key " + m_cfg.key_path, errno);
    (void)replicate(leaves, checkpoints, new_key);
    return new_key.verifier().encode();
}

Result<bool> Journal::restore_key(ByteView recovery_private_key) {
    if (::access(m_cfg.key_path.c_str(), F_OK) == 0)
        return already_exists("audit signing key " + m_cfg.key_path +
                              " already exists; refusing to overwrite it");
    TRY_ASSIGN(Replica replica, read_replica());
    if (replica.leaves.empty()) return false;
    // Only a log that verifies (each key endorsed by the one before it, every checkpoint signed)
    // names the key to restore: an activation appended by someone else endorses nothing.
    Report report = verify_log(origin_for_new_log(), replica.leaves, replica.checkpoints, {});
    if (report.status == LogStatus::failed)
        return integrity_error("the audit log of host key " + m_cfg.host_key_id +
                               " in the repository does not verify (" + report.error.message +
                               "): its signing key is not restored");
    const KeyInfo* newest = nullptr;
    for (const auto& k : report.keys)
        if (k.endorsed && !k.retired && (!newest || k.activated_at > newest->activated_at))
            newest = &k;
    if (!newest)
        return integrity_error("the audit log of host key " + m_cfg.host_key_id +
                               " in the repository has no active signing key");
    TRY_ASSIGN(Verifier expected, Verifier::parse(newest->key));
    std::string name =
        "audit/" + m_cfg.host_key_id + "/keys/" + key_id_hex(expected.key_id) + ".sealed";
    TRY_ASSIGN(Bytes sealed, m_cfg.store->get(name));
    auto opened = crypto::open_sealed(recovery_private_key, sealed,
                                      as_bytes(std::string(k_key_context) + m_cfg.repo_id));
    if (!opened.ok())
        return integrity_error(name + " does not open with the recovery key (damaged?)");
    TRY_ASSIGN(Signer signer, Signer::parse(as_chars(opened->view())));
    if (signer.verifier().encode() != newest->key || signer.name != report.origin)
        return integrity_error(name + " is not the key the audit log activated");
    std::string enc = signer.encode() + "\n";
    Status st = write_new_file(m_cfg.key_path, as_bytes(enc), 0600);
    secure_wipe(enc.data(), enc.size());
    TRY(st);
    return true;
}

Result<std::string> Journal::current_verifier_key() {
    auto text = read_secret_file(m_cfg.key_path);
    if (!text.ok()) {
        if (text.status().code() == Code::not_found) return std::string();
        return text.status();
    }
    TRY_ASSIGN(Signer s, Signer::parse(key_text(*text)));
    return s.verifier().encode();
}

Result<size_t> reseal_audit_keys(store::Store& store, const std::string& repo_id,
                                 ByteView old_private, ByteView new_public) {
    TRY_ASSIGN(auto objects, store.list("audit/"));
    std::string context_text = std::string(k_key_context) + repo_id;
    ByteView context = as_bytes(context_text);
    size_t resealed = 0;
    for (const auto& o : objects) {
        if (o.name.size() < 7 || o.name.compare(o.name.size() - 7, 7, ".sealed") != 0 ||
            o.name.find("/keys/") == std::string::npos)
            continue;
        TRY_ASSIGN(Bytes sealed, store.get(o.name));
        auto opened = crypto::open_sealed(old_private, sealed, context);
        if (!opened.ok()) continue;
        TRY_ASSIGN(Bytes again, crypto::seal_to(new_public, opened->view(), context));
        TRY(store.put(o.name, again, store::PutMode::overwrite));
        ++resealed;
    }
    return resealed;
}

}  // namespace coffer::audit
