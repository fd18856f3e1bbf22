#include "coffer/restore/staged_target.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <vector>

#include "coffer/util/crash_step.h"
#include "coffer/util/file.h"
#include "coffer/util/staging.h"

namespace coffer::restore {

namespace {

namespace fs = std::filesystem;

constexpr const char* k_inner_prefix = ".coffer-partial-";

struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

Result<std::vector<std::string>> list_names(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return errno_status("list " + dir, errno);
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
        errno = 0;
    }
    int e = errno;
    ::closedir(d);
    if (e != 0) return errno_status("list " + dir, e);
    return names;
}

Status not_empty(const std::string& target) {
    return invalid_argument("restore target " + target +
                            " is not empty: choose an empty directory or pass --overwrite");
}

// The staged tree's entries move up into target, which was empty: one rename each, refusing
// to replace anything that appeared meanwhile.
Status move_up(const std::string& target, const std::string& staging) {
    Fd tfd(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    Fd sfd(::open(staging.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (tfd.fd < 0 || sfd.fd < 0) return errno_status("open restore target " + target, errno);
    TRY_ASSIGN(auto names, list_names(staging));
    for (const auto& n : names) {
        if (::renameat2(sfd.fd, n.c_str(), tfd.fd, n.c_str(), RENAME_NOREPLACE) == 0) {
            crash_step("restore-moving-up");
            continue;
        }
        int e = errno;
        struct stat st {};
        if (e == EACCES && ::fstatat(sfd.fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode) && !(st.st_mode & S_IWUSR)) {
            // Moving a directory to another parent rewrites its "..": a read-only one (as
            // restored, not running as root) is made writable for the move, then put back.
            ::fchmodat(sfd.fd, n.c_str(), (st.st_mode & 07777) | S_IWUSR, 0);
            bool moved = ::renameat2(sfd.fd, n.c_str(), tfd.fd, n.c_str(), RENAME_NOREPLACE) == 0;
            e = errno;
            ::fchmodat(moved ? tfd.fd : sfd.fd, n.c_str(), st.st_mode & 07777, 0);
            if (moved) continue;
        }
        if (e == EEXIST) return not_empty(target);
        if (e != EINVAL || ::renameat(sfd.fd, n.c_str(), tfd.fd, n.c_str()) != 0)
            return errno_status("move restored " + n + " into " + target, e == EINVAL ? errno : e);
    }
    return ok_status();
}

Status fsync_target(const std::string& target) {
    Fd fd(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.fd < 0 || (fsync(fd.fd) != 0 && errno != EINVAL))
        return errno_status("fsync restore target " + target, errno);
    return ok_status();
}

std::string parent_of(const std::string& target) {
    fs::path p(target);
    return p.has_parent_path() ? p.parent_path().string() : ".";
}

// The staging name beside target; NAME_MAX leaves room for the prefix and mkdtemp's suffix.
std::string sibling_prefix(const std::string& target) {
    return "." + fs::path(target).filename().string().substr(0, 200) + ".coffer-partial-";
}

Result<Outcome> into_existing(const std::string& target,
                              const std::function<Result<Outcome>(const std::string&)>& run) {
    // One restore at a time per target: two would mix their trees, or leave a staging
    // directory beside a finished restore that looks like an interrupted one.
    Fd lock(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (lock.fd < 0) return errno_status("open restore target " + target, errno);
    if (::flock(lock.fd, LOCK_EX | LOCK_NB) != 0)
        return errno == EWOULDBLOCK
                   ? lock_held("another restore is writing into " + target + ": wait for it")
                   : errno_status("lock restore target " + target, errno);
    TRY_ASSIGN(auto names, list_names(target));
    std::string interrupted;
    bool others = false;
    for (const auto& n : names) {
        if (n.rfind(k_inner_prefix, 0) == 0 && interrupted.empty())
            interrupted = n;
        else
            others = true;
    }
    // A restore killed while its entries moved up left some of them beside its staging
    // directory: that is a half-restored target, and it keeps its marker until replaced.
    if (others && !interrupted.empty())
        return invalid_argument("restore target " + target + " holds an interrupted restore (" +
                                interrupted + "): empty it, or restore again with --overwrite");
    if (others) return not_empty(target);
    TRY(sweep_staging(target, k_inner_prefix).status());
    TRY_ASSIGN(names, list_names(target));
    if (!names.empty()) return not_empty(target);  // another restore is staging here

    // Beside the target when it is no mount point and its parent is writable: then the full
    // staging directory and the empty target trade places in one renameat2(RENAME_EXCHANGE),
    // and the restore is all or nothing. Inside it otherwise (a fresh volume's root).
    const std::string parent = parent_of(target);
    struct stat tst {
    }, pst{};
    const bool beside = ::stat(target.c_str(), &tst) == 0 && ::stat(parent.c_str(), &pst) == 0 &&
                        tst.st_dev == pst.st_dev && tst.st_ino != pst.st_ino &&
                        ::access(parent.c_str(), W_OK) == 0;
    if (beside) TRY(sweep_staging(parent, sibling_prefix(target)).status());
    TRY_ASSIGN(StagingDir staging, beside ? StagingDir::create(parent, sibling_prefix(target))
                                          : StagingDir::create(target, k_inner_prefix));
    auto outcome = run(staging.path());
    if (!outcome.ok()) {
        staging.remove();
        return outcome.status();
    }
    if (beside) {
        // The restored directory takes the target's place, so it takes its mode and owner too.
        ::chmod(staging.path().c_str(), tst.st_mode & 07777);
        if (geteuid() == 0) (void)!::chown(staging.path().c_str(), tst.st_uid, tst.st_gid);
        if (::renameat2(AT_FDCWD, staging.path().c_str(), AT_FDCWD, target.c_str(),
                        RENAME_EXCHANGE) == 0) {
            crash_step("restore-exchanged");
            staging.remove();  // the empty directory the target was
            TRY(fsync_dir(parent));
            return outcome;
        }
        if (errno != EINVAL)
            return errno_status("swap the restored tree in at " + target + " (the restore is in " +
                                    staging.path() + ")",
                                errno);
        // A filesystem without RENAME_EXCHANGE: the entries move up as below.
    }
    Status moved = move_up(target, staging.path());
    if (!moved.ok()) return moved.with_context("the restore is in " + staging.path());
    staging.remove();  // empty now
    TRY(fsync_target(target));
    if (beside) TRY(fsync_dir(parent));
    return outcome;
}

Result<Outcome> into_new(const std::string& target,
                         const std::function<Result<Outcome>(const std::string&)>& run) {
    const std::string parent = parent_of(target);
    const std::string prefix = sibling_prefix(target);
    TRY(make_dirs(parent, 0700));
    TRY(sweep_staging(parent, prefix).status());
    TRY_ASSIGN(StagingDir staging, StagingDir::create(parent, prefix));
    auto outcome = run(staging.path());
    if (!outcome.ok()) {
        staging.remove();
        return outcome.status();
    }
    // Its contents were synced by the restore (syncfs); the rename makes them the target,
    // durably, and never replaces a directory made there meanwhile.
    int renamed =
        ::renameat2(AT_FDCWD, staging.path().c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE);
    if (renamed != 0 && errno == EINVAL) {  // a filesystem without renameat2 flags
        struct stat st {};
        if (::lstat(target.c_str(), &st) == 0)
            errno = EEXIST;
        else
            renamed = ::rename(staging.path().c_str(), target.c_str());
    }
    if (renamed != 0) {
        int e = errno;
        staging.remove();
        if (e == EEXIST || e == ENOTEMPTY) return not_empty(target);
        return errno_status("move the restored tree to " + target, e);
    }
    staging.release();
    TRY(fsync_dir(parent));
    return outcome;
}

}  // namespace

Status remove_abandoned_staging(const std::string& target) {
    return sweep_staging(target, k_inner_prefix).status();
}

Result<Outcome> restore_staged(const std::string& target_in,
                               const std::function<Result<Outcome>(const std::string&)>& run) {
    std::string target = fs::path(target_in).lexically_normal().string();
    while (target.size() > 1 && target.back() == '/') target.pop_back();
    struct stat st {};
    if (::stat(target.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return invalid_argument("restore target " + target + " is not a directory");
        // The target itself may be a symlink the user chose: the directory it names is what
        // gets the tree (and what trades places with the staging directory), never the link.
        std::error_code ec;
        std::string real = fs::canonical(target, ec).string();
        if (ec) return io_error("resolve restore target " + target + ": " + ec.message());
        return into_existing(real, run);
    }
    if (errno != ENOENT) return errno_status("restore target " + target, errno);
    if (struct stat lst{}; ::lstat(target.c_str(), &lst) == 0)
        return invalid_argument("restore target " + target +
                                " is a symlink to nothing: remove it or choose another target");
    return into_new(target, run);
}

}  // namespace coffer::restore
