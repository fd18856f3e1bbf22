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
// incomplete. Any repository error aborts the backup and no snapshot is written (packs already
// uploaded stay as unreferenced data for prune). Not thread-safe: one run per Repository.
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

struct Options {
    std::vector<std::string> paths;
    std::vector<std::string> tags;
    std::vector<std::string> excludes;  // glob; without '/' matched on the name, else the path
    std::string hostname;
    std::string cache_path;                            // file cache; empty disables it
    unsigned threads = 0;                              // 0: one per core
    std::function<void(const Progress&)> on_progress;  // from the walking thread, ~10/s
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
