#include "coffer/source/source.h"

#include <sys/stat.h>

#include <filesystem>

namespace coffer::source {

Result<backup::SourceInput> backup_input(const config::SourceConfig& source) {
    switch (source.type) {
        case config::SourceType::files: {
            backup::SourceInput in;
            in.name = source.name;
            in.type = "files";
            in.paths = source.paths;
            in.excludes = source.exclude;
            return in;
        }
        case config::SourceType::command:
            return command_backup(source);
        case config::SourceType::sqlite:
            return sqlite_backup(source);
        case config::SourceType::postgres:
            return postgres_backup(source);
        case config::SourceType::s3:
            return s3_backup(source);
    }
    return invalid_argument("source '" + source.name +
                            "': " + std::string(config::source_type_name(source.type)) +
                            " sources are not supported by this build yet");
}

Result<std::vector<Check>> restore(repo::Repository& repository, const RestoreRequest& r) {
    switch (r.source->type) {
        case config::SourceType::files:
            return files_restore(repository, r);
        case config::SourceType::command:
            return command_restore(repository, r);
        case config::SourceType::sqlite:
            return sqlite_restore(repository, r);
        case config::SourceType::postgres:
            return postgres_restore(repository, r);
        case config::SourceType::s3:
            return s3_restore(repository, r);
    }
    return invalid_argument("source '" + r.source->name + "': restoring " +
                            std::string(config::source_type_name(r.source->type)) +
                            " sources is not supported by this build yet");
}

std::string describe_current(const config::SourceConfig& source) {
    namespace fs = std::filesystem;
    std::error_code ec;
    switch (source.type) {
        case config::SourceType::files: {
            uint64_t files = 0, bytes = 0;
            for (const auto& p : source.paths) {
                if (!fs::exists(p, ec)) continue;
                if (fs::is_regular_file(p, ec)) {
                    files++;
                    bytes += fs::file_size(p, ec);
                    continue;
                }
                for (auto it = fs::recursive_directory_iterator(p, ec);
                     !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
                    if (it->is_regular_file(ec)) {
                        files++;
                        bytes += it->file_size(ec);
                    }
            }
            return std::to_string(files) + " files, " + std::to_string(bytes) + " bytes in " +
                   std::to_string(source.paths.size()) + " path(s)";
        }
        case config::SourceType::sqlite: {
            auto size = fs::file_size(source.path, ec);
            return ec ? source.path + " (missing)"
                      : source.path + " (" + std::to_string(size) + " bytes)";
        }
        case config::SourceType::command:
            return "whatever '" + source.restore_command + "' replaces";
        case config::SourceType::postgres:
            return postgres_describe(source);
        case config::SourceType::s3:
            return s3_describe(source);
        default:
            return "(not inspected)";
    }
}

}  // namespace coffer::source
