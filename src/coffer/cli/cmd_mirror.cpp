// coffer mirror: copies every object the repository has and a mirror lacks, with no key (see
// mirror/mirror.h for the order that keeps a mirror consistent). `--check` shows, per location,
// the newest snapshot and how far it lags the primary (with the host key), and what a run would
// copy (without).
#include <atomic>
#include <cstdio>
#include <mutex>

#include "coffer/cli/common.h"
#include "coffer/mirror/mirror.h"
#include "coffer/store/local/local_store.h"

namespace coffer::cli {

namespace {

struct MirrorArgs {
    std::vector<std::string> to;
    bool check = false;
};

Result<std::vector<std::string>> mirror_urls(GlobalOptions& g, const MirrorArgs& a) {
    if (!a.to.empty()) return a.to;
    if (g.config.empty())
        return invalid_argument(
            "no mirror given: pass --to URL, or list them in [repository] mirrors of the config "
            "file (--config)");
    TRY_ASSIGN(config::Config cfg, load_config(g));
    if (cfg.repository.mirrors.empty())
        return invalid_argument("no mirror given: " + cfg.path +
                                " lists no [repository] mirrors; add some or pass --to URL");
    return cfg.repository.mirrors;
}

// A mirror location; a local directory or a bucket is created on first use.
Result<std::shared_ptr<store::Store>> open_mirror(const GlobalOptions& g, const std::string& url,
                                                  bool create) {
    GlobalOptions m = g;
    m.repo = url;
    m.config.clear();  // the primary's config was applied already; it must not replace url
    // Like init: a missing bucket is created; the mirror's first objects make it a repository.
    if (create && url.rfind("s3:", 0) == 0) return create_s3_store(m);
    auto s = open_store(m);
    if (s.ok() || !create || s.status().code() != Code::not_found) return s;
    TRY_ASSIGN(auto local, store::LocalStore::create(url));
    return std::shared_ptr<store::Store>(std::move(local));
}

// Newest snapshot time (ns) of a repository, with the host key; nullopt without it or when it
// has none.
std::optional<int64_t> newest_snapshot(const GlobalOptions& g, std::shared_ptr<store::Store> s) {
    auto host = load_host_key_if_present(g);
    if (!host.ok() || !*host) return std::nullopt;
    auto r = repo::Repository::open(std::move(s), &**host, nullptr);
    if (!r.ok()) return std::nullopt;
    auto list = (*r)->list_snapshots();
    if (!list.ok() || list->empty()) return std::nullopt;
    int64_t newest = 0;
    for (const auto& snap : *list) newest = std::max(newest, snap.time_ns);
    return newest;
}

// The primary's snapshots oldest first, when the host key is at hand (see mirror::Options).
Result<std::vector<std::string>> snapshot_order(const GlobalOptions& g,
                                                std::shared_ptr<store::Store> primary) {
    // Best effort: a host key that does not open this repository only costs the ordering.
    std::vector<std::string> names;
    auto host = load_host_key_if_present(g);
    if (!host.ok() || !*host) return names;
    auto r = repo::Repository::open(std::move(primary), &**host, nullptr);
    if (!r.ok()) return names;
    auto list = (*r)->list_snapshots();
    if (!list.ok()) return names;
    for (const auto& s : *list) names.push_back("snapshots/" + s.id.hex());
    return names;
}

int run_check(GlobalOptions& g, std::shared_ptr<store::Store> primary,
              const std::vector<std::string>& urls) {
    auto primary_newest = newest_snapshot(g, primary);
    nlohmann::json rows = nlohmann::json::array();
    auto when = [](std::optional<int64_t> t) {
        return t ? repo::format_rfc3339(*t).substr(0, 19) + "Z" : std::string("-");
    };
    rows.push_back({{"location", primary->location()},
                    {"role", "primary"},
                    {"newest_snapshot", when(primary_newest)}});
    bool all_current = true;
    for (const auto& url : urls) {
        nlohmann::json row = {{"location", url}, {"role", "mirror"}};
        auto s = open_mirror(g, url, false);
        if (!s.ok()) {
            row["error"] = s.status().message();
            all_current = false;
            rows.push_back(row);
            continue;
        }
        auto lag = mirror::compare(*primary, **s);
        if (!lag.ok()) {
            row["error"] = lag.status().message();
            all_current = false;
            rows.push_back(row);
            continue;
        }
        auto newest = lag->same_repository ? newest_snapshot(g, *s) : std::nullopt;
        row["newest_snapshot"] = when(newest);
        row["missing_objects"] = lag->missing_objects;
        row["missing_bytes"] = lag->missing_bytes;
        row["same_repository"] = lag->same_repository;
        if (primary_newest)
            row["lag_seconds"] =
                newest
                    ? nlohmann::json(std::max<int64_t>(0, (*primary_newest - *newest) / 1000000000))
                    : nlohmann::json(nullptr);
        all_current = all_current && lag->same_repository && lag->missing_objects == 0;
        rows.push_back(row);
    }
    if (g.json) {
        print_json({{"locations", rows}, {"current", all_current}});
    } else {
        for (const auto& r : rows) {
            std::string line = r["role"].get<std::string>() + "  " +
                               r["location"].get<std::string>() +
                               "  newest snapshot: " + r.value("newest_snapshot", "-");
            if (r.contains("error")) line += "  ERROR: " + r["error"].get<std::string>();
            if (r.contains("missing_objects")) {
                if (!r["same_repository"].get<bool>())
                    line += "  holds ANOTHER repository";
                else if (r["missing_objects"].get<uint64_t>() == 0)
                    line += "  up to date";
                else
                    line += "  behind by " + std::to_string(r["missing_objects"].get<uint64_t>()) +
                            " objects (" + human_bytes(r["missing_bytes"].get<uint64_t>()) + ")";
            }
            if (r.contains("lag_seconds") && !r["lag_seconds"].is_null() &&
                r["lag_seconds"].get<int64_t>() > 0)
                line += ", " + human_duration(double(r["lag_seconds"].get<int64_t>())) +
                        " of snapshots";
            std::printf("%s\n", line.c_str());
        }
    }
    // Non-zero when a mirror is behind, so that monitoring can use the exit code.
    return all_current ? k_exit_ok : k_exit_incomplete;
}

int run_mirror(GlobalOptions& g, const MirrorArgs& a) {
    auto primary = open_store(g);
    if (!primary.ok()) return fail(primary.status());
    if (auto config = repo::Repository::read_config(**primary); !config.ok())
        return fail(config.status());
    auto urls = mirror_urls(g, a);
    if (!urls.ok()) return fail(urls.status());
    if (a.check) return run_check(g, *primary, *urls);

    nlohmann::json results = nlohmann::json::array();
    Status first_error = ok_status();
    // Read once, and only when some mirror lacks snapshots: it decrypts every manifest.
    std::optional<std::vector<std::string>> order;
    for (const auto& url : *urls) {
        auto to = open_mirror(g, url, true);
        Result<mirror::Outcome> done = to.status();
        // A mirror is written like a backup: a lease for each host key at the mirror keeps a
        // prune run there off packs whose index or snapshots are not copied yet.
        std::vector<std::unique_ptr<repo::Lock>> leases;
        Status setup = to.status();
        if (setup.ok()) {
            auto registry = repo::Repository::load_registry(**primary);
            setup = registry.status();
            if (setup.ok())
                for (const auto& entry : registry->entries) {
                    auto lease =
                        repo::Lock::acquire_lease(*to, entry.first, lock_options(g, "mirror"));
                    if (!lease.ok()) {
                        setup = lease.status().with_context("mirror to " + url);
                        break;
                    }
                    leases.push_back(std::move(*lease));
                }
            if (!setup.ok()) done = setup;
        }
        if (setup.ok()) {
            ProgressLine progress(!g.quiet && !g.json);
            std::mutex mu;
            uint64_t objects = 0, bytes = 0;
            mirror::Options o;
            if (g.threads) o.threads = g.threads;
            o.snapshot_order = [&]() -> Result<std::vector<std::string>> {
                if (!order) {
                    TRY_ASSIGN(order, snapshot_order(g, *primary));
                }
                return *order;
            };
            o.on_copied = [&](const std::string&, uint64_t n) {
                std::lock_guard lock(mu);
                objects++;
                bytes += n;
                progress.update("mirror to " + url + ": " + std::to_string(objects) + " objects, " +
                                human_bytes(bytes));
            };
            done = mirror::mirror(**primary, **to, o);
            for (auto& l : leases) {
                Status held = l->check();
                if (done.ok() && !held.ok()) done = held.with_context("mirror to " + url);
            }
        }
        for (auto& l : leases) (void)l->release();
        if (!done.ok()) {
            if (first_error.ok()) first_error = done.status();
            results.push_back({{"location", url}, {"error", done.status().message()}});
            if (!g.json) std::fprintf(stderr, "coffer: %s\n", done.status().message().c_str());
            continue;
        }
        results.push_back({{"location", url},
                           {"objects_copied", done->objects_copied},
                           {"bytes_copied", done->bytes_copied},
                           {"objects_present", done->objects_present}});
        if (!g.json && !g.quiet)
            std::printf("mirrored %llu objects (%s) to %s; %llu were there already\n",
                        static_cast<unsigned long long>(done->objects_copied),
                        human_bytes(done->bytes_copied).c_str(), url.c_str(),
                        static_cast<unsigned long long>(done->objects_present));
    }
    if (g.json) print_json({{"mirrors", results}});
    if (!first_error.ok()) return exit_code_for(first_error);
    return k_exit_ok;
}

}  // namespace

void register_mirror(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto args = std::make_shared<MirrorArgs>();
    CLI::App* cmd = app.add_subcommand(
        "mirror", "Copy the repository's missing objects to its mirrors (no key needed)");
    cmd->add_option("--to", args->to, "Mirror location (repeatable; default: the config's mirrors)")
        ->allow_extra_args(false);
    cmd->add_flag("--check", args->check,
                  "Only show each location's newest snapshot and what it lacks (exit 3 if behind)");
    cmd->callback([&g, &exit_code, args] { exit_code = run_mirror(g, *args); });
}

}  // namespace coffer::cli
