// coffer init: creates a repository, the host key file, and the recovery key (shown once, or
// only as K-of-N shares).
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <tuple>

#include "coffer/cli/common.h"
#include "coffer/store/local/local_store.h"
#include "coffer/util/file.h"

namespace coffer::cli {

namespace {

struct InitArgs {
    std::string recovery_key_out;
    std::string shares;      // K-of-N: the recovery key only as shares
    std::string shares_out;  // with shares: a directory for the share files
    std::string hostname;
    uint32_t chunk_size = 1 << 20;
};

std::string parent_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

bool exists(const std::string& path) {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
}

std::string this_host() {
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    return buf;
}

Status run_init(GlobalOptions& g, const InitArgs& a) {
    TRY(apply_config_if_given(g));
    if (g.repo.empty())
        return invalid_argument("no repository given: pass --repo or set COFFER_REPO");
    const bool is_s3 = g.repo.rfind("s3:", 0) == 0;
    std::string key_path = g.host_key.empty() ? default_host_key_path() : g.host_key;
    // Check every precondition before creating anything, so a refusal leaves nothing behind.
    if (exists(key_path))
        return already_exists("host key file " + key_path +
                              " already exists; refusing to overwrite it (pass another "
                              "--host-key path)");
    int k = 0, n = 0;
    if (!a.shares.empty()) {
        if (!a.recovery_key_out.empty())
            return invalid_argument(
                "give --recovery-key-out or --shares, not both: a whole copy of the key beside "
                "its shares would undo the split");
        TRY_ASSIGN(auto kn, repo::parse_k_of_n(a.shares));
        std::tie(k, n) = kn;
        for (int i = 1; !a.shares_out.empty() && i <= n; ++i)
            if (std::string p = a.shares_out + "/share-" + std::to_string(i) + "-of-" +
                                std::to_string(n) + ".txt";
                exists(p))
                return already_exists("share file " + p +
                                      " already exists; refusing to overwrite it");
        if (!a.shares_out.empty()) {
            // The shares are the only copy of the key: their directory must take them before
            // the repository exists.
            TRY(make_dirs(a.shares_out, 0700));
            if (::access(a.shares_out.c_str(), W_OK) != 0)
                return errno_status("write share files into " + a.shares_out, errno);
        }
    } else if (!a.shares_out.empty()) {
        return invalid_argument("--shares-out needs --shares K-of-N");
    }
    if (!a.recovery_key_out.empty() && exists(a.recovery_key_out))
        return already_exists("recovery key file " + a.recovery_key_out +
                              " already exists; refusing to overwrite it");
    if (auto existing = store::LocalStore::open(g.repo); !is_s3 && existing.ok()) {
        if ((*existing)->stat("config").ok())
            return already_exists(g.repo +
                                  " already holds a coffer repository; refusing to overwrite it");
        auto listing = (*existing)->list("");
        if (listing.ok() && !listing->empty())
            return already_exists(g.repo + " is not empty; choose a new or empty directory");
    }
    std::shared_ptr<store::Store> store;
    if (is_s3) {
        // Like restic, init creates the bucket when it is missing; the prefix must be empty.
        TRY_ASSIGN(store, create_s3_store(g));
        if (store->stat("config").ok())
            return already_exists(g.repo +
                                  " already holds a coffer repository; refusing to overwrite it");
        TRY_ASSIGN(auto listing, store->list(""));
        if (!listing.empty())
            return already_exists(g.repo +
                                  " is not empty; choose a new bucket or an unused prefix");
    }
    TRY(make_dirs(parent_of(key_path), 0700));
    if (!a.recovery_key_out.empty()) TRY(make_dirs(parent_of(a.recovery_key_out), 0700));

    if (!is_s3) {
        TRY_ASSIGN(auto local, store::LocalStore::create(g.repo));
        store = std::move(local);
    }
    repo::InitOptions opts;
    opts.host = a.hostname.empty() ? this_host() : a.hostname;
    opts.chunk_avg_size = a.chunk_size;
    TRY_ASSIGN(auto created, repo::Repository::init(store, opts));
    const auto& config = created.repository->config();
    TRY(created.host_key.save(key_path));

    if (k > 0) {
        TRY_ASSIGN(auto shares, repo::split_recovery_key(created.recovery_key, k, n));
        std::vector<std::string> paths;
        Status written;
        if (!a.shares_out.empty()) {
            auto w = write_share_files(shares, a.shares_out, config.id.hex());
            if (w.ok())
                paths = std::move(*w);
            else
                written = w.status();  // printed below instead: never lose the only copy
        }
        if (!g.json)
            std::cout << "created coffer repository " << config.id.short_hex() << " at " << g.repo
                      << "\nhost key written to " << key_path << " (mode 0600)\n";
        print_shares(g, shares, paths, config.id.hex(),
                     {{"repository", g.repo},
                      {"host_key", key_path},
                      {"key_id", created.host_key.key_id_hex()}});
        if (!written.ok())
            return written.with_context(
                "the repository was created, but its recovery shares could not be written; they "
                "are printed above, the only copy: save them now");
        return ok_status();
    }

    std::string recovery_text = created.recovery_key.to_text();
    struct Wipe {
        std::string& s;
        ~Wipe() { secure_wipe(s.data(), s.size()); }
    } wipe{recovery_text};
    if (!a.recovery_key_out.empty()) {
        std::string file_text = recovery_text + "\n";
        Status st = write_new_file(a.recovery_key_out, as_bytes(file_text), 0600);
        secure_wipe(file_text.data(), file_text.size());
        TRY(st);
    }

    if (g.json) {
        nlohmann::json j = {{"repository_id", config.id.hex()},
                            {"repository", g.repo},
                            {"host_key", key_path},
                            {"key_id", created.host_key.key_id_hex()}};
        if (a.recovery_key_out.empty())
            j["recovery_key"] = recovery_text;
        else
            j["recovery_key_file"] = a.recovery_key_out;
        print_json(j);
        return ok_status();
    }
    std::cout << "created coffer repository " << config.id.short_hex() << " at " << g.repo << "\n"
              << "host key written to " << key_path << " (mode 0600)\n";
    if (!a.recovery_key_out.empty()) {
        std::cout << "recovery key written to " << a.recovery_key_out << " (mode 0600)\n\n"
                  << "Move that file off this host now (password manager, offline vault).\n"
                  << "coffer never stores the recovery key; without it no backup can be "
                     "restored.\n";
    } else {
        std::cout << "\nRECOVERY KEY (shown once: coffer never stores it and cannot show it "
                     "again):\n\n  "
                  << recovery_text << "\n\n"
                  << "Store it outside this host (password manager, printed copy in a safe).\n"
                  << "Without it no backup can be restored; with it and the repository, "
                     "everything can.\n";
    }
    return ok_status();
}

}  // namespace

void register_init(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto args = std::make_shared<InitArgs>();
    CLI::App* cmd =
        app.add_subcommand("init", "Create a repository, a host key and the recovery key");
    cmd->add_option("--recovery-key-out", args->recovery_key_out,
                    "Write the recovery key to this file (0600) instead of printing it");
    cmd->add_option("--shares", args->shares,
                    "K-of-N: give the recovery key only as N shares, any K of which recover it");
    cmd->add_option("--shares-out", args->shares_out,
                    "With --shares: write one file per share into this directory (0700; files "
                    "0600) instead of printing them");
    cmd->add_option("--hostname", args->hostname, "Host name recorded in the key registry");
    cmd->add_option("--chunk-size", args->chunk_size,
                    "Average chunk size in bytes, a power of two (default 1 MiB)");
    cmd->callback([&g, &exit_code, args] {
        Status st = run_init(g, *args);
        exit_code = st.ok() ? k_exit_ok : fail(st);
    });
}

}  // namespace coffer::cli
