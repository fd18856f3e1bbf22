// Helpers for the end-to-end tests: run the real coffer binary (fork/exec, no shell), temp
// directories, file trees and their comparison.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace coffer::e2e {

// ---- processes -------------------------------------------------------------------------------

struct RunResult {
    int exit_code = -1;  // 128 + signal number when the process was killed
    std::string out, err;
    // Both streams and the exit code, for assertion messages.
    std::string describe() const;
    // stdout parsed as JSON; a discarded value (is_discarded()) when it does not parse.
    nlohmann::json json() const;
    // True when stderr is exactly one line, "coffer: ...\n".
    bool one_line_error() const;
};

struct RunOptions {
    // Variables to set (a value) or remove (nullopt), on top of a sanitized environment: the
    // parent's, minus every COFFER_* / XDG_* variable, with HOME pointing at a scratch dir.
    std::map<std::string, std::optional<std::string>> env;
    // Run as this user and group (the caller must be root).
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::string cwd;          // working directory of the child, when not empty
    bool stderr_tty = false;  // stderr on a pseudo-terminal (to see progress output)
    int timeout_s = 60;
    int kill_after_ms = 0;  // when > 0: SIGKILL the child then (exit code 137 if it was running)
    // When > 0: SIGTERM the child then, and keep reading its output until it exits (SIGKILL
    // after timeout_s as always).
    int term_after_ms = 0;
    // When set: polled every 100 ms while the child runs (from the calling thread); once it
    // returns true the child gets SIGTERM, as with term_after_ms.
    std::function<bool()> term_when;
    // The child's standard input (at most 64 KiB); /dev/null when empty.
    std::string stdin_data;
};

RunResult run_process(const std::string& exe, const std::vector<std::string>& args,
                      const RunOptions& options = {});

// The binary under test, from $COFFER_BIN.
std::string coffer_bin();

// A port that was free a moment ago on 127.0.0.1.
int free_port();
// Each line of out that parses as JSON (a daemon's log).
std::vector<nlohmann::json> json_lines(const std::string& out);

// ---- text ------------------------------------------------------------------------------------

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// s as a TOML basic string, quoted, for writing config files.
inline std::string toml(const std::string& s) {
    std::string out = "\"";
    for (char c : s) out += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
    return out + "\"";
}

// ---- files -----------------------------------------------------------------------------------

// A fresh directory whose name contains a space, removed (with read-only parts) at destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return m_path; }
    std::string operator/(const std::string& name) const { return m_path + "/" + name; }

private:
    std::string m_path;
};

void write_file(const std::string& path, const std::string& content, unsigned mode = 0644);
std::string read_file(const std::string& path);
void make_dir(const std::string& path, unsigned mode = 0755);
void set_mode(const std::string& path, unsigned mode);
void set_mtime(const std::string& path, int64_t sec, long nsec);  // does not follow symlinks
bool exists(const std::string& path);                             // lstat
void force_remove_all(const std::string& path);
void copy_tree(const std::string& from, const std::string& to);
void chown_tree(const std::string& path, uid_t uid, gid_t gid);

// Deterministic pseudo-random bytes (mt19937_64 seeded with seed).
std::string prng_bytes(size_t n, uint64_t seed);
// Non-deterministic lowercase hex, 2*n_bytes digits.
std::string random_hex(size_t n_bytes);

// Regular files below root (recursive), as paths relative to root.
std::vector<std::string> list_files(const std::string& root);
// Path -> size of every regular file below root.
std::map<std::string, uint64_t> file_sizes(const std::string& root);
// file_sizes without audit/: the objects that hold backups, which a failed command must leave
// as they were (its audit entry is meant to be written).
std::map<std::string, uint64_t> data_file_sizes(const std::string& root);
uint64_t total_size(const std::string& root);
// Number of entries directly inside dir; -1 when dir does not exist.
int count_entries(const std::string& dir);

// ---- trees -----------------------------------------------------------------------------------

struct Entry {
    char type = '?';  // 'f' file, 'd' directory, 'l' symlink
    unsigned mode = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    int64_t mtime_ns = 0;
    std::string content;  // file contents or symlink target
};
// Everything below root, keyed by path relative to root ("" is root itself).
using Manifest = std::map<std::string, Entry>;
Manifest scan_tree(const std::string& root);
// A human-readable list of differences; empty when the trees match.
std::string diff_manifests(const Manifest& expected, const Manifest& actual);

// Printable form of a path with control characters escaped.
std::string printable(const std::string& s);

// ---- a repository under test -----------------------------------------------------------------

enum class Keys { none, host, recovery, both };

// A repository, its key files and a host cache dir, all inside base.
class Repo {
public:
    explicit Repo(const std::string& base, const std::string& name = "repo");
    // coffer init with --recovery-key-out; asserts success.
    void init() const;
    // Runs coffer with --repo and the requested keys in front of args.
    RunResult run(const std::vector<std::string>& args, Keys keys = Keys::host,
                  RunOptions options = {}) const;
    // backup PATH... --json; asserts exit 0 and returns the parsed output.
    nlohmann::json backup(const std::vector<std::string>& args) const;
    // The environment every run gets (COFFER_CACHE_DIR, HOME).
    std::map<std::string, std::optional<std::string>> base_env() const;

    std::string base, repo, host_key, recovery_key, cache_dir, home;
};

// coffer --config cfg ARGS... with repo's environment (plus o.env).
RunResult run_with_config(const Repo& repo, const std::string& cfg, std::vector<std::string> args,
                          RunOptions o = {});

// Where restore puts source path src below target.
inline std::string restored(const std::string& target, const std::string& src) {
    return target + src;
}

}  // namespace coffer::e2e
