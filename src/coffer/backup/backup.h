// The backup engine (archiver): walks the given paths, cuts files into chunks, and stores them
// with their trees as one snapshot.
//
// Pipeline: the calling thread walks and reads; a pool of workers (one per core) computes chunk
// IDs, compresses, encrypts and packs new chunks. The queue between them is bounded, so memory
// is bounded by (queue + workers) x max chunk size plus one open pack per worker, not by the
// data. Unchanged files (same size, mtime, ctime and inode as in the file cache, and all chunks
// still indexed) are not read at all.
//
// A file that cannot be read is reported and skipped; the snapshot is then saved and marked
// incomplete. A stream source that fails (read error, finish() error) aborts the backup. Any
// repository error aborts the backup and no snapshot is written (packs already uploaded stay as
// unreferenced data for prune). Not thread-safe: one run per Repository.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "coffer/repo/repository.h"

namespace coffer::backup {

struct Progress {
    uint64_t files_done = 0;
    uint64_t bytes_done = 0;   // bytes of files processed (read or found unchanged)
    uint64_t files_total = 0;  // from a concurrent scan; 0 until known
    uint64_t bytes_total = 0;
    bool scan_finished = false;
    double elapsed_s = 0;
};

// A file of a stream source (a database dump, a command's output, a small manifest).
struct StreamEntry {
    std::string name;  // file name inside the source's directory
    // Either a descriptor to read to its end (the engine closes it) ...
    std::function<Result<int>()> open;
    // ... or contents made on demand, after the entries before it were read (row counts
    // recorded alongside a dump, say).
    std::function<Result<Bytes>()> contents;
};

// One source of a backup set. A files source has paths; a stream source has entries.
struct SourceInput {
    std::string name;  // the directory at the snapshot root
    std::string type;  // recorded in the snapshot header ("files", "postgres", ...)
    std::vector<std::string> paths;
    std::vector<std::string> excludes;
    std::vector<StreamEntry> entries;
    // Called once its entries have been read; a failure (a dump that exited non-zero) aborts
    // the backup before any snapshot is written.
    std::function<Status()> finish;
};

struct Options {
    std::vector<std::string> paths;
    std::vector<std::string> tags;
    std::vector<std::string> excludes;  // glob; without '/' matched on the name, else the path
    std::string hostname;
    std::string cache_path;                            // file cache; empty disables it
    unsigned threads = 0;                              // 0: one per core
    std::function<void(const Progress&)> on_progress;  // from the walking thread, ~10/s

    // A backup set: when sources is non-empty, paths and excludes are ignored and the snapshot
    // root holds one directory per source, named after it.
    std::string set_name;
    std::vector<SourceInput> sources;
    // Last word before the snapshot is written (it has its summary and per-source sizes): a
    // non-ok Status aborts the backup with nothing committed.
    std::function<Status(const repo::Snapshot&)> before_save;
};

struct Outcome {
    repo::Snapshot snapshot;
    std::vector<std::string> errors;  // unreadable files etc.; the snapshot is incomplete
};

Result<Outcome> run(repo::Repository& repository, const Options& options);

// True if path (absolute) or its final component matches an exclude glob.
bool excluded(const std::vector<std::string>& patterns, const std::string& path,
              std::string_view name);

}  // namespace coffer::backup
