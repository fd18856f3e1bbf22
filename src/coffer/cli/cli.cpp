#include <cstdio>
#include <exception>

#include "coffer/cli/common.h"
#include "coffer/crypto/crypto.h"
#include "coffer/repo/passphrase.h"

namespace coffer::cli {

int run(int argc, char** argv) {
    Status init = crypto::init();
    if (!init.ok()) return fail(init);
    // Children (pg_dump, hooks) must not inherit a passphrase, nor /proc/<pid>/environ show it.
    take_passphrase_from_environment();
    repo::set_passphrase_source(
        [](const std::string& what) { return ask_passphrase(what, false); });
    CLI::App app{"coffer: encrypted, deduplicated, verifiable backups"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "coffer 0.1.0");
    GlobalOptions g;
    app.add_option("-c,--config", g.config, "Configuration file (coffer.toml)")
        ->envname("COFFER_CONFIG");
    app.add_option("-r,--repo", g.repo, "Repository location (a directory)")
        ->envname("COFFER_REPO");
    app.add_option("--host-key", g.host_key,
                   "Host key file (default " + default_host_key_path() + ")")
        ->envname("COFFER_HOST_KEY");
    app.add_option("--recovery-key-file", g.recovery_key_file,
                   "File holding the recovery key (needed to read backups), or '-' to type "
                   "the key's text in (hidden; a line of standard input when it is not a "
                   "terminal)")
        ->envname("COFFER_RECOVERY_KEY_FILE");
    app.add_option("--recovery-share", g.recovery_shares,
                   "A recovery share file (coffer key split), or '-' to type one in (hidden; "
                   "a line of standard input when it is not a terminal); K of them stand in "
                   "for the recovery key file. Repeat once per share")
        ->allow_extra_args(false);
    app.add_option("--previous-recovery-key-file", g.previous_recovery_key_file,
                   "After 'coffer key rotate-recovery' without --rewrap: the recovery key it "
                   "replaced, for the packs still sealed to it");
    app.add_option("--previous-recovery-share", g.previous_recovery_shares,
                   "A share file of that replaced key; K of them stand in for "
                   "--previous-recovery-key-file. Repeat once per share")
        ->allow_extra_args(false);
    app.add_flag("--json", g.json, "Machine-readable output");
    app.add_flag("-q,--quiet", g.quiet, "Print only errors and results");
    app.add_option("--threads", g.threads, "Worker threads (default: one per core)");
    app.fallthrough();

    int exit_code = k_exit_ok;
    register_init(app, g, exit_code);
    register_backup(app, g, exit_code);
    register_snapshots(app, g, exit_code);
    register_ls(app, g, exit_code);
    register_restore(app, g, exit_code);
    register_verify(app, g, exit_code);
    register_config(app, g, exit_code);
    register_diff(app, g, exit_code);
    register_mirror(app, g, exit_code);
    register_forget(app, g, exit_code);
    register_prune(app, g, exit_code);
    register_serve(app, g, exit_code);
    register_status(app, g, exit_code);
    register_audit(app, g, exit_code);
    register_drill(app, g, exit_code);
    register_key(app, g, exit_code);
    register_export(app, g, exit_code);
    register_recover(app, g, exit_code);
    register_user(app, g, exit_code);
    for (CLI::App* sub : app.get_subcommands({})) sub->fallthrough();

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "coffer: %s (see 'coffer --help')\n", e.what());
        return k_exit_usage;
    } catch (const std::exception& e) {
        // No exception may escape a layer; this is the last line of defence.
        return fail(internal_error(std::string("unexpected error: ") + e.what()));
    }
    // Every command that reads or changes backups leaves an audit entry, failures and refusals
    // included. Not recorded: reading the audit log itself, config checks, status and the
    // daemon (whose jobs record themselves).
    for (CLI::App* sub : app.get_subcommands()) {
        std::string name = sub->get_name();
        // key split|protect, user.* and token.* record themselves, under their own names.
        if (name == "audit" || name == "config" || name == "status" || name == "serve" ||
            name == "key" || name == "user" || name == "token")
            continue;
        audit_command(g, name, exit_code);
    }
    return exit_code;
}

}  // namespace coffer::cli
