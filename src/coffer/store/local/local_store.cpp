#include "coffer/store/local/local_store.h"
#include "coffer/util/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <span>
#include <utility>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

namespace coffer::store {

namespace {

constexpr std::string_view kTempPrefix = ".tmp-";

int64_t mtime_ns(const struct stat& st) {
    return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

bool is_temp_name(std::string_view component) {
    return component.starts_with(kTempPrefix);
}

// Closes a file descriptor on scope exit unless released.
class Fd {
public:
    explicit Fd(int fd = -1) : m_fd(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const { return m_fd; }
    int release() { return std::exchange(m_fd, -1); }
    void reset(int fd = -1) {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = fd;
    }

private:
    int m_fd;
};

// Closes a DIR* on scope exit.
class Dir {
public:
    explicit Dir(DIR* d) : m_d(d) {}
    Dir(const Dir&) = delete;
    Dir& operator=(const Dir&) = delete;
    ~Dir() {
        if (m_d) ::closedir(m_d);
    }
    DIR* get() const { return m_d; }

private:
    DIR* m_d;
};

// 16 random hex characters for temp file names. getrandom(2) is thread-safe and needs no
// crypto library; if it is unavailable, a counter mixed with the clock is still unique enough
// because the temp file is created with O_EXCL and retried on collision.
std::string random_hex() {
    uint8_t buf[8];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t n = ::getrandom(buf + got, sizeof buf - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    if (got < sizeof buf) {
        static std::atomic<uint64_t> counter{0};
        uint64_t v =
            counter.fetch_add(1) ^
            static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
            (static_cast<uint64_t>(::getpid()) << 40);
        for (size_t i = 0; i < sizeof buf; ++i) buf[i] = static_cast<uint8_t>(v >> (8 * i));
    }
    return to_hex(ByteView(buf, sizeof buf));
}

// "a/b/c" -> "a/b"; "c" -> "".
std::string_view parent_of(std::string_view name) {
    size_t slash = name.rfind('/');
    return slash == std::string_view::npos ? std::string_view{} : name.substr(0, slash);
}

// Reads exactly out.size() bytes at offset; Code::corruption if the file ends first.
Status pread_all(int fd, std::span<uint8_t> out, uint64_t offset, const std::string& path) {
    size_t done = 0;
    while (done < out.size()) {
        ssize_t n =
            ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_status("read " + path, errno);
        }
        if (n == 0) {
            return corruption("read " + path + ": unexpected end of file at offset " +
                              std::to_string(offset + done) + " (wanted " +
                              std::to_string(offset + out.size()) + " bytes)");
        }
        done += static_cast<size_t>(n);
    }
    return ok_status();
}

// Creates `path` and every missing parent with mode 0700, leaving the first `skip` characters
// (a directory known to exist) alone. Fsyncs the parent of each directory it created so the new
// entry is durable; with `sync_existing`, also of directories another thread may have just
// created and not yet synced. `path` is absolute or relative to the working directory.
Status make_dirs(const std::string& path, size_t skip, bool sync_existing) {
    size_t pos = skip;
    while (pos != std::string::npos && pos < path.size()) {
        pos = path.find('/', pos + 1);
        std::string dir = path.substr(0, pos);
        if (dir.empty() || dir.back() == '/') continue;  // "//" or a leading '/'
        bool created = ::mkdir(dir.c_str(), 0700) == 0;
        if (!created && errno != EEXIST) return errno_status("create directory " + dir, errno);
        if (created || sync_existing) {
            std::string parent = dir.substr(0, dir.rfind('/') + 1);
            TRY(fsync_dir(parent.empty() ? "." : parent));
        }
    }
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return errno_status("stat " + path, errno);
    if (!S_ISDIR(st.st_mode)) return errno_status("create directory " + path, ENOTDIR);
    return ok_status();
}

// Opens a regular file for reading; a directory or other non-file counts as not found.
Result<int> open_object(const std::string& path, struct stat& st) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        int err = errno;
        if (err == ENOTDIR) err = ENOENT;  // a parent component is a file
        return errno_status("open " + path, err);
    }
    if (::fstat(fd.get(), &st) != 0) return errno_status("stat " + path, errno);
    if (!S_ISREG(st.st_mode)) return not_found("open " + path + ": not a regular file");
    return fd.release();
}

}  // namespace

Result<std::unique_ptr<LocalStore>> LocalStore::open(std::string root) {
    if (root.empty()) return invalid_argument("store directory path is empty");
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    struct stat st;
    if (::stat(root.c_str(), &st) != 0) return errno_status("open store " + root, errno);
    if (!S_ISDIR(st.st_mode)) {
        return invalid_argument("open store " + root + ": not a directory");
    }
    return std::unique_ptr<LocalStore>(new LocalStore(std::move(root)));
}

Result<std::unique_ptr<LocalStore>> LocalStore::create(std::string root) {
    if (root.empty()) return invalid_argument("store directory path is empty");
    TRY(make_dirs(root, 0, false));
    return open(std::move(root));
}

std::string LocalStore::path_of(std::string_view name) const {
    std::string path = m_root;
    if (path.back() != '/') path += '/';
    path += name;
    return path;
}

Status LocalStore::check_name(std::string_view name) {
    TRY(validate_name(name));
    size_t start = 0;
    while (start <= name.size()) {
        size_t end = name.find('/', start);
        if (end == std::string_view::npos) end = name.size();
        if (is_temp_name(name.substr(start, end - start))) {
            return invalid_argument("invalid object name \"" + std::string(name) +
                                    "\": components starting with \".tmp-\" are reserved for "
                                    "temporary files");
        }
        start = end + 1;
    }
    return ok_status();
}

Status LocalStore::put(std::string_view name, ByteView data, PutMode mode) {
    TRY(check_name(name));
    const std::string path = path_of(name);
    const std::string dir = path_of(parent_of(name));

    // Create the temp file beside the final name; create missing directories only when the
    // first attempt says they are missing (the common case pays no extra syscalls).
    std::string tmp;
    Fd fd;
    bool made_dirs = false;
    for (int attempt = 0; attempt < 8 && fd.get() < 0; ++attempt) {
        tmp = dir;
        if (tmp.back() != '/') tmp += '/';
        tmp += std::string(kTempPrefix) + random_hex();
        fd.reset(::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
        if (fd.get() >= 0) break;
        int err = errno;
        if (err == EEXIST || err == EINTR) continue;
        if (err == ENOENT && !made_dirs) {
            made_dirs = true;
            TRY(make_dirs(dir, m_root.size(), true).with_context("put " + path));
            continue;
        }
        return errno_status("put " + path + ": create temporary file " + tmp, err);
    }
    if (fd.get() < 0) return io_error("put " + path + ": could not create a temporary file");

    auto fail = [&](Status st) {
        fd.reset();
        ::unlink(tmp.c_str());
        return st;
    };
    if (Status st = write_all(fd.get(), data, tmp); !st.ok()) {
        return fail(st.with_context("put " + path));
    }
    if (::fsync(fd.get()) != 0) return fail(errno_status("put " + path + ": fsync " + tmp, errno));
    if (::close(fd.release()) != 0) {
        return fail(errno_status("put " + path + ": close " + tmp, errno));
    }

    if (mode == PutMode::overwrite) {
        if (::rename(tmp.c_str(), path.c_str()) != 0) {
            return fail(errno_status("put " + path + ": rename", errno));
        }
    } else {
        int rc = -1;
        int err = ENOSYS;
#ifdef SYS_renameat2
        rc = static_cast<int>(::syscall(SYS_renameat2, AT_FDCWD, tmp.c_str(), AT_FDCWD,
                                        path.c_str(), RENAME_NOREPLACE));
        err = rc == 0 ? 0 : errno;
#endif
        if (rc != 0 && (err == EINVAL || err == ENOSYS)) {
            // No RENAME_NOREPLACE here: link() fails with EEXIST just as atomically.
            rc = ::link(tmp.c_str(), path.c_str());
            err = rc == 0 ? 0 : errno;
            ::unlink(tmp.c_str());
        }
        if (rc != 0) {
            if (err == EEXIST) return fail(already_exists("put " + path + ": object exists"));
            return fail(errno_status("put " + path + ": rename", err));
        }
    }
    // The object is in place; make the directory entry durable. If this fails the object may
    // or may not survive a crash, so the put is reported as failed (but the object stays).
    return fsync_dir(dir).with_context("put " + path);
}

Result<Bytes> LocalStore::get(std::string_view name) {
    TRY(check_name(name));
    const std::string path = path_of(name);
    struct stat st;
    TRY_ASSIGN(int raw_fd, open_object(path, st));
    Fd fd(raw_fd);
    Bytes out(static_cast<size_t>(st.st_size));
    TRY(pread_all(fd.get(), out, 0, path));
    return out;
}

Result<Bytes> LocalStore::get_range(std::string_view name, uint64_t offset, uint64_t length) {
    TRY(check_name(name));
    const std::string path = path_of(name);
    struct stat st;
    TRY_ASSIGN(int raw_fd, open_object(path, st));
    Fd fd(raw_fd);
    const auto size = static_cast<uint64_t>(st.st_size);
    if (offset > size || length > size - offset) {
        return corruption("read " + path + ": range " + std::to_string(offset) + "+" +
                          std::to_string(length) + " is past the end of the " +
                          std::to_string(size) + "-byte object");
    }
    Bytes out(static_cast<size_t>(length));
    TRY(pread_all(fd.get(), out, offset, path));
    return out;
}

Result<ObjectInfo> LocalStore::stat(std::string_view name) {
    TRY(check_name(name));
    const std::string path = path_of(name);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        int err = errno == ENOTDIR ? ENOENT : errno;
        return errno_status("stat " + path, err);
    }
    if (!S_ISREG(st.st_mode)) return not_found("stat " + path + ": not a regular file");
    return ObjectInfo{std::string(name), static_cast<uint64_t>(st.st_size), mtime_ns(st)};
}

Status LocalStore::remove(std::string_view name) {
    TRY(check_name(name));
    const std::string path = path_of(name);
    if (::unlink(path.c_str()) != 0) {
        int err = errno;
        // A directory or a path through a file is not an object.
        if (err == EISDIR || err == ENOTDIR) err = ENOENT;
        return errno_status("remove " + path, err);
    }
    return fsync_dir(path_of(parent_of(name))).with_context("remove " + path);
}

// Appends every object in the directory `dirfd` (whose store-relative name is `rel`, empty or
// ending in '/') whose entry name starts with `partial`; recurses into subdirectories.
Status LocalStore::walk(int dirfd, const std::string& rel, std::string_view partial,
                        std::vector<ObjectInfo>& out) const {
    Dir dir(::fdopendir(dirfd));
    if (!dir.get()) {
        int err = errno;
        ::close(dirfd);
        return errno_status("list " + path_of(rel), err);
    }
    while (true) {
        errno = 0;
        struct dirent* e = ::readdir(dir.get());
        if (!e) {
            if (errno != 0) return errno_status("list " + path_of(rel), errno);
            break;
        }
        std::string_view entry = e->d_name;
        if (entry == "." || entry == ".." || is_temp_name(entry)) continue;
        if (!entry.starts_with(partial)) continue;
        struct stat st;
        if (::fstatat(::dirfd(dir.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;  // removed concurrently
            return errno_status("list: stat " + path_of(rel + std::string(entry)), errno);
        }
        if (S_ISLNK(st.st_mode)) {
            // Symlinked files count as objects (get() follows them); symlinked directories are
            // not descended into, which rules out cycles.
            if (::fstatat(::dirfd(dir.get()), e->d_name, &st, 0) != 0) {
                if (errno == ENOENT) continue;  // dangling
                return errno_status("list: stat " + path_of(rel + std::string(entry)), errno);
            }
            if (S_ISREG(st.st_mode)) {
                out.push_back(
                    {rel + std::string(entry), static_cast<uint64_t>(st.st_size), mtime_ns(st)});
            }
            continue;
        }
        if (S_ISREG(st.st_mode)) {
            out.push_back(
                {rel + std::string(entry), static_cast<uint64_t>(st.st_size), mtime_ns(st)});
        } else if (S_ISDIR(st.st_mode)) {
            int sub = ::openat(::dirfd(dir.get()), e->d_name,
                               O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
            if (sub < 0) {
                if (errno == ENOENT) continue;  // removed concurrently
                return errno_status("list " + path_of(rel + std::string(entry)), errno);
            }
            TRY(walk(sub, rel + std::string(entry) + "/", "", out));
        }
    }
    return ok_status();
}

Result<std::vector<ObjectInfo>> LocalStore::list(std::string_view prefix) {
    // Split "packs/ab/12" into the directory "packs/ab/" and the partial entry name "12".
    size_t slash = prefix.rfind('/');
    std::string rel =
        slash == std::string_view::npos ? "" : std::string(prefix.substr(0, slash + 1));
    std::string_view partial = prefix.substr(rel.size());
    if (!rel.empty()) TRY(check_name(std::string_view(rel).substr(0, rel.size() - 1)));
    if (partial.find('\0') != std::string_view::npos ||
        partial.find('\\') != std::string_view::npos) {
        return invalid_argument("invalid list prefix \"" + std::string(prefix) + "\"");
    }

    std::vector<ObjectInfo> out;
    const std::string dir = path_of(rel);
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        // No such directory (or a file in its place): nothing is stored under the prefix,
        // provided the store itself is still there.
        if (!rel.empty() && (err == ENOENT || err == ENOTDIR)) {
            struct stat st;
            if (::stat(m_root.c_str(), &st) != 0) return errno_status("list " + m_root, errno);
            return out;
        }
        return errno_status("list " + dir, err);
    }
    TRY(walk(fd, rel, partial, out));
    return out;
}

}  // namespace coffer::store
