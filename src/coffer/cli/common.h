// Shared plumbing for the command-line commands: global options, opening the repository with
// the right keys, output in text or JSON, progress lines, and the exit-code table.
// Used from the main thread only.
#pragma once

#include <CLI/CLI.hpp>
#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "coffer/audit/journal.h"
#include "coffer/backup/backup.h"
#include "coffer/config/config.h"
#include "coffer/prune/prune.h"
#include "coffer/repo/locks.h"
#include "coffer/repo/recovery_share.h"
#include "coffer/repo/repository.h"
#include "coffer/s3/client.h"
#include "coffer/store/store.h"

namespace coffer::cli {

// The tag of the snapshot a destructive set restore takes of the state it replaces. Such a
// snapshot is never "the latest" of its set, nor "the newest before T", nor the previous one a
// shrink check compares with: after a restore killed part-way, running it again must restore
// the backup that was asked for, not the half-replaced state. It is chosen only by its id.
inline constexpr const char* k_safety_tag = "safety-snapshot";
inline bool is_safety_snapshot(const repo::Snapshot& s) {
    return std::find(s.tags.begin(), s.tags.end(), k_safety_tag) != s.tags.end();
}

// Exit codes, documented in docs/cli.md. Stable: scripts depend on them.
enum ExitCode : int {
    k_exit_ok = 0,
    k_exit_failure = 1,     // I/O, internal and other failures
    k_exit_usage = 2,       // bad arguments or input
    k_exit_incomplete = 3,  // backup saved, but some source files could not be read
    k_exit_not_found = 4,   // no repository, snapshot or file
    k_exit_integrity = 5,   // verify found problems; damaged or tampered objects
    k_exit_key = 6,         // wrong, missing or unusable key
    k_exit_exists = 7,      // refusing to overwrite
    k_exit_locked = 8,      // another process holds a lock (a prune while backups run)
};

int exit_code_for(const Status& status);

struct GlobalOptions {
    std::string config;  // coffer.toml; supplies repo, host key and recovery key file defaults
    std::string repo;
    std::string host_key;
    std::string recovery_key_file;
    // --recovery-share FILE, repeated: K share files stand in for the recovery key file.
    std::vector<std::string> recovery_shares;
    // A recovery key rotated out (repo/rotation.h): read packs still sealed to it.
    std::string previous_recovery_key_file;
    // --previous-recovery-share FILE, repeated: K shares of that key stand in for the file.
    std::vector<std::string> previous_recovery_shares;
    // --file on verify, restore and ls: a backup file (archive/archive.h) stands in for the
    // repository, and this host's key (of some repository, or none) is not used to read it.
    std::string backup_file;
    bool json = false;
    bool quiet = false;
    unsigned threads = 0;
    // For s3: repositories; credentials and region from [repository] in the config file, the
    // rest of the way from AWS_* in the environment (see s3/client.h).
    s3::Options s3;
    // What the command tells the audit log about itself (cmd_audit.cpp writes the entry when
    // the command returns): a target, and details such as bytes, counts and durations. Never a
    // secret.
    struct {
        std::string action;  // when not the command's name (a subcommand: "drill-canary")
        std::string target;
        nlohmann::json details = nlohmann::json::object();
        bool recorded = false;  // the command wrote its own entry
    } audit;
};

// Default host key path: $XDG_CONFIG_HOME/coffer/host.key, ~/.config/coffer/host.key, or
// /etc/coffer/host.key for root.
std::string default_host_key_path();

// Loads the config file (--config, COFFER_CONFIG, else /etc/coffer/coffer.toml) and fills in
// the repository, host key, recovery key file and cache directory where the command line and
// environment left them empty.
Result<config::Config> load_config(GlobalOptions& g);
// The same, only when a config file was named: commands that also work without one.
Status apply_config_if_given(GlobalOptions& g);

// The store at g.repo: a local directory, or an S3 bucket for "s3:http(s)://host/bucket/prefix";
// the backup file instead when g.backup_file is set.
Result<std::shared_ptr<store::Store>> open_store(GlobalOptions& g);
// The store at g.repo, even when a backup file is being read (the audit log's home).
Result<std::shared_ptr<store::Store>> open_repository_store(GlobalOptions& g);
// For init: the S3 store at g.repo, creating its bucket when missing.
Result<std::shared_ptr<store::Store>> create_s3_store(GlobalOptions& g);

enum class KeyNeed { host, host_or_recovery, recovery };

struct OpenedRepo {
    std::shared_ptr<store::Store> store;
    std::unique_ptr<repo::Repository> repo;
    std::optional<repo::HostKey> host;
    std::optional<repo::RecoveryKey> recovery;
};

// Loads the keys the command needs and opens the repository. With KeyNeed::host the host key
// must exist; with host_or_recovery either will do (both when available); with recovery the
// recovery key is required and the host key used when present.
Result<OpenedRepo> open_repository(GlobalOptions& g, KeyNeed need);
// None when reading a backup file (g.backup_file).
Result<std::optional<repo::HostKey>> load_host_key_if_present(const GlobalOptions& g);
// This host's key, backup file or not (the audit log is written with it).
Result<std::optional<repo::HostKey>> load_own_host_key(const GlobalOptions& g);
// A host key issued before a recovery key rotation (repo/rotation.h): moves host to the
// config's keys along the signed statements and rewrites its file (the path load_own_host_key
// reads) in place, 0600. False when it records the config's keys already.
Result<bool> follow_rotation_in_key_file(const GlobalOptions& g, store::Store& store,
                                         const repo::RepoConfig& config, repo::HostKey& host);
// The recovery key from --recovery-key-file, or combined from the --recovery-share files (not
// both); none when neither is given.
Result<std::optional<repo::RecoveryKey>> load_recovery_key_if_given(const GlobalOptions& g);
// The rotated-out key from --previous-recovery-key-file or its --previous-recovery-share files
// (not both); none when neither is given.
Result<std::optional<repo::RecoveryKey>> load_previous_recovery_key_if_given(
    const GlobalOptions& g);
// Whether a previous recovery key was given, as a file or as shares.
inline bool previous_recovery_key_given(const GlobalOptions& g) {
    return !g.previous_recovery_key_file.empty() || !g.previous_recovery_shares.empty();
}
// Code::wrong_key when key is not the repository's, worded for shares when they were given.
Status check_recovery_key(const GlobalOptions& g, const repo::RecoveryKey& key,
                          const repo::RepoConfig& config);
// The same, also accepting a key a rotation replaced while packs sealed to it remain
// (repo/rotation.h: it reads them).
Status check_recovery_key_role(const GlobalOptions& g, store::Store& store,
                               const repo::RecoveryKey& key, const repo::RepoConfig& config);
// Recovery shares (cmd_key.cpp): write_share_files() puts each in <dir>/share-I-of-N.txt (0600,
// dir 0700), all or none, refusing existing files; print_shares() reports them, or prints the
// shares themselves when paths is empty.
Result<std::vector<std::string>> write_share_files(const std::vector<repo::RecoveryShare>& shares,
                                                   const std::string& dir,
                                                   const std::string& repository_id);
void print_shares(const GlobalOptions& g, const std::vector<repo::RecoveryShare>& shares,
                  const std::vector<std::string>& paths, const std::string& repository_id,
                  const nlohmann::json& extra = nlohmann::json::object());
// A passphrase for what (a file's path): from the file COFFER_PASSPHRASE_FILE names, else
// COFFER_PASSPHRASE, else asked on the terminal without echo (twice with confirm). Never logged.
Result<SecretBytes> ask_passphrase(const std::string& what, bool confirm);
// Moves COFFER_PASSPHRASE out of the environment into memory ask_passphrase() reads, once at
// startup.
void take_passphrase_from_environment();
// How to pass the recovery key, for "needs the recovery key" messages.
inline constexpr const char* k_recovery_key_hint =
    "pass --recovery-key-file (or set COFFER_RECOVERY_KEY_FILE), or K share files with "
    "--recovery-share FILE, once each";

// The daemon's state directory when the config names none: /var/lib/coffer for root, else
// $XDG_STATE_HOME/coffer or ~/.local/state/coffer.
std::string default_daemon_state_dir();

// Newest snapshot and snapshot count per backup set ("" for plain path backups).
struct SetSnapshots {
    std::optional<int64_t> newest_ns;
    uint64_t count = 0;
};
Result<std::map<std::string, SetSnapshots>> snapshots_by_set(repo::Repository& repository);

// Where this host keeps its disposable state for a repository (file cache, last snapshot).
std::string state_dir(const repo::Repository& repo);
// The newest snapshot this host wrote, as recorded in <state dir>/latest by backups; empty
// when there is no record.
std::string remembered_latest(const std::string& state_dir);

// An exclusive flock on <state dir>/lock, held while this host key writes a snapshot: the
// snapshot sequence chain allows one writer per host key at a time (two cron jobs would
// otherwise take the same sequence number). Waits, saying so, if another run holds it.
class HostLock {
public:
    static Result<std::unique_ptr<HostLock>> acquire(const std::string& state_dir, bool quiet);
    ~HostLock();

private:
    int m_fd = -1;
};

// Prints an error line ("coffer: <message>") and returns the exit code for it. The message is
// kept for the command's audit entry (last_error()).
int fail(const Status& status);
const std::string& last_error();

// The audit log (cmd_audit.cpp). audit_now() appends one entry at once, durably, for a command
// that must not go on unless its intent is recorded (a destructive restore); audit_command()
// records the command that just ran, from g.audit and its exit code, and warns on stderr if it
// cannot. Both need the host key: it names the log.
Status audit_now(GlobalOptions& g, const std::string& action, const std::string& outcome,
                 const nlohmann::json& details);
void audit_command(GlobalOptions& g, const std::string& action, int exit_code);
// An entry on behalf of someone else than the OS user (the API's users: "alice via api").
Status audit_as(GlobalOptions& g, const std::string& actor, const std::string& action,
                const std::string& target, const std::string& outcome,
                const nlohmann::json& details);
// The journal of this host's key (g's host key file), replicating into g.repo only when that
// is the key's repository (with_store).
Result<audit::Journal> open_journal(GlobalOptions& g, bool with_store);
// This host's audit entries with the given action, oldest first (empty without a log).
std::vector<nlohmann::json> audit_entries(GlobalOptions& g, const std::string& action);
// The drills recorded in this host's audit log (each the drill's JSON) by set, oldest first.
std::map<std::string, std::vector<nlohmann::json>> drills_by_set(GlobalOptions& g);
void print_json(const nlohmann::json& j);

// A progress line on stderr that rewrites itself, only when stderr is a terminal. With
// COFFER_PROGRESS_FILE set (by `coffer serve` for a job an API client polls), the newest line
// is also kept in that file, replaced whole at most twice a second, whatever the output mode.
class ProgressLine {
public:
    explicit ProgressLine(bool enabled);
    // Whether update() shows or keeps anything: when not, callers need not compute progress
    // (a backup then skips the scan that counts the totals).
    bool wanted() const { return m_enabled || !m_file.empty(); }
    ~ProgressLine() { finish(); }
    void update(const std::string& text);
    void finish();

private:
    bool m_enabled;
    bool m_dirty = false;
    std::string m_file;
    int64_t m_file_written_ns = 0;
};

std::string human_bytes(uint64_t bytes);
std::string human_duration(double seconds);
// "12 files, 3.4 MiB of 10 MiB, 1.1 MiB/s, ETA 0:07"
std::string progress_text(double elapsed, uint64_t files, uint64_t files_total, uint64_t bytes,
                          uint64_t bytes_total, bool totals_final);

// Lock timings for leases and the prune lock (repo/locks.h). COFFER_LOCK_STALE_AFTER and
// COFFER_LOCK_WAIT (durations, e.g. "30m") override the defaults; notices go to stderr
// unless quiet or JSON.
repo::LockOptions lock_options(const GlobalOptions& g, std::string purpose);

// Runs a backup with the progress line (unless quiet or JSON), under this host's lock and a
// lease in the repository's locks/ (so that prune keeps off what it may deduplicate against).
Result<backup::Outcome> run_backup_engine(const GlobalOptions& g, repo::Repository& repository,
                                          backup::Options& options);

// Each command registers itself on the app with the shared options and an action.
void register_init(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_backup(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_snapshots(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_ls(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_restore(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_verify(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_config(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_diff(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_mirror(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_forget(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_prune(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_serve(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_status(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_audit(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_drill(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_key(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_export(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_recover(CLI::App& app, GlobalOptions& g, int& exit_code);
void register_user(CLI::App& app, GlobalOptions& g, int& exit_code);  // user and token
// key add-host|list|revoke-host (cmd_key_hosts.cpp), under the key command.
void register_key_hosts(CLI::App* key, GlobalOptions& g, int& exit_code);
void register_key_rotate(CLI::App* key, GlobalOptions& g, int& exit_code);

// Backup sets (cmd_set.cpp): `backup --set` and `restore --set`.
struct SetRestoreArgs {
    std::string set;
    std::string snapshot;  // id or prefix; empty: --latest / --before
    std::string before;    // RFC 3339
    std::vector<std::string> sources;
    std::string confirm;
    std::string target;         // non-destructive: every source under target/<source name>
    std::string into_database;  // non-destructive: the postgres source into this new database
    std::string into_bucket;    // non-destructive: the s3 source into this empty bucket/prefix
    bool no_safety_snapshot = false;
};
// coffer prune (cmd_prune.cpp), also run by forget --prune.
struct PruneArgs {
    bool dry_run = false;
    std::string max_unused = "20%";
    std::string grace = "1h";
};
int run_prune(GlobalOptions& g, const PruneArgs& args);
// The same without output: under the prune lock (unless a dry run).
Result<prune::Report> prune_repository(GlobalOptions& g, const PruneArgs& args);
nlohmann::json prune_report_json(const prune::Report& report);
void print_prune_report(const prune::Report& report, const PruneArgs& args);

int run_backup_set(GlobalOptions& g, const std::string& set, const std::vector<std::string>& tags);
int run_restore_set(GlobalOptions& g, const SetRestoreArgs& args);

// Entry point: parses argv, runs the command, returns the process exit code. Never throws.
int run(int argc, char** argv);

}  // namespace coffer::cli
