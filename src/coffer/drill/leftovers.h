// What a drill makes outside its own process: the scratch directory, scratch databases and
// scratch prefixes. Each is written into a record before it is made, so that a drill that is
// killed (SIGKILL, OOM, a daemon stop) leaves a record, and the next drill removes what it names.
//
// The record is <records dir>/<id>.json, replaced atomically on every change, and <id>.lock is
// flock()ed while the drill runs. The records dir is the host's state directory for the
// repository, not $TMPDIR: a private /tmp (systemd's PrivateTmp) is gone after a stop, the
// databases it would have named are not. sweep() takes each record whose lock is free, checks
// that every entry still matches the config (the same source, type, drill server or drill_url,
// and a name of the drill's own form), removes what it names, and deletes the record; what it
// cannot remove stays recorded and is reported again by the next sweep. A record of a --keep
// drill is never swept. Not thread-safe; records of concurrent processes are kept apart by the
// locks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coffer/config/config.h"
#include "coffer/util/status.h"

namespace coffer::drill {

struct Sweep;

class Record {
public:
    // Creates and locks <dir>/<id>.lock and writes <dir>/<id>.json naming the scratch dir.
    static Result<std::unique_ptr<Record>> create(const std::string& dir, const std::string& id,
                                                  const std::string& set,
                                                  const std::string& scratch_dir, bool keep);
    ~Record();  // releases the lock; the record stays unless finish() removed it
    Record(const Record&) = delete;
    Record& operator=(const Record&) = delete;

    // Records a scratch database / prefix before the drill makes it.
    Status add_database(const config::SourceConfig& source, const std::string& name);
    Status add_prefix(const config::SourceConfig& source, const std::string& url);

    // Removes everything recorded (the databases, prefixes and scratch directory) and then the
    // record; returns one line per thing it could not remove, and then keeps the record.
    std::vector<std::string> remove_all(const config::SetConfig& set);
    // Deletes the record without removing anything (a --keep drill, cleaned up by the user).
    void forget();

private:
    friend Sweep sweep(const config::Config& config, const std::string& dir);
    // set: the set the record names, nullptr when the config no longer has it.
    std::vector<std::string> remove_recorded(const config::SetConfig* set);
    Record(std::string dir, std::string id, int lock_fd, nlohmann::json made)
        : m_dir(std::move(dir)), m_id(std::move(id)), m_lock_fd(lock_fd), m_made(std::move(made)) {}
    Status save() const;
    void unlink_files() const;

    std::string m_dir, m_id;
    int m_lock_fd = -1;
    nlohmann::json m_made;
};

// The scratch prefix a drill with this id fills for an s3 source: "<drill_url>/coffer-drill-<id>".
std::string scratch_prefix_url(const config::SourceConfig& source, const std::string& id);

struct Sweep {
    std::vector<std::string> removed;   // one line per interrupted drill cleaned up
    std::vector<std::string> problems;  // one line per thing left, and why
};

// Removes what interrupted drills recorded in dir (see the top of this file).
Sweep sweep(const config::Config& config, const std::string& dir);

}  // namespace coffer::drill
