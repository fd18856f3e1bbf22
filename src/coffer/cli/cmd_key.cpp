// coffer key split|protect: the recovery key as K-of-N shares (repo/recovery_share.h), one per
// holder, and key or share files sealed with a passphrase (repo/passphrase.h).
#include <sys/stat.h>

#include <cstdio>

#include "coffer/cli/common.h"
#include "coffer/repo/passphrase.h"
#include "coffer/repo/recovery_share.h"
#include "coffer/util/file.h"

namespace coffer::cli {

Result<std::vector<std::string>> write_share_files(const std::vector<repo::RecoveryShare>& shares,
                                                   const std::string& dir,
                                                   const std::string& repository_id) {
    std::vector<std::string> paths;
    for (const auto& s : shares)
        paths.push_back(dir + "/share-" + std::to_string(s.index) + "-of-" + std::to_string(s.n) +
                        ".txt");
    // Every file is new: refuse before writing any, so no set of shares is half replaced.
    for (const auto& p : paths)
        if (struct stat st{}; ::lstat(p.c_str(), &st) == 0)
            return already_exists("share file " + p +
                                  " already exists; refusing to overwrite it (choose another "
                                  "--out directory)");
    TRY(make_dirs(dir, 0700));
    for (size_t i = 0; i < shares.size(); ++i) {
        std::string text = share_file_text(shares[i], repository_id);
        Status st = write_new_file(paths[i], as_bytes(text), 0600);
        secure_wipe(text.data(), text.size());
        if (!st.ok()) {
            for (size_t j = 0; j <= i; ++j) ::unlink(paths[j].c_str());  // all or none
            return st;
        }
    }
    return paths;
}

void print_shares(const GlobalOptions& g, const std::vector<repo::RecoveryShare>& shares,
                  const std::vector<std::string>& paths, const std::string& repository_id,
                  const nlohmann::json& extra) {
    const auto& first = shares.front();
    if (g.json) {
        nlohmann::json j = {{"repository_id", repository_id},
                            {"k", first.k},
                            {"n", first.n},
                            {"split_id", to_hex(first.split_id)}};
        j.update(extra);
        if (paths.empty()) {
            j["shares"] = nlohmann::json::array();
            for (const auto& s : shares) j["shares"].push_back(s.to_text());
        } else {
            j["files"] = paths;
        }
        print_json(j);
        return;
    }
    std::printf("recovery key split into %d shares, any %d of which recover it (split %s)\n",
                first.n, first.k, to_hex(first.split_id).c_str());
    if (!paths.empty()) {
        for (const auto& p : paths) std::printf("  %s (mode 0600)\n", p.c_str());
        std::printf(
            "\nGive each file to a different person, off this host. Fewer than %d of them reveal\n"
            "nothing about the key; %d of them, passed with --recovery-share FILE, stand in for\n"
            "it in every command.\n",
            first.k, first.k);
        return;
    }
    std::printf("\nSHARES (shown once; give each to a different person, off this host):\n\n");
    for (const auto& s : shares) std::printf("  %s\n", s.to_text().c_str());
    std::printf(
        "\nAny %d, each saved to a file and passed with --recovery-share FILE, stand in for\n"
        "the recovery key in every command; fewer reveal nothing about it.\n",
        first.k);
}

namespace {

struct SplitArgs {
    std::string shares;
    std::string out;
};

int run_split(GlobalOptions& g, const SplitArgs& a) {
    if (Status st = apply_config_if_given(g); !st.ok()) return fail(st);
    auto kn = repo::parse_k_of_n(a.shares);
    if (!kn.ok()) return fail(kn.status());
    auto opened = open_repository(g, KeyNeed::recovery);
    if (!opened.ok()) return fail(opened.status());
    const std::string id = opened->repo->config().id.hex();
    auto shares = repo::split_recovery_key(*opened->recovery, kn->first, kn->second);
    if (!shares.ok()) return fail(shares.status());
    g.audit.target = "recovery key of repository " + id;
    g.audit.details = {{"k", kn->first},
                       {"n", kn->second},
                       {"split_id", to_hex(shares->front().split_id)},
                       {"out", a.out}};
    std::vector<std::string> paths;
    if (!a.out.empty()) {
        auto written = write_share_files(*shares, a.out, id);
        if (!written.ok()) return fail(written.status());
        paths = std::move(*written);
    }
    print_shares(g, *shares, paths, id);
    return k_exit_ok;
}

struct ProtectArgs {
    std::string file;
    uint64_t kdf_mib = 256;
    uint64_t kdf_passes = 3;
};

// Seals a recovery key or share file with a passphrase, in place (atomically, 0600).
int run_protect(GlobalOptions& g, const ProtectArgs& a) {
    g.audit.target = a.file;
    // Rewriting a symlink would replace the link and leave its target readable; another hard
    // link would keep the old content under its other name.
    if (struct stat st{};
        ::lstat(a.file.c_str(), &st) == 0 && (!S_ISREG(st.st_mode) || st.st_nlink != 1))
        return fail(invalid_argument(a.file + " is not a plain file with one name (a symlink or "
                                              "hard link): protect the file itself"));
    auto file = read_secret_file(a.file);
    if (!file.ok()) return fail(file.status());
    if (repo::is_protected(file->view()))
        return fail(already_exists(a.file + " is already protected with a passphrase"));
    std::string_view text = as_chars(file->view());
    bool share = text.find("crs1-") != std::string_view::npos;
    Status form = share ? repo::RecoveryShare::load(a.file).status()
                        : repo::RecoveryKey::parse(text).status();
    if (!form.ok()) return fail(form.with_context(a.file + " is not a recovery key or share file"));
    if (a.kdf_mib < 8 || a.kdf_mib > (repo::k_max_kdf_mem >> 20) || a.kdf_passes < 1 ||
        a.kdf_passes > repo::k_max_kdf_ops)
        return fail(invalid_argument(
            "--kdf-memory must be 8 to " + std::to_string(repo::k_max_kdf_mem >> 20) +
            " MiB and --kdf-passes 1 to " + std::to_string(repo::k_max_kdf_ops)));
    auto passphrase = ask_passphrase(a.file, true);
    if (!passphrase.ok()) return fail(passphrase.status());
    auto sealed =
        repo::protect_text(file->view(), passphrase->view(), {a.kdf_passes, a.kdf_mib << 20});
    if (!sealed.ok()) return fail(sealed.status());
    Status st = write_file_atomic(a.file, as_bytes(*sealed), 0600);
    if (!st.ok()) return fail(st);
    g.audit.details = {{"kind", share ? "share" : "recovery key"},
                       {"kdf", "argon2id"},
                       {"kdf_memory_mib", a.kdf_mib},
                       {"kdf_passes", a.kdf_passes}};
    if (!g.quiet)
        std::printf(
            "%s is now protected with a passphrase (Argon2id, %llu MiB, %llu passes);\n"
            "coffer asks for it whenever it reads the file\n",
            a.file.c_str(), static_cast<unsigned long long>(a.kdf_mib),
            static_cast<unsigned long long>(a.kdf_passes));
    return k_exit_ok;
}

}  // namespace

void register_key(CLI::App& app, GlobalOptions& g, int& exit_code) {
    CLI::App* cmd = app.add_subcommand("key", "The recovery key's shares and the host keys");
    cmd->require_subcommand(1);
    auto a = std::make_shared<SplitArgs>();
    CLI::App* split = cmd->add_subcommand(
        "split", "Split the recovery key into K-of-N shares (needs the recovery key)");
    split->add_option("--shares", a->shares, "K-of-N: N shares, any K of which recover the key")
        ->required();
    split->add_option("--out", a->out,
                      "Write one file per share into this directory (0700; files 0600) instead "
                      "of printing them");
    split->callback([&g, &exit_code, a] {
        exit_code = run_split(g, *a);
        audit_command(g, "key.split", exit_code);
    });

    auto p = std::make_shared<ProtectArgs>();
    CLI::App* protect = cmd->add_subcommand(
        "protect", "Protect a recovery key or share file with a passphrase (Argon2id)");
    protect->add_option("file", p->file, "The recovery key or share file (rewritten in place)")
        ->required();
    protect->add_option("--kdf-memory", p->kdf_mib, "Argon2id memory in MiB (default 256)");
    protect->add_option("--kdf-passes", p->kdf_passes, "Argon2id passes (default 3)");
    protect->callback([&g, &exit_code, p] {
        exit_code = run_protect(g, *p);
        audit_command(g, "key.protect", exit_code);
    });
    register_key_hosts(cmd, g, exit_code);
    register_key_rotate(cmd, g, exit_code);
}

}  // namespace coffer::cli
