#include "coffer/backup/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <thread>

#include "coffer/backup/file_cache.h"
#include "coffer/repo/tree.h"
#include "coffer/util/thread_pool.h"

namespace coffer::backup {

using repo::ChunkType;
using repo::Node;
using repo::NodeKind;

bool excluded(const std::vector<std::string>& patterns, const std::string& path,
              std::string_view name) {
    std::string n(name);
    for (const auto& p : patterns) {
        if (p.find('/') == std::string::npos) {
            if (fnmatch(p.c_str(), n.c_str(), 0) == 0) return true;
        } else if (fnmatch(p.c_str(), path.c_str(), 0) == 0) {
            return true;
        }
    }
    return false;
}

namespace {

using Clock = std::chrono::steady_clock;

int64_t ns_of(const struct timespec& ts) {
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string join(const std::string& dir, std::string_view name) {
    return dir == "/" ? "/" + std::string(name) : dir + "/" + std::string(name);
}

// The part of the filesystem named by the backup paths: intermediate directories are recorded
// with their own attributes but only the children leading to a backup path.
struct VirtualDir {
    std::map<std::string, VirtualDir> children;
    bool target = false;  // a path given on the command line: archived whole
};

struct FileJob {
    std::vector<Id> ids;
    size_t remaining = 0;
    Id cache_key;
    FileFingerprint fingerprint;
    bool racy = false;  // see k_timestamp_tick_ns
};

// "Racy clean", as git calls it: file timestamps come from a coarse clock (one kernel tick,
// at most 10 ms), so a file written again within the tick in which we read it keeps its
// mtime and ctime and would look unchanged next time. Such files are not cached: the next
// backup reads them again.
constexpr int64_t k_timestamp_tick_ns = 10'000'000;

struct DirState {
    std::vector<Node> nodes;
    std::vector<std::shared_ptr<FileJob>> jobs;  // parallel to nodes; null when not a read file
    std::vector<Id> child_refs;
};

struct DirResult {
    Id tree;
    Id refs;
};

class Archiver {
public:
    Archiver(repo::Repository& repository, const Options& options)
        : m_repo(repository),
          m_opts(options),
          m_pool(
              options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency()),
              2 * std::max(1u, options.threads ? options.threads
                                               : std::thread::hardware_concurrency())) {
        if (!options.cache_path.empty()) {
            m_old_cache = FileCache::load(options.cache_path);
            // Without a writer the next run re-reads everything; never a reason to fail.
            if (auto w = FileCacheWriter::create(options.cache_path); w.ok())
                m_new_cache.emplace(std::move(*w));
        }
        m_buffer.resize(2 * size_t(m_repo.chunker().params().max_size));
    }

    Result<Outcome> run(const std::vector<std::string>& paths);

private:
    Result<DirResult> archive_virtual(const VirtualDir& dir, const std::string& path);
    Result<DirResult> archive_dir(const std::string& path);
    // Adds the entry at path to state. Source problems are recorded in m_errors and the entry
    // is skipped; only repository failures are returned.
    Status add_entry(DirState& state, const std::string& path, std::string_view name,
                     const VirtualDir* virtual_child);
    Status read_file(const std::string& path, const struct stat& st, Node& node,
                     std::shared_ptr<FileJob>& job);
    // Cuts everything readable from fd into chunks queued for the workers (IDs land in job).
    // Returns the byte count; Code::io for a read error, anything else from the repository.
    Result<uint64_t> chunk_stream(int fd, const std::shared_ptr<FileJob>& job);
    // Queues one chunk; false once a worker has failed (the caller stops reading).
    bool submit_chunk(const std::shared_ptr<FileJob>& job, std::shared_ptr<Bytes> data);
    Result<DirResult> archive_paths(const std::vector<std::string>& paths);
    // A backup set: one directory per source at the snapshot root.
    Result<DirResult> archive_sources();
    Result<DirResult> archive_entries(SourceInput& source, repo::SourceSummary& summary);
    Result<DirResult> finish_dir(DirState& state);
    Result<Id> store_metadata_chunk(ChunkType type, const Bytes& bytes);
    void source_error(const std::string& path, const std::string& what);
    void report_progress(bool force);
    void scan(const std::vector<std::string>& paths, const std::vector<std::string>& excludes);
    Status first_error() {
        std::lock_guard lock(m_mu);
        return m_worker_error;
    }

    repo::Repository& m_repo;
    const Options& m_opts;
    const std::vector<std::string>* m_excludes = &m_opts.excludes;  // of the source being walked
    std::vector<repo::SourceSummary> m_source_summaries;
    FileCache m_old_cache;
    std::optional<FileCacheWriter> m_new_cache;
    ThreadPool m_pool;
    Bytes m_buffer;

    std::mutex m_mu;  // guards FileJobs, m_worker_error
    std::condition_variable m_job_done;
    Status m_worker_error;

    std::vector<std::string> m_errors;
    repo::SnapshotSummary m_summary;
    Progress m_progress;
    Clock::time_point m_start = Clock::now(), m_last_report{};
    std::atomic<uint64_t> m_scan_files{0}, m_scan_bytes{0};
    std::atomic<bool> m_scan_done{false}, m_stop_scan{false};
};

void Archiver::source_error(const std::string& path, const std::string& what) {
    m_errors.push_back(path + ": " + what);
    m_summary.errors++;
}

void Archiver::report_progress(bool force) {
    if (!m_opts.on_progress) return;
    auto now = Clock::now();
    if (!force && now - m_last_report < std::chrono::milliseconds(100)) return;
    m_last_report = now;
    m_progress.files_total = m_scan_files.load();
    m_progress.bytes_total = m_scan_bytes.load();
    m_progress.scan_finished = m_scan_done.load();
    m_progress.elapsed_s = std::chrono::duration<double>(now - m_start).count();
    m_opts.on_progress(m_progress);
}

void Archiver::scan(const std::vector<std::string>& paths,
                    const std::vector<std::string>& excludes) {
    std::vector<std::string> stack(paths.rbegin(), paths.rend());
    while (!stack.empty() && !m_stop_scan) {
        std::string path = std::move(stack.back());
        stack.pop_back();
        struct stat st {};
        if (lstat(path.c_str(), &st) != 0) continue;
        if (S_ISREG(st.st_mode)) {
            m_scan_files++;
            m_scan_bytes += static_cast<uint64_t>(st.st_size);
        } else if (S_ISDIR(st.st_mode)) {
            DIR* d = opendir(path.c_str());
            if (!d) continue;
            while (struct dirent* e = readdir(d)) {
                std::string_view name = e->d_name;
                if (name == "." || name == "..") continue;
                std::string child = join(path, name);
                if (!excluded(excludes, child, name)) stack.push_back(std::move(child));
            }
            closedir(d);
        }
    }
    m_scan_done = true;
}

Result<Id> Archiver::store_metadata_chunk(ChunkType type, const Bytes& bytes) {
    Id id = m_repo.keys().chunk_id(type, bytes);
    TRY(m_repo.store_chunk(type, id, bytes).status());
    return id;
}

bool Archiver::submit_chunk(const std::shared_ptr<FileJob>& job, std::shared_ptr<Bytes> data) {
    size_t slot;
    {
        std::lock_guard lock(m_mu);
        if (!m_worker_error.ok()) return false;
        slot = job->ids.size();
        job->ids.emplace_back();
        job->remaining++;
    }
    m_pool.submit([this, job, slot, data] {
        Id id = m_repo.keys().chunk_id(ChunkType::data, *data);
        Status st = m_repo.store_chunk(ChunkType::data, id, *data).status();
        std::lock_guard lock(m_mu);
        if (st.ok())
            job->ids[slot] = id;
        else if (m_worker_error.ok())
            m_worker_error = st;
        if (--job->remaining == 0) m_job_done.notify_all();
    });
    return true;
}

Result<uint64_t> Archiver::chunk_stream(int fd, const std::shared_ptr<FileJob>& job) {
    const auto& chunker = m_repo.chunker();
    size_t max = chunker.params().max_size;
    size_t start = 0, fill = 0;
    bool eof = false;
    uint64_t total = 0;
    for (;;) {
        while (!eof && fill - start < max) {
            if (fill == m_buffer.size()) {
                std::memmove(m_buffer.data(), m_buffer.data() + start, fill - start);
                fill -= start;
                start = 0;
            }
            ssize_t n = ::read(fd, m_buffer.data() + fill, m_buffer.size() - fill);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return io_error(std::string("read failed: ") + strerror(errno));
            if (n == 0) eof = true;
            fill += static_cast<size_t>(n);
        }
        if (fill == start) break;
        size_t len = chunker.cut(ByteView(m_buffer.data() + start, fill - start));
        auto data =
            std::make_shared<Bytes>(m_buffer.begin() + start, m_buffer.begin() + start + len);
        start += len;
        total += len;
        m_summary.bytes_read += len;
        m_progress.bytes_done += len;
        if (!submit_chunk(job, std::move(data))) break;
        report_progress(false);
    }
    TRY(first_error());
    return total;
}

Status Archiver::read_file(const std::string& path, const struct stat& st, Node& node,
                           std::shared_ptr<FileJob>& job) {
    FileFingerprint fp{static_cast<uint64_t>(st.st_size), ns_of(st.st_mtim), ns_of(st.st_ctim),
                       static_cast<uint64_t>(st.st_ino)};
    Id cache_key = m_repo.keys().chunk_mac->compute(as_bytes("\xffpath"), as_bytes(path));
    const FileCache::Entry* cached = m_old_cache.find(cache_key);
    if (cached && cached->fingerprint == fp) {
        std::span<const Id> chunks = m_old_cache.chunks(*cached);
        bool all_present = std::all_of(chunks.begin(), chunks.end(),
                                       [&](const Id& id) { return m_repo.has_chunk(id); });
        if (all_present) {
            node.content.assign(chunks.begin(), chunks.end());
            m_summary.files_unchanged++;
            m_progress.files_done++;
            m_progress.bytes_done += fp.size;
            if (m_new_cache) m_new_cache->put(cache_key, fp, chunks);
            return ok_status();
        }
    }
    bool known = cached != nullptr;

    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        source_error(path, std::string("cannot open: ") + strerror(errno));
        node.name.clear();  // tells the caller to skip the entry
        return ok_status();
    }
    job = std::make_shared<FileJob>();
    job->cache_key = cache_key;
    job->fingerprint = fp;
    int64_t racy_after = repo::now_unix_ns() - k_timestamp_tick_ns;
    job->racy = fp.mtime_ns >= racy_after || fp.ctime_ns >= racy_after;
    auto total = chunk_stream(fd, job);
    ::close(fd);
    if (!total.ok()) {
        if (total.status().code() != Code::io) return total.status();  // the repository failed
        source_error(path, total.status().message());
        node.name.clear();
        job.reset();
        return ok_status();
    }
    node.size = *total;
    (known ? m_summary.files_changed : m_summary.files_new)++;
    m_progress.files_done++;
    return first_error();
}

Status Archiver::add_entry(DirState& state, const std::string& path, std::string_view name,
                           const VirtualDir* virtual_child) {
    struct stat st {};
    // A directory above a backup path is followed when it is a symlink, as resolving the path
    // does; recorded with lstat it would become a symlink and the backup path would be lost.
    bool above_target = virtual_child && !virtual_child->target;
    if ((above_target ? stat(path.c_str(), &st) : lstat(path.c_str(), &st)) != 0) {
        source_error(path, std::string("cannot stat: ") + strerror(errno));
        return ok_status();
    }
    Node node;
    node.name = std::string(name);
    node.mode = st.st_mode & 07777;
    node.uid = st.st_uid;
    node.gid = st.st_gid;
    node.mtime_ns = ns_of(st.st_mtim);
    std::shared_ptr<FileJob> job;
    if (S_ISDIR(st.st_mode)) {
        node.kind = NodeKind::dir;
        auto sub = virtual_child && !virtual_child->target ? archive_virtual(*virtual_child, path)
                                                           : archive_dir(path);
        if (!sub.ok()) {
            if (sub.status().code() != Code::cancelled) return sub.status();
            return ok_status();  // unreadable directory: already reported
        }
        node.subtree = sub->tree;
        state.child_refs.push_back(sub->refs);
        m_summary.dirs++;
    } else if (S_ISREG(st.st_mode)) {
        node.kind = NodeKind::file;
        node.size = static_cast<uint64_t>(st.st_size);
        TRY(read_file(path, st, node, job));
        if (node.name.empty()) return ok_status();
        m_summary.total_bytes += node.size;
    } else if (S_ISLNK(st.st_mode)) {
        node.kind = NodeKind::symlink;
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = readlink(path.c_str(), target.data(), target.size());
        if (n <= 0 || static_cast<size_t>(n) >= target.size()) {
            source_error(path, "cannot read symlink");
            return ok_status();
        }
        target.resize(static_cast<size_t>(n));
        node.link_target = std::move(target);
    } else {
        return ok_status();  // sockets, fifos and devices are not backed up
    }
    state.nodes.push_back(std::move(node));
    state.jobs.push_back(std::move(job));
    report_progress(false);
    return ok_status();
}

Result<DirResult> Archiver::archive_dir(const std::string& path) {
    DIR* d = opendir(path.c_str());
    if (!d) {
        source_error(path, std::string("cannot list directory: ") + strerror(errno));
        return cancelled("unreadable directory");
    }
    std::vector<std::string> names;
    // readdir() returns NULL both at the end and on an error; only errno tells them apart. A
    // listing cut short by an I/O error must not pass for the whole directory (found by the
    // fiu fault tests: a snapshot missing files, and exit 0).
    int err = 0;
    for (;;) {
        errno = 0;
        struct dirent* e = readdir(d);
        if (!e) {
            err = errno;
            break;
        }
        std::string_view name = e->d_name;
        if (name != "." && name != "..") names.emplace_back(name);
    }
    closedir(d);
    if (err != 0) {
        source_error(path, std::string("cannot list directory: ") + strerror(err));
        return cancelled("unreadable directory");
    }
    std::sort(names.begin(), names.end());
    DirState state;
    for (const auto& name : names) {
        std::string child = join(path, name);
        if (excluded(*m_excludes, child, name)) continue;
        TRY(add_entry(state, child, name, nullptr));
    }
    return finish_dir(state);
}

Result<DirResult> Archiver::archive_virtual(const VirtualDir& dir, const std::string& path) {
    DirState state;
    for (const auto& [name, child] : dir.children)
        TRY(add_entry(state, join(path, name), name, &child));
    return finish_dir(state);
}

Result<DirResult> Archiver::finish_dir(DirState& state) {
    {
        std::unique_lock lock(m_mu);
        m_job_done.wait(lock, [&] {
            if (!m_worker_error.ok()) return true;
            for (const auto& j : state.jobs)
                if (j && j->remaining) return false;
            return true;
        });
        if (!m_worker_error.ok()) return m_worker_error;
    }
    repo::Refs refs;
    for (size_t i = 0; i < state.nodes.size(); ++i) {
        Node& n = state.nodes[i];
        if (const auto& job = state.jobs[i]) {
            n.content = std::move(job->ids);
            if (!job->racy && m_new_cache)
                m_new_cache->put(job->cache_key, job->fingerprint, n.content);
        }
        refs.data.insert(refs.data.end(), n.content.begin(), n.content.end());
    }
    std::sort(refs.data.begin(), refs.data.end());
    refs.data.erase(std::unique(refs.data.begin(), refs.data.end()), refs.data.end());
    refs.children = std::move(state.child_refs);
    TRY_ASSIGN(refs.tree, store_metadata_chunk(ChunkType::tree, repo::encode_tree({state.nodes})));
    TRY_ASSIGN(Id refs_id, store_metadata_chunk(ChunkType::refs, repo::encode_refs(refs)));
    return DirResult{refs.tree, refs_id};
}

Result<DirResult> Archiver::archive_paths(const std::vector<std::string>& paths) {
    VirtualDir root;
    for (const auto& p : paths) {
        VirtualDir* v = &root;
        std::filesystem::path fp(p);
        for (const auto& part : fp.relative_path()) {
            if (part.empty()) continue;
            v = &v->children[part.string()];
            if (v->target) break;  // an ancestor is already archived whole
        }
        v->target = true;
        v->children.clear();
    }
    return archive_virtual(root, "/");
}

Node synthetic_node(const std::string& name, NodeKind kind, uint32_t mode) {
    Node n;
    n.name = name;
    n.kind = kind;
    n.mode = mode;
    n.uid = geteuid();
    n.gid = getegid();
    n.mtime_ns = repo::now_unix_ns();
    return n;
}

Result<DirResult> Archiver::archive_entries(SourceInput& source, repo::SourceSummary& summary) {
    DirState state;
    for (auto& entry : source.entries) {
        std::string label = "source '" + source.name + "': " + entry.name;
        Node node = synthetic_node(entry.name, NodeKind::file, 0600);
        auto job = std::make_shared<FileJob>();
        job->racy = true;  // streams are never in the file cache
        if (entry.open) {
            TRY_ASSIGN(int fd, entry.open());
            auto total = chunk_stream(fd, job);
            ::close(fd);
            if (!total.ok()) return total.status().with_context(label);
            node.size = *total;
        } else {
            TRY_ASSIGN(Bytes bytes, entry.contents());
            const auto& chunker = m_repo.chunker();
            for (size_t pos = 0; pos < bytes.size();) {
                size_t len = chunker.cut(ByteView(bytes).subspan(pos));
                auto data = std::make_shared<Bytes>(bytes.begin() + pos, bytes.begin() + pos + len);
                pos += len;
                if (!submit_chunk(job, std::move(data))) break;
            }
            TRY(first_error());
            node.size = bytes.size();
            m_summary.bytes_read += bytes.size();
        }
        summary.bytes += node.size;
        summary.files++;
        m_summary.files_new++;
        m_summary.total_bytes += node.size;
        state.nodes.push_back(std::move(node));
        state.jobs.push_back(std::move(job));
    }
    // Trees are sorted by name; keep each node with its job.
    std::vector<size_t> order(state.nodes.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return state.nodes[a].name < state.nodes[b].name; });
    DirState sorted;
    for (size_t i : order) {
        if (!sorted.nodes.empty() && sorted.nodes.back().name == state.nodes[i].name)
            return invalid_argument("source '" + source.name + "' has two entries named " +
                                    state.nodes[i].name);
        sorted.nodes.push_back(std::move(state.nodes[i]));
        sorted.jobs.push_back(std::move(state.jobs[i]));
    }
    return finish_dir(sorted);
}

Result<DirResult> Archiver::archive_sources() {
    DirState root;
    // Options are the caller's; the sources' callbacks are the only thing we need to mutate.
    std::vector<SourceInput> sources = m_opts.sources;
    for (auto& source : sources) {
        if (!repo::valid_node_name(source.name))
            return invalid_argument("source name '" + source.name + "' is not a valid name");
        repo::SourceSummary summary{source.name, source.type, 0, 0};
        uint64_t files_before =
            m_summary.files_new + m_summary.files_changed + m_summary.files_unchanged;
        uint64_t bytes_before = m_summary.total_bytes;
        Result<DirResult> sub = internal_error("unreachable");
        if (!source.paths.empty()) {
            m_excludes = &source.excludes;
            sub = archive_paths(source.paths);
            m_excludes = &m_opts.excludes;
            summary.files = m_summary.files_new + m_summary.files_changed +
                            m_summary.files_unchanged - files_before;
            summary.bytes = m_summary.total_bytes - bytes_before;
        } else {
            sub = archive_entries(source, summary);
        }
        if (!sub.ok()) return sub.status().with_context("source '" + source.name + "'");
        if (source.finish) {
            Status st = source.finish();
            if (!st.ok()) return st.with_context("source '" + source.name + "'");
        }
        Node node = synthetic_node(source.name, NodeKind::dir, 0700);
        node.subtree = sub->tree;
        root.child_refs.push_back(sub->refs);
        root.nodes.push_back(std::move(node));
        root.jobs.push_back(nullptr);
        m_source_summaries.push_back(summary);
    }
    std::sort(root.nodes.begin(), root.nodes.end(),
              [](const Node& a, const Node& b) { return a.name < b.name; });
    for (size_t i = 1; i < root.nodes.size(); ++i)
        if (root.nodes[i].name == root.nodes[i - 1].name)
            return invalid_argument("two sources are named " + root.nodes[i].name);
    return finish_dir(root);
}

Result<Outcome> Archiver::run(const std::vector<std::string>& paths) {
    // The repository's write stats are cumulative; this snapshot reports only its own additions.
    const repo::WriteStats before = m_repo.write_stats();
    std::vector<std::string> scan_paths = paths;
    for (const auto& src : m_opts.sources)
        scan_paths.insert(scan_paths.end(), src.paths.begin(), src.paths.end());
    // The scan only counts totals for the progress line: without one it would stat every file
    // a second time for nothing.
    std::thread scanner;
    if (m_opts.on_progress)
        scanner = std::thread([&] {
            scan(scan_paths, m_opts.sources.empty() ? m_opts.excludes : std::vector<std::string>{});
        });
    auto result = m_opts.sources.empty() ? archive_paths(paths) : archive_sources();
    m_stop_scan = true;
    if (scanner.joinable()) scanner.join();
    m_pool.wait_idle();
    if (!result.ok()) return result.status();
    TRY(first_error());
    TRY(m_repo.flush());
    report_progress(true);

    Outcome out;
    repo::Snapshot& s = out.snapshot;
    s.time_ns = repo::now_unix_ns();
    s.hostname = m_opts.hostname;
    s.paths = paths;
    s.tags = m_opts.tags;
    s.tree = result->tree;
    s.refs = result->refs;
    s.incomplete = !m_errors.empty();
    s.summary = m_summary;
    s.set = m_opts.set_name;
    s.sources = m_source_summaries;
    repo::WriteStats ws = m_repo.write_stats();
    s.summary.data_added = ws.data_added - before.data_added;
    s.summary.packed_added = ws.packed_added - before.packed_added;
    s.summary.duration_s = std::chrono::duration<double>(Clock::now() - m_start).count();
    if (m_opts.before_save) TRY(m_opts.before_save(s));
    TRY(m_repo.save_snapshot(s).status());
    if (m_new_cache) {
        // Only after the snapshot exists: the cache may never point at chunks no snapshot holds.
        // Failing to write it costs the next run a re-read, not correctness.
        (void)m_new_cache->commit();
        m_new_cache.reset();
    }
    out.errors = std::move(m_errors);
    return out;
}

}  // namespace

namespace {

// Absolute, normalized, without trailing slashes, sorted and unique; every path must exist.
Result<std::vector<std::string>> normalize_paths(const std::vector<std::string>& in) {
    std::vector<std::string> paths;
    for (const auto& p : in) {
        std::error_code ec;
        std::string s = std::filesystem::absolute(p, ec).lexically_normal().string();
        while (s.size() > 1 && s.back() == '/') s.pop_back();
        struct stat st {};
        if (lstat(s.c_str(), &st) != 0)
            return invalid_argument("backup path " + p +
                                    " does not exist or cannot be read: " + strerror(errno));
        paths.push_back(s);
    }
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    return paths;
}

}  // namespace

Result<Outcome> run(repo::Repository& repository, const Options& options) {
    if (options.paths.empty() && options.sources.empty())
        return invalid_argument("nothing to back up: give at least one path");
    Options opts = options;
    TRY_ASSIGN(std::vector<std::string> paths, normalize_paths(options.paths));
    for (auto& source : opts.sources) {
        if (source.paths.empty()) continue;
        auto normalized = normalize_paths(source.paths);
        if (!normalized.ok())
            return normalized.status().with_context("source '" + source.name + "'");
        source.paths = std::move(*normalized);
    }
    TRY(repository.load_index());
    Archiver archiver(repository, opts);
    return archiver.run(paths);
}

}  // namespace coffer::backup
