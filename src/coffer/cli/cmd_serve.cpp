// coffer serve: the daemon. Runs every set that has a schedule (then its retention, prune and
// mirrors), one job at a time, each as a child `coffer` process so that a crash or a leak in
// one job never takes the daemon with it; logs one JSON object per line on stdout; serves
// /metrics and /healthz; alerts through [server] webhook_url / on_failure. SIGTERM or SIGINT
// stops it: the running job is sent SIGTERM (a backup killed before its manifest leaves no
// snapshot, only unreferenced data that prune removes) and nothing new starts.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "coffer/api/dashboard.h"
#include "coffer/api/tls.h"
#include "coffer/cli/common.h"
#include "coffer/cli/serve_api.h"
#include "coffer/cli/serve_api_util.h"
#include "coffer/retention/policy.h"
#include "coffer/server/daemon.h"
#include "coffer/server/http.h"
#include "coffer/server/metrics.h"
#include "coffer/server/notify.h"
#include "coffer/source/process.h"
#include "coffer/util/file.h"

namespace coffer::cli {

namespace {

struct ServeArgs {
    std::string listen;
    std::string metrics_listen;
    std::string state_dir;
};

std::string self_exe() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "coffer";
    return std::string(buf, static_cast<size_t>(n));
}

// The last "coffer: ..." line of a child's stderr: its one-line error.
std::string error_line(const std::string& err) {
    std::string last;
    size_t pos = 0;
    while (pos < err.size()) {
        size_t end = err.find('\n', pos);
        if (end == std::string::npos) end = err.size();
        std::string line = err.substr(pos, end - pos);
        if (line.rfind("coffer: ", 0) == 0) last = line.substr(8);
        pos = end + 1;
    }
    return last;
}

class Runner {
public:
    Runner(std::string exe, std::string config, const config::ServerConfig& server,
           std::string state)
        : m_exe(std::move(exe)),
          m_config(std::move(config)),
          m_server(server),
          m_state(std::move(state)) {}

    server::JobResult run(const std::string& set, const std::string& job,
                          const server::JobInput& input, const std::function<void()>& tick) {
        std::vector<std::string> argv = {m_exe, "--config", m_config, "--json"};
        std::vector<std::string> env;
        if (job == "restore") {
            argv.insert(argv.end(), {"restore", "--set", set});
            // The actor in the child's audit entries: still the OS user, and for whom.
            env.push_back("COFFER_API_USER=" + input.by);
        } else if (job == "backup")
            argv.insert(argv.end(), {"backup", "--set", set});
        else if (job == "forget")
            argv.insert(argv.end(), {"forget", "--set", set});
        else if (job == "drill")
            argv.insert(argv.end(), {"drill", "--set", set});
        else if (job == "prune")
            argv.insert(argv.end(),
                        {"prune", "--grace", retention::format_duration(m_server.prune_grace_s),
                         "--max-unused", std::to_string(m_server.prune_max_unused)});
        else
            argv.push_back("mirror");
        argv.insert(argv.end(), input.args.begin(), input.args.end());
        // A requested job's progress line, for GET /api/v1/sets/{set}/jobs/{id} to show.
        const std::string progress =
            input.request_id ? job_progress_file(m_state, input.request_id) : std::string();
        if (!progress.empty()) {
            env.push_back("COFFER_PROGRESS_FILE=" + progress);
            ::unlink(progress.c_str());  // a killed job's, of an id from before a restart
        }
        struct RemoveProgress {
            const std::string& path;
            ~RemoveProgress() {
                if (!path.empty()) ::unlink(path.c_str());
            }
        } remove_progress{progress};
        server::JobResult r;
        // The secret goes through a pipe filled before the child starts (it is far below the
        // pipe's capacity), so it is in no file, no argument and no environment variable.
        int secret_pipe[2] = {-1, -1};
        if (!input.secret.empty()) {
            if (::pipe2(secret_pipe, O_CLOEXEC) != 0) {
                r.error = "create a pipe for the job's key: " + std::string(std::strerror(errno));
                return r;
            }
            // Never blocking: a secret larger than the pipe fails the job instead of stopping
            // the daemon (the API caps it far below).
            (void)::fcntl(secret_pipe[1], F_SETFL, O_NONBLOCK);
            Status st = write_all(secret_pipe[1], input.secret.view(), "the job's key pipe");
            input.secret.wipe();  // the pipe has it now; not kept for the hours a restore takes
            ::close(secret_pipe[1]);
            if (!st.ok()) {
                ::close(secret_pipe[0]);
                r.error = st.message();
                return r;
            }
        }
        auto p = source::Process::start("", source::Pipe::from_stdout, env, argv, secret_pipe[0]);
        if (secret_pipe[0] >= 0) ::close(secret_pipe[0]);
        if (!p.ok()) {
            r.error = p.status().message();
            return r;
        }
        {
            std::lock_guard lock(m_mu);
            m_child = (*p)->pid();
            if (m_stopping) ::kill(m_child, SIGTERM);  // stop() came between start and here
        }
        std::string out;
        char buf[8192];
        for (;;) {
            struct pollfd pfd = {(*p)->fd(), POLLIN, 0};
            int ready = ::poll(&pfd, 1, 1000);
            if (ready == 0) {
                tick();  // RPO checks go on during a long job
                continue;
            }
            if (ready < 0 && errno == EINTR) continue;
            ssize_t n = ::read((*p)->fd(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            if (out.size() < (1 << 20)) out.append(buf, static_cast<size_t>(n));
        }
        {
            // Before wait() reaps it: after that the pid may be another process's.
            std::lock_guard lock(m_mu);
            m_child = -1;
        }
        Status st = (*p)->wait("coffer " + job);
        int code = (*p)->exit_code();
        auto j = nlohmann::json::parse(out, nullptr, false);
        // The snapshot a drill restored, passed or failed; the rest of its result is in the
        // audit log.
        if ((job == "drill" || job == "restore") && j.is_object()) {
            r.snapshot = j.value("snapshot_id", "");
            r.report = j;
        }
        if (code == 0) {
            r.outcome = "ok";
            if (job == "backup" && j.is_object()) {
                r.snapshot = j.value("snapshot_id", "");
                if (j.contains("summary")) {
                    r.bytes_read = j["summary"].value("bytes_read", uint64_t{0});
                    r.bytes_added = j["summary"].value("data_added", uint64_t{0});
                }
            }
            return r;
        }
        r.error = error_line((*p)->stderr_tail());
        if (r.error.empty()) r.error = st.message();
        if (m_stopping && code == 128 + SIGTERM) {
            r.outcome = "aborted";
            r.error = "stopped by SIGTERM";
        } else if (job == "prune" && code == k_exit_locked) {
            r.outcome = "skipped";  // a backup elsewhere holds a lease: prune next time
        }
        return r;
    }

    void stop() {
        std::lock_guard lock(m_mu);
        m_stopping = true;
        if (m_child > 0) ::kill(m_child, SIGTERM);
    }

private:
    std::string m_exe, m_config;
    config::ServerConfig m_server;
    std::string m_state;
    std::mutex m_mu;  // m_child: a signal only ever goes to our own unreaped child
    pid_t m_child = -1;
    std::atomic<bool> m_stopping{false};
};

// Newest snapshot and count per set, and the packs' size, read with the host key.
Result<server::Facts> read_facts(GlobalOptions& g) {
    TRY_ASSIGN(OpenedRepo opened, open_repository(g, KeyNeed::host));
    server::Facts f;
    TRY_ASSIGN(auto per_set, snapshots_by_set(*opened.repo));
    for (const auto& [set, s] : per_set) f.sets[set] = {s.newest_ns, s.count};
    TRY_ASSIGN(auto packs, opened.store->list("packs/"));
    for (const auto& o : packs) f.repository_bytes += o.size;
    f.read_ns = repo::now_unix_ns();
    return f;
}

int run_serve(GlobalOptions& g, const ServeArgs& a) {
    if (g.config.empty()) {
        const char* env = std::getenv("COFFER_CONFIG");
        g.config = env && *env ? env : "/etc/coffer/coffer.toml";
    }
    auto cfg = load_config(g);
    if (!cfg.ok()) return fail(cfg.status());
    std::vector<server::SetPlan> plans;
    for (const auto& s : cfg->sets) {
        if (s.schedule.empty()) continue;
        auto sched = schedule::Schedule::parse(s.schedule, s.timezone);
        if (!sched.ok()) return fail(sched.status().with_context("set '" + s.name + "'"));
        server::SetPlan p{s.name, *sched, std::nullopt, std::nullopt, s.retention.has_value()};
        if (s.rpo_seconds) p.rpo_ns = *s.rpo_seconds * 1000000000;
        if (s.rto_seconds) p.rto_ns = *s.rto_seconds * 1000000000;
        if (!s.drill_schedule.empty()) {
            auto drill = schedule::Schedule::parse(s.drill_schedule, s.timezone);
            if (!drill.ok())
                return fail(drill.status().with_context("set '" + s.name + "' drill_schedule"));
            p.drill = *drill;
        }
        plans.push_back(std::move(p));
    }
    if (plans.empty())
        return fail(invalid_argument("no set in " + cfg->path +
                                     " has a schedule: add schedule = \"@daily\" (or a cron "
                                     "expression) to a [[set]]"));
    std::string state = !a.state_dir.empty()             ? a.state_dir
                        : !cfg->server.state_dir.empty() ? cfg->server.state_dir
                                                         : default_daemon_state_dir();
    auto db = server::StateDb::open(state);
    if (!db.ok()) return fail(db.status());

    // SIGTERM and SIGINT are taken by a thread of their own (sigwait), so no handler runs in
    // the middle of anything; children start with an empty mask (source::Process).
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    std::mutex log_mu;
    auto log = [&](const nlohmann::json& e) {
        std::lock_guard lock(log_mu);
        std::fputs(
            (e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n").c_str(),
            stdout);
        std::fflush(stdout);
    };
    server::Notifier notifier(cfg->server.webhook_url, cfg->server.on_failure);
    Runner runner(self_exe(), cfg->path, cfg->server, state);
    std::mutex sleep_mu;
    std::condition_variable sleep_cv;
    server::Daemon* daemon_ptr = nullptr;

    server::DaemonHooks hooks;
    hooks.now = [] { return repo::now_unix_ns(); };
    hooks.sleep_until = [&](int64_t until) {
        std::unique_lock lock(sleep_mu);
        auto deadline = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::nanoseconds(until)));
        sleep_cv.wait_until(lock, deadline,
                            [&] { return daemon_ptr->stopping() || daemon_ptr->has_work(); });
        return !daemon_ptr->stopping();
    };
    hooks.wake = [&] {
        std::lock_guard lock(sleep_mu);
        sleep_cv.notify_all();
    };
    hooks.run_job = [&](const std::string& set, const std::string& job,
                        const server::JobInput& input, const std::function<void()>& tick) {
        return runner.run(set, job, input, tick);
    };
    hooks.facts = [&]() { return read_facts(g); };
    hooks.on_event = [&](const nlohmann::json& e) {
        log(e);
        if (!e.value("alert", false) || !notifier.enabled()) return;
        Status st = notifier.notify(e);
        if (!st.ok()) log({{"event", "notify_failed"}, {"error", st.message()}});
    };
    server::DaemonOptions opts;
    opts.catch_up = cfg->server.catch_up;
    opts.prune = cfg->server.prune;
    opts.mirror = !cfg->repository.mirrors.empty();
    server::Daemon daemon(plans, **db, opts, hooks);
    daemon_ptr = &daemon;

    auto metrics = [&]() -> server::Response {
        auto text =
            server::render_metrics(daemon.plans(), daemon.facts(), **db, repo::now_unix_ns());
        if (!text.ok()) return {500, text.status().message() + "\n"};
        return {200, *text, "text/plain; version=0.0.4; charset=utf-8"};
    };
    auto health = []() -> server::Response {
        return {200, "{\"status\":\"ok\"}\n", "application/json"};
    };

    // The HTTPS API at [server] listen, with its users and tokens beside the run history.
    std::string listen = a.listen.empty() ? cfg->server.listen : a.listen;
    auto access = api::AccessDb::open(state);
    if (!access.ok()) return fail(access.status());
    auto hp = server::split_listen(listen);
    if (!hp.ok()) return fail(hp.status().with_context("[server] listen"));
    auto cert =
        api::ensure_certificate(cfg->server.tls_cert, cfg->server.tls_key, state, hp->first);
    if (!cert.ok()) return fail(cert.status());
    ServeApi serve_api{g, daemon, **db, **access, self_exe(), cfg->path, state, {}};
    std::mutex audit_mu;
    api::ServerOptions api_opts;
    api_opts.listen = listen;
    api_opts.certificate = *cert;
    api_opts.access = access->get();
    api_opts.routes = serve_routes(serve_api);
    api_opts.assets = api::dashboard_assets();
    api_opts.metrics = [&] {
        auto r = metrics();
        return api::PlainResponse{r.status, r.body, r.content_type};
    };
    api_opts.health = [&] {
        auto r = health();
        return api::PlainResponse{r.status, r.body, r.content_type};
    };
    api_opts.on_audit = [&](const nlohmann::json& e) {
        std::string user = e.value("user", "");
        nlohmann::json details = e.value("details", nlohmann::json::object());
        details["client"] = e.value("client", "");
        std::lock_guard lock(audit_mu);
        std::lock_guard repo_lock(serve_api.repo_mu);
        Status st = audit_as(g, (user.empty() ? std::string("anonymous") : user) + " via api",
                             e.value("action", "api"), details.value("path", ""),
                             e.value("outcome", ""), details);
        if (!st.ok()) log({{"event", "audit_failed"}, {"error", st.message()}});
    };
    auto https = api::ApiServer::start(std::move(api_opts));
    if (!https.ok()) return fail(https.status());
    // Plain HTTP for /metrics and /healthz only, when [server] metrics_listen asks for it.
    std::unique_ptr<server::HttpServer> http;
    std::string metrics_listen =
        !a.metrics_listen.empty() ? a.metrics_listen : cfg->server.metrics_listen;
    if (!metrics_listen.empty()) {
        auto plain = server::HttpServer::start(metrics_listen, metrics, health);
        if (!plain.ok()) return fail(plain.status().with_context("[server] metrics_listen"));
        http = std::move(*plain);
    }
    nlohmann::json started = {
        {"event", "started"},
        {"config", cfg->path},
        {"state_dir", state},
        {"listen", (*https)->host() + ":" + std::to_string((*https)->port())},
        {"url", "https://" +
                    ((*https)->host().find(':') != std::string::npos ? "[" + (*https)->host() + "]"
                                                                     : (*https)->host()) +
                    ":" + std::to_string((*https)->port()) + "/"},
        {"tls_fingerprint_sha256", cert->fingerprint},
        {"sets", plans.size()},
        {"pid", ::getpid()}};
    if (http) started["metrics_listen"] = http->host() + ":" + std::to_string(http->port());
    log(started);
    if (cert->generated)
        log({{"event", "tls_certificate_generated"},
             {"certificate", cert->cert_path},
             {"fingerprint_sha256", cert->fingerprint}});

    std::thread signals([&] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        if (daemon.stopping()) return;  // woken by run() ending on its own
        log({{"event", "stopping"}, {"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
        daemon.stop();
        runner.stop();
        std::lock_guard lock(sleep_mu);
        sleep_cv.notify_all();
    });
    Status st = daemon.run();
    if (!daemon.stopping()) daemon.stop();
    pthread_kill(signals.native_handle(), SIGTERM);
    signals.join();
    https->reset();
    http.reset();
    if (!st.ok()) return fail(st);
    return k_exit_ok;
}

}  // namespace

void register_serve(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto a = std::make_shared<ServeArgs>();
    CLI::App* cmd = app.add_subcommand(
        "serve", "Run the daemon: scheduled backups, retention, prune, mirrors, /metrics");
    cmd->add_option("--listen", a->listen,
                    "Address of the HTTPS API, dashboard, /metrics and /healthz (default "
                    "[server] listen, 127.0.0.1:8443)");
    cmd->add_option("--metrics-listen", a->metrics_listen,
                    "Also serve /metrics and /healthz over plain HTTP here (default [server] "
                    "metrics_listen: none)");
    cmd->add_option("--state-dir", a->state_dir,
                    "Where the run history lives (default [server] state_dir)");
    cmd->callback([&g, &exit_code, a] { exit_code = run_serve(g, *a); });
}

}  // namespace coffer::cli
