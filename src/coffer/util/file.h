// Small whole-file helpers for key files, caches and tests. All report errors as Status naming
// the path. Thread-safe.
#pragma once

#include <string>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer {

// Writes all of data to fd, retrying short writes and EINTR. what names the destination in
// errors ("write <what>: <strerror>").
Status write_all(int fd, ByteView data, const std::string& what);

Result<Bytes> read_file(const std::string& path);
// For key material: the result is wiped when dropped. At most 1 MiB.
Result<SecretBytes> read_secret_file(const std::string& path);
// Creates path exclusively (Code::already_exists if present) with the given mode, writes data,
// fsyncs it and its directory. On failure the partial file is removed.
Status write_new_file(const std::string& path, ByteView data, unsigned mode);
// Writes path atomically: a temporary beside it, fsync, rename, fsync of the directory.
Status write_file_atomic(const std::string& path, ByteView data, unsigned mode);
// fsync of a directory, so that a rename or a new entry in it is durable.
Status fsync_dir(const std::string& dir);
// mkdir -p with the given mode for created directories.
Status make_dirs(const std::string& path, unsigned mode);

}  // namespace coffer
