// The command source: the bytes a command prints, restored by piping them into another.
#include <unistd.h>

#include "coffer/restore/restore.h"
#include "coffer/source/process.h"
#include "coffer/source/source.h"
#include "coffer/util/file.h"

namespace coffer::source {

Result<backup::SourceInput> command_backup(const config::SourceConfig& source) {
    auto process = std::make_shared<std::unique_ptr<Process>>();
    backup::SourceInput in;
    in.name = source.name;
    in.type = "command";
    std::string command = source.backup_command;
    in.entries.push_back({"stdout",
                          [process, command]() -> Result<int> {
                              TRY_ASSIGN(*process, Process::start(command, Pipe::from_stdout));
                              return (*process)->release_fd();
                          },
                          nullptr});
    in.finish = [process, command]() -> Status {
        if (!*process) return internal_error("backup command was never started");
        // Its exit status decides: a dump tool that failed half-way printed a partial dump.
        return (*process)->wait("backup command '" + command + "'");
    };
    return in;
}

Result<std::vector<Check>> command_restore(repo::Repository& repository, const RestoreRequest& r) {
    const auto& src = *r.source;
    if (!r.target_dir.empty()) {
        // A drill or partial recovery never runs the production restore command: the output is
        // written to target/stdout for whoever wants to load it elsewhere.
        TRY_ASSIGN(repo::Node node, restore::find_node(repository, r.tree, "/stdout"));
        TRY(make_dirs(r.target_dir, 0700));
        std::string path = r.target_dir + "/stdout";
        TRY_ASSIGN(Bytes all, restore::read_all(repository, node));
        TRY(write_file_atomic(path, all, 0600));
        return std::vector<Check>{
            {src.name, "output written to " + path, true, std::to_string(node.size) + " bytes"}};
    }
    if (src.restore_command.empty())
        return invalid_argument("source '" + src.name +
                                "' has no restore_command: add one to the config to restore it");
    TRY_ASSIGN(repo::Node node, restore::find_node(repository, r.tree, "/stdout"));
    TRY_ASSIGN(auto process, Process::start(src.restore_command, Pipe::to_stdin));
    Status fed = restore::read_contents(repository, node, [&](ByteView data) {
        return write_all(process->fd(), data, "to restore command");
    });
    Status exited = process->wait("restore command '" + src.restore_command + "'");
    TRY(fed);
    TRY(exited);
    return std::vector<Check>{{src.name, "restore command exit status", true,
                               "0 after " + std::to_string(node.size) + " bytes"}};
}

}  // namespace coffer::source
