#include "coffer/util/staging.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

namespace coffer {

namespace fs = std::filesystem;

namespace {

// remove_all, and where it is refused because a restored directory is read-only (0555, as a
// module cache has), again after giving every directory below path its owner's rwx. Never
// follows a symlink: recursive_directory_iterator does not, and permissions() is not asked
// to change a symlink's target.
bool remove_tree(const std::string& path) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (!ec) return true;
    for (auto it = fs::recursive_directory_iterator(
             path, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        std::error_code ignored;
        if (it->is_directory(ignored) && !it->is_symlink(ignored))
            fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ignored);
    }
    ec.clear();
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
    return !ec;
}

}  // namespace

Result<StagingDir> StagingDir::create(const std::string& parent, const std::string& prefix) {
    // A sweep in another process may lock a directory made here before this locks it (and then
    // remove it): that name is lost, and another one is made.
    int e = 0;
    std::string tmpl;
    for (int attempt = 0; attempt < 5; ++attempt) {
        tmpl = parent + "/" + prefix + "XXXXXX";
        if (!mkdtemp(tmpl.data()))
            return errno_status("create staging directory in " + parent, errno);
        int fd = ::open(tmpl.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0) return StagingDir(std::move(tmpl), fd);
        e = errno;
        if (fd >= 0) ::close(fd);
        if (e != EWOULDBLOCK && e != ENOENT) break;
    }
    return errno_status("lock staging directory " + tmpl, e);
}

StagingDir::StagingDir(StagingDir&& other) noexcept
    : m_path(std::move(other.m_path)), m_fd(other.m_fd) {
    other.m_fd = -1;
}

StagingDir& StagingDir::operator=(StagingDir&& other) noexcept {
    if (this != &other) {
        release();
        m_path = std::move(other.m_path);
        m_fd = other.m_fd;
        other.m_fd = -1;
    }
    return *this;
}

StagingDir::~StagingDir() {
    release();
}

void StagingDir::release() {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
}

void StagingDir::remove() {
    if (!m_path.empty()) remove_tree(m_path);
    release();
}

Result<int> sweep_staging(const std::string& parent, const std::string& prefix) {
    DIR* d = ::opendir(parent.c_str());
    if (!d) {
        if (errno == ENOENT) return 0;
        return errno_status("list " + parent, errno);
    }
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0)
            names.push_back(name);
        errno = 0;
    }
    int read_errno = errno;
    ::closedir(d);
    if (read_errno != 0) return errno_status("list " + parent, read_errno);
    int removed = 0;
    for (const auto& name : names) {
        std::string path = parent + "/" + name;
        int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;  // gone already, or not a directory of ours
        struct stat locked {
        }, named{};
        // Holding the lock while removing: a live owner could never have lost it. The name
        // must still be the directory locked, not one renamed over it since.
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &locked) == 0 &&
            ::lstat(path.c_str(), &named) == 0 && locked.st_dev == named.st_dev &&
            locked.st_ino == named.st_ino && remove_tree(path))
            removed++;
        // What cannot be removed stays: it is a directory of the caller's, named as staging,
        // and the caller's own checks see it (a target that is not empty, say).
        ::close(fd);
    }
    return removed;
}

}  // namespace coffer
