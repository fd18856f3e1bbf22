#include "coffer/restore/restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

#include "coffer/restore/staged_target.h"
#include "coffer/util/file.h"
#include "coffer/util/thread_pool.h"

namespace coffer::restore {

using repo::ChunkType;
using repo::Node;
using repo::NodeKind;

namespace {

Status walk_at(repo::Repository& repository, const Id& tree,
               const std::function<Status(const std::string&, const Node&)>& visit,
               const std::string& prefix, size_t depth) {
    if (depth > repo::k_max_tree_depth)
        return corruption("tree " + tree.short_hex() + " at " + prefix + " is nested deeper than " +
                          std::to_string(repo::k_max_tree_depth) + " directories");
    TRY_ASSIGN(Bytes bytes, repository.load_chunk(tree, ChunkType::tree));
    TRY_ASSIGN(repo::Tree t, repo::decode_tree(bytes, tree.short_hex()));
    for (const Node& n : t.nodes) {
        std::string path = prefix + "/" + n.name;
        TRY(visit(path, n));
        if (n.kind == NodeKind::dir) TRY(walk_at(repository, n.subtree, visit, path, depth + 1));
    }
    return ok_status();
}

}  // namespace

Status walk(repo::Repository& repository, const Id& tree,
            const std::function<Status(const std::string&, const Node&)>& visit,
            const std::string& prefix) {
    return walk_at(repository, tree, visit, prefix, 0);
}

Result<Node> find_node(repo::Repository& repository, const Id& tree, std::string_view path) {
    Id current = tree;
    std::string_view rest = path;
    while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
    if (rest.empty()) return invalid_argument("find_node needs a path below the root");
    for (;;) {
        size_t slash = rest.find('/');
        std::string_view name = rest.substr(0, slash);
        TRY_ASSIGN(Bytes bytes, repository.load_chunk(current, ChunkType::tree));
        TRY_ASSIGN(repo::Tree t, repo::decode_tree(bytes, current.short_hex()));
        const Node* found = nullptr;
        for (const Node& n : t.nodes)
            if (n.name == name) found = &n;
        if (!found) return not_found(std::string(path) + " is not in the snapshot");
        if (slash == std::string_view::npos) return *found;
        if (found->kind != NodeKind::dir)
            return not_found(std::string(path) + " is not in the snapshot");
        current = found->subtree;
        rest = rest.substr(slash + 1);
    }
}

Result<Bytes> read_all(repo::Repository& repository, const Node& file) {
    Bytes out;
    out.reserve(file.size);
    TRY(read_contents(repository, file, [&](ByteView d) {
        append(out, d);
        return ok_status();
    }));
    return out;
}

Status read_contents(repo::Repository& repository, const Node& file,
                     const std::function<Status(ByteView)>& sink) {
    if (file.kind != NodeKind::file) return invalid_argument(file.name + " is not a file");
    uint64_t total = 0;
    for (const Id& id : file.content) {
        TRY_ASSIGN(Bytes data, repository.load_chunk(id, ChunkType::data));
        total += data.size();
        TRY(sink(data));
    }
    if (total != file.size)
        return integrity_error(file.name + ": read " + std::to_string(total) +
                               " bytes but the snapshot recorded " + std::to_string(file.size));
    return ok_status();
}

namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
    int fd = -1;
    explicit Fd(int f = -1) : fd(f) {}
    Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd = o.fd;
            o.fd = -1;
        }
        return *this;
    }
    ~Fd() { reset(); }
    void reset() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
};

struct timespec to_timespec(int64_t ns) {
    struct timespec ts {};
    ts.tv_sec = static_cast<time_t>(ns / 1000000000);
    ts.tv_nsec = static_cast<long>(ns % 1000000000);
    if (ts.tv_nsec < 0) {
        ts.tv_nsec += 1000000000;
        ts.tv_sec -= 1;
    }
    return ts;
}

// Is path (or an ancestor or descendant of it) selected by the includes?
enum class Selection { none, partial, all };
Selection select(const std::vector<std::string>& includes, const std::string& path) {
    if (includes.empty()) return Selection::all;
    Selection best = Selection::none;
    for (const auto& inc : includes) {
        if (path == inc || (path.size() > inc.size() && path.compare(0, inc.size(), inc) == 0 &&
                            (inc == "/" || path[inc.size()] == '/')))
            return Selection::all;
        if (inc.size() > path.size() && inc.compare(0, path.size(), path) == 0 &&
            inc[path.size()] == '/')
            best = Selection::partial;
    }
    return best;
}

bool dir_is_empty(int dirfd) {
    int dup_fd = dup(dirfd);
    if (dup_fd < 0) return false;
    DIR* d = fdopendir(dup_fd);
    if (!d) {
        ::close(dup_fd);
        return false;
    }
    bool empty = true;
    while (struct dirent* e = readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") {
            empty = false;
            break;
        }
    }
    closedir(d);
    return empty;
}

struct DirJob {
    size_t remaining = 0;
};

class Restorer {
public:
    Restorer(repo::Repository& repository, const Options& options)
        : m_repo(repository),
          m_opts(options),
          m_pool(
              options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency()),
              64) {}

    Result<Outcome> run(const Id& root_tree);

private:
    Status restore_dir(const Id& tree, int dirfd, const std::string& path, size_t depth);
    // Removes an existing entry at name (overwrite mode only); never follows symlinks.
    bool clear_entry(int dirfd, const std::string& name, const std::string& path, bool keep_dir);
    void restore_file(int dirfd, const Node& node, const std::string& path,
                      std::shared_ptr<DirJob> job);
    void write_file(Fd fd, int dirfd, Node node, std::string path, std::shared_ptr<DirJob> job);
    void set_attributes(int fd, const Node& node, const std::string& path);
    void error(const std::string& path, const std::string& what) {
        std::lock_guard lock(m_mu);
        m_out.errors.push_back(path + ": " + what);
    }
    void report_progress(bool force);

    repo::Repository& m_repo;
    const Options& m_opts;
    ThreadPool m_pool;
    std::mutex m_mu;
    // The first file whose contents could not be restored (damaged, missing or tampered data,
    // a full disk).
    std::string m_damaged;
    // Code::integrity, or the code of the chunk failure behind m_damaged when it says more (a
    // wrong or rotated-out recovery key is Code::wrong_key: exit 6, not "damaged").
    Code m_damaged_code = Code::integrity;
    std::condition_variable m_done;
    Outcome m_out;
    Progress m_progress;
    Clock::time_point m_start = Clock::now(), m_last_report{};
    bool m_root = geteuid() == 0;
};

void Restorer::report_progress(bool force) {
    if (!m_opts.on_progress) return;
    auto now = Clock::now();
    if (!force && now - m_last_report < std::chrono::milliseconds(100)) return;
    m_last_report = now;
    Progress p;
    {
        std::lock_guard lock(m_mu);
        p = m_progress;
    }
    p.elapsed_s = std::chrono::duration<double>(now - m_start).count();
    m_opts.on_progress(p);
}

void Restorer::set_attributes(int fd, const Node& node, const std::string& path) {
    // chown before chmod: chown clears setuid/setgid bits.
    if (m_root && fchown(fd, node.uid, node.gid) != 0)
        error(path, std::string("cannot set owner: ") + strerror(errno));
    if (fchmod(fd, node.mode) != 0) error(path, std::string("cannot set mode: ") + strerror(errno));
    struct timespec times[2] = {to_timespec(node.mtime_ns), to_timespec(node.mtime_ns)};
    if (futimens(fd, times) != 0) error(path, std::string("cannot set mtime: ") + strerror(errno));
}

bool Restorer::clear_entry(int dirfd, const std::string& name, const std::string& path,
                           bool keep_dir) {
    struct stat st {};
    if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return true;  // absent
    if (!m_opts.overwrite) {
        error(path, "already exists in the target (use --overwrite)");
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        if (keep_dir) return true;
        // Only reached for a directory that must become a file or symlink. remove_all does not
        // follow symlinks; the path is built from descriptors we resolved without following.
        error(path, "is a directory in the target but not in the snapshot; left as is");
        return false;
    }
    if (unlinkat(dirfd, name.c_str(), 0) != 0) {
        error(path, std::string("cannot replace: ") + strerror(errno));
        return false;
    }
    return true;
}

void Restorer::restore_file(int dirfd, const Node& node, const std::string& path,
                            std::shared_ptr<DirJob> job) {
    if (!clear_entry(dirfd, node.name, path, false)) return;
    int fd = openat(dirfd, node.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    0600);
    if (fd < 0) {
        std::string why = std::string("cannot create: ") + strerror(errno);
        error(path, why);
        std::lock_guard lock(m_mu);
        if (m_damaged.empty()) m_damaged = path + ": " + why;
        return;
    }
    {
        std::lock_guard lock(m_mu);
        job->remaining++;
    }
    m_pool.submit([this, fd, dirfd, node, path, job]() mutable {
        write_file(Fd(fd), dirfd, std::move(node), std::move(path), std::move(job));
    });
}

void Restorer::write_file(Fd fd, int dirfd, Node node, std::string path,
                          std::shared_ptr<DirJob> job) {
    uint64_t written = 0;
    std::string failure;
    Code code = Code::integrity;
    for (const Id& id : node.content) {
        auto data = m_repo.load_chunk(id, ChunkType::data);
        if (!data.ok()) {
            failure = data.status().message();
            if (data.status().code() == Code::wrong_key) code = Code::wrong_key;
            break;
        }
        if (Status st = write_all(fd.fd, *data, path); !st.ok()) {
            failure = st.message();
            break;
        }
        written += data->size();
        std::lock_guard lock(m_mu);
        m_progress.bytes_done += data->size();
    }
    if (failure.empty() && written != node.size)
        failure = "restored " + std::to_string(written) + " bytes but the snapshot recorded " +
                  std::to_string(node.size);
    if (failure.empty()) {
        set_attributes(fd.fd, node, path);
    } else {
        // Never leave a half-written file that looks restored.
        unlinkat(dirfd, node.name.c_str(), 0);
        error(path, failure);
        std::lock_guard lock(m_mu);
        if (m_damaged.empty()) {
            m_damaged = path + ": " + failure;
            m_damaged_code = code;
        }
    }
    fd.reset();
    std::lock_guard lock(m_mu);
    if (failure.empty()) {
        m_out.files++;
        m_out.bytes += written;
    }
    m_progress.files_done++;
    if (--job->remaining == 0) m_done.notify_all();
}

Status Restorer::restore_dir(const Id& tree, int dirfd, const std::string& path, size_t depth) {
    // A crafted snapshot may nest without end; recursion is bounded (repo::k_max_tree_depth).
    if (depth > repo::k_max_tree_depth) {
        error(path, "nested deeper than " + std::to_string(repo::k_max_tree_depth) +
                        " directories: not restored");
        return ok_status();
    }
    TRY_ASSIGN(Bytes bytes, m_repo.load_chunk(tree, ChunkType::tree));
    TRY_ASSIGN(repo::Tree t, repo::decode_tree(bytes, tree.short_hex()));
    auto job = std::make_shared<DirJob>();
    Status status;
    for (const Node& node : t.nodes) {
        if (!status.ok()) break;
        std::string child = path + "/" + node.name;
        if (!repo::valid_node_name(node.name)) {  // decode_tree refuses these; belt and braces
            error(child, "refusing an entry name that is not a single path component");
            continue;
        }
        Selection sel = select(m_opts.includes, child);
        if (sel == Selection::none) continue;
        switch (node.kind) {
            case NodeKind::dir: {
                if (!clear_entry(dirfd, node.name, child, true)) break;
                bool made = mkdirat(dirfd, node.name.c_str(), 0700) == 0;
                if (!made && errno != EEXIST) {
                    error(child, std::string("cannot create directory: ") + strerror(errno));
                    break;
                }
                Fd sub(openat(dirfd, node.name.c_str(),
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (sub.fd < 0) {
                    error(child, std::string("cannot open directory: ") + strerror(errno));
                    break;
                }
                // An existing directory (--overwrite) may be read-only, as every restored one is
                // once its mode is set: open it up for its entries and put its mode back after.
                struct stat old {};
                bool opened_up = !made && fstat(sub.fd, &old) == 0 &&
                                 (old.st_mode & 0300) != 0300 &&
                                 fchmod(sub.fd, (old.st_mode & 07777) | 0300) == 0;
                status = restore_dir(node.subtree, sub.fd, child, depth + 1);
                if (opened_up && (!status.ok() || sel != Selection::all))
                    fchmod(sub.fd, old.st_mode & 07777);
                if (!status.ok()) break;
                if (sel == Selection::all) set_attributes(sub.fd, node, child);
                std::lock_guard lock(m_mu);
                m_out.dirs++;
                break;
            }
            case NodeKind::file:
                if (sel == Selection::all) restore_file(dirfd, node, child, job);
                break;
            case NodeKind::symlink: {
                if (sel != Selection::all || !clear_entry(dirfd, node.name, child, false)) break;
                if (symlinkat(node.link_target.c_str(), dirfd, node.name.c_str()) != 0) {
                    error(child, std::string("cannot create symlink: ") + strerror(errno));
                    break;
                }
                if (m_root &&
                    fchownat(dirfd, node.name.c_str(), node.uid, node.gid, AT_SYMLINK_NOFOLLOW))
                    error(child, std::string("cannot set owner: ") + strerror(errno));
                struct timespec times[2] = {to_timespec(node.mtime_ns), to_timespec(node.mtime_ns)};
                utimensat(dirfd, node.name.c_str(), times, AT_SYMLINK_NOFOLLOW);
                std::lock_guard lock(m_mu);
                m_out.symlinks++;
                break;
            }
        }
        report_progress(false);
    }
    // Workers write this directory's files through dirfd, which the caller closes once this
    // returns (and sets the directory's attributes): wait for them, on failure too.
    std::unique_lock lock(m_mu);
    m_done.wait(lock, [&] { return job->remaining == 0; });
    return status;
}

Result<Outcome> Restorer::run(const Id& root_tree) {
    TRY(make_dirs(m_opts.target, 0700));
    Fd root(::open(m_opts.target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (root.fd < 0) return errno_status("open restore target " + m_opts.target, errno);
    if (!m_opts.overwrite && !dir_is_empty(root.fd))
        return invalid_argument("restore target " + m_opts.target +
                                " is not empty: choose an empty directory or pass --overwrite");
    uint64_t files_total = 0, bytes_total = 0;
    if (m_opts.on_progress) {
        // Totals for the progress line's ETA; trees are small and cached by the OS.
        TRY(walk(m_repo, root_tree, [&](const std::string& p, const Node& n) {
            if (n.kind == NodeKind::file && select(m_opts.includes, p) == Selection::all) {
                files_total++;
                bytes_total += n.size;
            }
            return ok_status();
        }));
        m_progress.files_total = files_total;
        m_progress.bytes_total = bytes_total;
    }
    Status st = restore_dir(root_tree, root.fd, "", 0);
    m_pool.wait_idle();
    TRY(st);
    // A file whose contents could not be restored is not a restore with a few missing
    // attributes: a staged restore then makes nothing live, so no one mistakes the rest for
    // the backup. (With --overwrite, entries are already replaced in place; it reports them
    // like other errors.)
    if (!m_damaged.empty() && !m_opts.overwrite)
        return Status(m_damaged_code,
                      "restore stopped, nothing was made live: " + m_damaged +
                          (m_damaged_code == Code::wrong_key
                               ? std::string()
                               : std::string(" (if the backup is damaged, 'coffer verify "
                                             "--read-data' names what; restore from a mirror "
                                             "or another snapshot)")));
    // Everything restored is on disk before the caller renames or swaps it into place (and
    // removes the old copy): one syncfs of the target's filesystem costs less than an fsync
    // per file, and a power cut can then leave an empty file only where none was made live.
    if (syncfs(root.fd) != 0) return errno_status("sync restore target " + m_opts.target, errno);
    report_progress(true);
    m_out.duration_s = std::chrono::duration<double>(Clock::now() - m_start).count();
    return m_out;
}

}  // namespace

Result<Outcome> restore(repo::Repository& repository, const repo::Snapshot& snapshot,
                        const Options& options) {
    return restore_tree(repository, snapshot.tree, options);
}

Result<Outcome> restore_tree(repo::Repository& repository, const Id& tree, const Options& options) {
    if (!repository.keys().can_read_data())
        return wrong_key(
            "restore needs the recovery key: pass --recovery-key-file or set "
            "COFFER_RECOVERY_KEY_FILE (the host key alone cannot read backups)");
    Options opts = options;
    for (auto& inc : opts.includes) {
        std::string norm = std::filesystem::path("/" + inc).lexically_normal().string();
        while (norm.size() > 1 && norm.back() == '/') norm.pop_back();
        inc = norm;
    }
    TRY(repository.ensure_index());
    // A mistyped --include would otherwise restore nothing and succeed.
    for (const auto& inc : opts.includes) {
        if (inc == "/") continue;
        auto node = find_node(repository, tree, inc);
        if (!node.ok()) {
            if (node.status().code() == Code::not_found)
                return not_found("--include " + inc + " is not in the snapshot (see 'coffer ls')");
            return node.status();
        }
    }
    if (opts.overwrite) {  // merges into what is there: not all-or-nothing (docs/cli.md)
        Restorer r(repository, opts);
        auto outcome = r.run(tree);
        if (outcome.ok() && outcome->errors.empty()) TRY(remove_abandoned_staging(opts.target));
        return outcome;
    }
    return restore_staged(opts.target, [&](const std::string& staging) {
        Options staged = opts;
        staged.target = staging;
        Restorer r(repository, staged);
        return r.run(tree);
    });
}

}  // namespace coffer::restore
