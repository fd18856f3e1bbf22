#include "coffer/util/file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace coffer {

Status fsync_dir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_status("open directory " + dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0 && err != EINVAL) return errno_status("fsync directory " + dir, err);
    return ok_status();
}

namespace {

std::string parent_dir(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

Status write_and_sync(int fd, ByteView data, const std::string& path) {
    TRY(write_all(fd, data, path));
    if (::fsync(fd) != 0) return errno_status("fsync " + path, errno);
    return ok_status();
}

template <typename Buffer>
Result<Buffer> read_into(const std::string& path, size_t limit) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_status("open " + path, errno);
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        return errno_status("stat " + path, err);
    }
    if (static_cast<uint64_t>(st.st_size) > limit) {
        ::close(fd);
        return invalid_argument(path + " is too large (" + std::to_string(st.st_size) + " bytes)");
    }
    Buffer out(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::read(fd, out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            ::close(fd);
            return errno_status("read " + path, err);
        }
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    return out;
}

}  // namespace

Status write_all(int fd, ByteView data, const std::string& what) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_status("write " + what, errno);
        }
        if (n == 0) return io_error("write " + what + ": wrote 0 bytes");
        done += static_cast<size_t>(n);
    }
    return ok_status();
}

Result<Bytes> read_file(const std::string& path) {
    return read_into<Bytes>(path, 1ull << 34);
}

Result<SecretBytes> read_secret_file(const std::string& path) {
    return read_into<SecretBytes>(path, 1 << 20);
}

Status write_new_file(const std::string& path, ByteView data, unsigned mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        int err = errno;
        if (err == EEXIST)
            return already_exists(path + " already exists; refusing to overwrite it");
        return errno_status("create " + path, err);
    }
    fchmod(fd, mode);  // umask must not widen or narrow what the caller asked for
    Status st = write_and_sync(fd, data, path);
    ::close(fd);
    if (!st.ok()) {
        ::unlink(path.c_str());
        return st;
    }
    return fsync_dir(parent_dir(path));
}

Status write_file_atomic(const std::string& path, ByteView data, unsigned mode) {
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd) rnd = static_cast<uint64_t>(getpid());
    std::string tmp = path + ".tmp-" + std::to_string(rnd);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return errno_status("create " + tmp, errno);
    fchmod(fd, mode);
    Status st = write_and_sync(fd, data, tmp);
    ::close(fd);
    if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
        st = errno_status("rename " + tmp + " to " + path, errno);
    if (!st.ok()) {
        ::unlink(tmp.c_str());
        return st;
    }
    return fsync_dir(parent_dir(path));
}

Status make_dirs(const std::string& path, unsigned mode) {
    if (path.empty()) return ok_status();
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return ok_status();
        return invalid_argument(path + " exists and is not a directory");
    }
    std::string parent = parent_dir(path);
    if (parent != path) TRY(make_dirs(parent, mode));
    if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
        return errno_status("create directory " + path, errno);
    return ok_status();
}

}  // namespace coffer
