#include "coffer/server/metrics.h"

#include <cstdio>
#include <sstream>

namespace coffer::server {

namespace {

// Label values escape backslash, double quote and newline.
std::string label(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

class Writer {
public:
    void family(const char* name, const char* type, const char* help) {
        m_out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    }
    void sample(const char* name, const std::string& set, double value) {
        m_out << name;
        if (!set.empty()) m_out << "{set=\"" << label(set) << "\"}";
        m_out << ' ' << num(value) << '\n';
    }
    std::string str() const { return m_out.str(); }

private:
    std::ostringstream m_out;
};

}  // namespace

Result<std::string> render_metrics(const std::vector<SetPlan>& plans, const Facts& facts,
                                   StateDb& db, int64_t now_ns) {
    struct Row {
        std::optional<Run> last, success;
        uint64_t failures = 0;
        SetFacts facts;
    };
    std::vector<Row> rows;
    for (const auto& p : plans) {
        Row r;
        TRY_ASSIGN(r.last, db.last_run(p.name, "backup"));
        TRY_ASSIGN(r.success, db.last_success(p.name, "backup"));
        TRY_ASSIGN(r.failures, db.failures(p.name, "backup"));
        if (auto it = facts.sets.find(p.name); it != facts.sets.end()) r.facts = it->second;
        rows.push_back(std::move(r));
    }
    Writer w;
    w.family("coffer_up", "gauge", "1 while the coffer daemon runs");
    w.sample("coffer_up", "", 1);
    w.family("coffer_last_success_timestamp_seconds", "gauge",
             "End of the last successful backup of the set");
    for (size_t i = 0; i < plans.size(); ++i)
        if (rows[i].success)
            w.sample("coffer_last_success_timestamp_seconds", plans[i].name,
                     double(rows[i].success->end_ns) / 1e9);
    w.family("coffer_last_run_duration_seconds", "gauge", "Duration of the last backup run");
    w.family("coffer_last_run_success", "gauge", "1 if the last backup run succeeded, else 0");
    for (size_t i = 0; i < plans.size(); ++i) {
        if (!rows[i].last || !rows[i].last->end_ns) continue;
        w.sample("coffer_last_run_duration_seconds", plans[i].name,
                 double(rows[i].last->end_ns - rows[i].last->start_ns) / 1e9);
        w.sample("coffer_last_run_success", plans[i].name, rows[i].last->outcome == "ok");
    }
    w.family("coffer_last_backup_bytes_read", "gauge", "Bytes the last successful backup read");
    w.family("coffer_last_backup_bytes_added", "gauge",
             "New bytes the last successful backup added to the repository");
    for (size_t i = 0; i < plans.size(); ++i) {
        if (!rows[i].success) continue;
        w.sample("coffer_last_backup_bytes_read", plans[i].name,
                 double(rows[i].success->bytes_read));
        w.sample("coffer_last_backup_bytes_added", plans[i].name,
                 double(rows[i].success->bytes_added));
    }
    w.family("coffer_backup_failures_total", "counter", "Failed or interrupted backup runs");
    for (size_t i = 0; i < plans.size(); ++i)
        w.sample("coffer_backup_failures_total", plans[i].name, double(rows[i].failures));
    w.family("coffer_snapshots", "gauge", "Snapshots of the set in the repository");
    for (size_t i = 0; i < plans.size(); ++i)
        w.sample("coffer_snapshots", plans[i].name, double(rows[i].facts.snapshots));
    w.family("coffer_rpo_seconds", "gauge", "The set's recovery point objective");
    w.family("coffer_rpo_age_seconds", "gauge",
             "Age of the set's newest snapshot (what the RPO is measured against)");
    w.family("coffer_rpo_violated", "gauge", "1 when the newest snapshot is older than the RPO");
    for (size_t i = 0; i < plans.size(); ++i) {
        const auto& newest = rows[i].facts.newest_ns;
        if (newest)
            w.sample("coffer_rpo_age_seconds", plans[i].name, double(now_ns - *newest) / 1e9);
        if (!plans[i].rpo_ns) continue;
        w.sample("coffer_rpo_seconds", plans[i].name, double(*plans[i].rpo_ns) / 1e9);
        bool late = !newest || now_ns - *newest > *plans[i].rpo_ns;
        w.sample("coffer_rpo_violated", plans[i].name, late);
    }
    w.family("coffer_repository_size_bytes", "gauge", "Bytes of packs in the repository");
    w.sample("coffer_repository_size_bytes", "", double(facts.repository_bytes));
    return w.str();
}

}  // namespace coffer::server
