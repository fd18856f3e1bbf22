// The restore engine (restorer) and tree walking for `ls`.
//
// restore() recreates a snapshot under a target directory: byte-identical contents, modes
// (setuid/setgid/sticky included), ownership when running as root, mtimes, symlinks and empty
// directories. It never writes outside the target: every path is resolved one component at a
// time from a directory descriptor it opened itself, with O_NOFOLLOW, so neither "..", nor an
// absolute name, nor a symlink in the snapshot or already in the target can redirect a write.
// Names that are not a single valid component are refused (and reported) before any syscall.
// Every chunk is checked after decryption (Repository::load_chunk). A file that cannot be
// restored completely is removed rather than left half-written, and reported.
// File contents are fetched and written by a pool of workers. Not thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "coffer/repo/repository.h"
#include "coffer/repo/tree.h"

namespace coffer::restore {

struct Progress {
    uint64_t files_done = 0;
    uint64_t bytes_done = 0;
    uint64_t files_total = 0;
    uint64_t bytes_total = 0;
    double elapsed_s = 0;
};

struct Options {
    std::string target;
    std::vector<std::string> includes;  // snapshot paths (absolute); empty means everything
    bool overwrite = false;             // allow a non-empty target, replace existing entries
    unsigned threads = 0;
    std::function<void(const Progress&)> on_progress;
};

struct Outcome {
    uint64_t files = 0;
    uint64_t dirs = 0;
    uint64_t symlinks = 0;
    uint64_t bytes = 0;
    double duration_s = 0;
    std::vector<std::string> errors;  // entries that could not be restored
};

// Without overwrite the target must be new or empty, and the restore is all-or-nothing: it is
// staged and moved into place at the end (staged_target.h), so a restore killed part-way leaves
// no target, or one holding only a .coffer-partial-* directory, which the next restore removes.
// Fails (nothing written) if the target is not empty and overwrite is not set. Returns an
// Outcome whose errors list what went wrong with individual entries; a failure to read the
// snapshot's trees is a Status.
Result<Outcome> restore(repo::Repository& repository, const repo::Snapshot& snapshot,
                        const Options& options);

// Restores the tree with this root (a backup set's source directory, say) like restore().
Result<Outcome> restore_tree(repo::Repository& repository, const Id& tree, const Options& options);

// The node at an absolute path below tree ("/db/dump.sql"); Code::not_found if absent.
Result<repo::Node> find_node(repo::Repository& repository, const Id& tree, std::string_view path);

// Streams a file node's contents, chunk by verified chunk, into sink.
Status read_contents(repo::Repository& repository, const repo::Node& file,
                     const std::function<Status(ByteView)>& sink);

// The whole contents of a file node, in memory: for the small files of a source (checks.json,
// manifest.json), never for data of unbounded size.
Result<Bytes> read_all(repo::Repository& repository, const repo::Node& file);

// Calls visit(path, node) for every node under the snapshot root, depth first, parents before
// children, with "/"-joined absolute snapshot paths. Stops at the first error.
Status walk(repo::Repository& repository, const Id& tree,
            const std::function<Status(const std::string&, const repo::Node&)>& visit,
            const std::string& prefix = "");

}  // namespace coffer::restore
