#include "coffer/util/staging.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

namespace coffer {

Result<StagingDir> StagingDir::create(const std::string& parent, const std::string& prefix) {
    std::string tmpl = parent + "/" + prefix + "XXXXXX";
    if (!mkdtemp(tmpl.data())) return errno_status("create staging directory in " + parent, errno);
    int fd = ::open(tmpl.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (fd >= 0) ::close(fd);
        ::rmdir(tmpl.c_str());
        return errno_status("lock staging directory " + tmpl, e);
    }
    return StagingDir(std::move(tmpl), fd);
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
    std::error_code ec;
    if (!m_path.empty()) std::filesystem::remove_all(m_path, ec);
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
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
            // Holding the lock while removing: a live owner could never have lost it.
            std::error_code ec;
            std::filesystem::remove_all(path, ec);
            if (ec) {
                ::close(fd);
                return io_error("remove abandoned " + path + ": " + ec.message());
            }
            removed++;
        }
        ::close(fd);
    }
    return removed;
}

}  // namespace coffer
