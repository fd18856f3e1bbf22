// Staging directories: where work in progress is built before a rename makes it visible.
//
// A StagingDir is made with mkdtemp as <parent>/<prefix>XXXXXX and flock()ed (on a close-on-exec
// descriptor) for as long as the object lives. A process killed part-way leaves its staging
// directory behind, unlocked; sweep_staging() removes exactly those, and never one whose owner
// is still running, so two coffer processes can share a parent directory. Nothing follows a
// symlink: a swept entry must be a real directory. Not thread-safe; one object per owner.
#pragma once

#include <string>

#include "coffer/util/status.h"

namespace coffer {

class StagingDir {
public:
    // Creates and locks <parent>/<prefix>XXXXXX (mode 0700).
    static Result<StagingDir> create(const std::string& parent, const std::string& prefix);

    StagingDir(StagingDir&& other) noexcept;
    StagingDir& operator=(StagingDir&& other) noexcept;
    StagingDir(const StagingDir&) = delete;
    StagingDir& operator=(const StagingDir&) = delete;
    ~StagingDir();  // releases the lock; the directory stays unless remove() was called

    const std::string& path() const { return m_path; }
    // Removes the directory and everything in it (best effort), then releases the lock.
    void remove();
    // Releases the lock; for a directory that was renamed into place and is no longer staging.
    void release();

private:
    StagingDir(std::string path, int fd) : m_path(std::move(path)), m_fd(fd) {}
    std::string m_path;
    int m_fd = -1;
};

// Removes every <parent>/<prefix>* directory whose lock is free (its owner died), read-only
// directories inside it included; returns how many it removed. One it cannot remove stays,
// without an error. A parent that does not exist has none; one that cannot be listed fails.
Result<int> sweep_staging(const std::string& parent, const std::string& prefix);

}  // namespace coffer
