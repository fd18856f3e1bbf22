#include "coffer/drill/report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <optional>
#include <string_view>
#include <tuple>

#include "coffer/util/text.h"

namespace coffer::drill {

namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Reading the result leniently: the report is the one thing a user has after a drill that went
// wrong, so a field of the wrong type must cost that field, never the page.

const json& field(const json& j, const char* key) {
    static const json k_absent;
    if (!j.is_object()) return k_absent;
    auto it = j.find(key);
    return it == j.end() ? k_absent : *it;
}

std::string str(const json& j, const char* key) {
    const json& v = field(j, key);
    return v.is_string() ? v.get<std::string>() : std::string();
}

std::optional<double> num(const json& j, const char* key) {
    const json& v = field(j, key);
    if (!v.is_number()) return std::nullopt;
    const double d = v.get<double>();
    if (!std::isfinite(d)) return std::nullopt;
    return d;
}

std::optional<bool> flag(const json& j, const char* key) {
    const json& v = field(j, key);
    if (!v.is_boolean()) return std::nullopt;
    return v.get<bool>();
}

std::vector<std::string> strings(const json& j, const char* key) {
    std::vector<std::string> out;
    const json& v = field(j, key);
    if (!v.is_array()) return out;
    for (const auto& e : v)
        if (e.is_string()) out.push_back(e.get<std::string>());
    return out;
}

// A result that does not say it passed did not pass; an error means it did not run to the end,
// whatever "ok" says.
bool passed(const json& d) {
    return flag(d, "ok").value_or(false) && str(d, "error").empty();
}

struct Check {
    std::string source, name, detail;
    bool ok = false;
};

std::vector<Check> checks_of(const json& d) {
    std::vector<Check> out;
    const json& v = field(d, "checks");
    if (!v.is_array()) return out;
    for (const auto& c : v) {
        if (!c.is_object()) continue;
        out.push_back(
            {str(c, "source"), str(c, "check"), str(c, "detail"), flag(c, "ok").value_or(false)});
    }
    return out;
}

struct Phase {
    std::string name;
    double seconds = 0;
};

std::vector<Phase> phases_of(const json& d) {
    std::vector<Phase> out;
    const json& v = field(d, "phases");
    if (!v.is_array()) return out;
    for (const auto& p : v) {
        if (!p.is_object()) continue;
        out.push_back({str(p, "name"), std::max(0.0, num(p, "seconds").value_or(0.0))});
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Numbers and times.

std::string format(const char* fmt, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
}

std::string seconds_text(double s) {
    return format("%.2f s", s);
}

// "3.40 s", "42.0 s", "15m", "1h 30m", "2d 4h": two units at most, for objectives and ages.
std::string human(double s) {
    if (s < 0) return "-" + human(-s);
    if (s < 60) return format(s < 10 ? "%.2f s" : "%.1f s", s);
    if (s >= 1e12) return format("%.3g s", s);
    const int64_t t = std::llround(s);
    struct Unit {
        int64_t seconds;
        const char* suffix;
    };
    static constexpr Unit k_units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
    for (size_t i = 0; i + 1 < std::size(k_units); ++i) {
        if (t < k_units[i].seconds) continue;
        std::string out = std::to_string(t / k_units[i].seconds) + k_units[i].suffix;
        const int64_t rest = (t % k_units[i].seconds) / k_units[i + 1].seconds;
        if (rest) out += " " + std::to_string(rest) + k_units[i + 1].suffix;
        return out;
    }
    return std::to_string(t) + "s";
}

// drill::run writes nanosecond timestamps; a person reading the report wants seconds.
std::string display_time(std::string s) {
    if (s.size() > 19 && s[19] == '.') {
        size_t end = 20;
        while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
        s.erase(19, end - 19);
    }
    return s;
}

// Seconds since the epoch of an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)),
// for ordering the history: times with different offsets do not sort as text.
std::optional<double> unix_time(std::string_view s) {
    auto digits = [&](size_t pos, size_t n, int& out) { return fixed_digits(s, pos, n, out); };
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    if (s.size() < 20 || !digits(0, 4, y) || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' ||
        !digits(8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2, h) ||
        s[13] != ':' || !digits(14, 2, mi) || s[16] != ':' || !digits(17, 2, se))
        return std::nullopt;
    size_t pos = 19;
    double frac = 0, scale = 0.1;
    if (s[pos] == '.') {
        const size_t first = ++pos;
        for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, scale /= 10)
            frac += (s[pos] - '0') * scale;
        if (pos == first) return std::nullopt;
    }
    int64_t offset = 0;
    if (pos + 1 == s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        // UTC
    } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh = 0, om = 0;
        if (!digits(pos + 1, 2, oh) || s[pos + 3] != ':' || !digits(pos + 4, 2, om))
            return std::nullopt;
        offset = (s[pos] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    } else {
        return std::nullopt;
    }
    return static_cast<double>(utc_seconds(y, mo, d, h, mi, se) - offset) + frac;
}

// ---------------------------------------------------------------------------------------------
// Objectives.

enum class Verdict { met, missed, no_objective, not_measured };

struct Objective {
    Verdict verdict = Verdict::no_objective;
    std::optional<double> target;  // objective_s
    std::string measured;          // what was measured, for people
    std::string note;              // why it was missed when the numbers alone do not say
};

const char* verdict_label(Verdict v) {
    switch (v) {
        case Verdict::met:
            return "met";
        case Verdict::missed:
            return "MISSED";
        case Verdict::no_objective:
            return "no objective";
        case Verdict::not_measured:
            return "not measured";
    }
    return "?";
}

const char* verdict_class(Verdict v) {
    switch (v) {
        case Verdict::met:
            return "met";
        case Verdict::missed:
            return "missed";
        default:
            return "none";
    }
}

Objective rto_of(const json& d) {
    const json& r = field(d, "rto");
    Objective o;
    o.target = num(r, "objective_s");
    const auto measured = num(r, "measured_s");
    o.measured = measured ? human(*measured) : "not measured";
    const auto met = flag(r, "met");
    if (!o.target)
        o.verdict = Verdict::no_objective;
    else if (met)
        o.verdict = *met ? Verdict::met : Verdict::missed;
    else if (!measured)
        o.verdict = Verdict::not_measured;
    else
        o.verdict = *measured <= *o.target ? Verdict::met : Verdict::missed;
    // drill::run counts a restore that fails its checks as a missed RTO however fast it was.
    if (o.verdict == Verdict::missed && measured && *measured <= *o.target)
        o.note = "in time, but the restore did not succeed";
    return o;
}

Objective rpo_of(const json& d) {
    const json& r = field(d, "rpo");
    Objective o;
    o.target = num(r, "objective_s");
    const auto age = num(r, "snapshot_age_s"), gap = num(r, "worst_gap_s");
    const auto count = num(r, "snapshots_considered");
    if (age) o.measured = "snapshot age " + human(*age);
    if (gap) {
        if (!o.measured.empty()) o.measured += ", ";
        o.measured += "worst gap " + human(*gap);
        if (count) o.measured += format(" over %.0f snapshots", *count);
    }
    if (o.measured.empty()) o.measured = "not measured";
    const auto met = flag(r, "met");
    if (!o.target)
        o.verdict = Verdict::no_objective;
    else if (met)
        o.verdict = *met ? Verdict::met : Verdict::missed;
    else if (!age && !gap)
        o.verdict = Verdict::not_measured;
    else
        o.verdict = (!age || *age <= *o.target) && (!gap || *gap <= *o.target) ? Verdict::met
                                                                               : Verdict::missed;
    if (o.verdict == Verdict::missed && o.target) {
        if (age && *age > *o.target)
            o.note = "the restored data is older than the objective";
        else if (gap && *gap > *o.target)
            o.note = "the set went longer than the objective without a snapshot";
    }
    return o;
}

// ---------------------------------------------------------------------------------------------
// HTML.

std::string esc(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        const char* entity = c == '&'    ? "&amp;"
                             : c == '<'  ? "&lt;"
                             : c == '>'  ? "&gt;"
                             : c == '"'  ? "&quot;"
                             : c == '\'' ? "&#39;"
                                         : nullptr;
        if (entity)
            out += entity;
        else
            out += c;
    }
    return out;
}

// No external resources, no script: the page must look the same offline, in a mail client and
// in an archive years from now. The Content-Security-Policy is a second line behind escaping:
// should markup from a check detail ever get through, the browser still runs nothing.
constexpr std::string_view k_head = R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2329;
background:#fff;max-width:980px;margin:0 auto;padding:24px}
h1{font-size:1.5em;margin:0 0 .4em}
h2{font-size:1.15em;margin:1.6em 0 .5em;border-bottom:1px solid #d8dde3;padding-bottom:.2em}
h3{font-size:1em;margin:0 0 .3em}
.badge{display:inline-block;padding:.1em .6em;border-radius:4px;font-weight:700;font-size:.8em;
letter-spacing:.05em;vertical-align:middle;color:#fff}
.badge.pass{background:#1f7a3a}.badge.fail{background:#b3261e}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0}
dt{color:#5f6b76}dd{margin:0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e3e7eb;vertical-align:top}
thead th{background:#f4f6f8;font-weight:600}
tr.fail td{background:#fdecea}
.met{color:#1f7a3a;font-weight:700}.missed{color:#b3261e;font-weight:700}
.none{color:#5f6b76;font-style:italic}
.note{color:#5f6b76;font-weight:400}
.error{background:#fdecea;border-left:4px solid #b3261e;padding:.6em .8em;margin:1em 0}
.error ul{margin:0;padding-left:1.2em}
.detail{white-space:pre-wrap;word-break:break-word}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
svg text{font:13px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#1d2329}
svg .bar{fill:#3b6ea5}svg .axis{stroke:#aab3bc}svg .total{font-weight:700}
footer{margin-top:2em;color:#5f6b76;font-size:.85em}
</style>
)";

void header(std::string& out, const json& d, bool ok) {
    const std::string set = str(d, "set"), id = str(d, "snapshot_id");
    const char* badge =
        ok ? "<span class=\"badge pass\">PASS</span>" : "<span class=\"badge fail\">FAIL</span>";
    out += "<title>Restore drill of set " + esc(set) + ": " + (ok ? "PASS" : "FAIL") +
           "</title>\n</head>\n<body>\n<header>\n";
    out += "<h1>Restore drill of set <code>" + esc(set) + "</code> " + badge + "</h1>\n";
    out += "<dl class=\"meta\">\n<dt>Snapshot</dt><dd>";
    out += id.empty() ? std::string("unknown")
                      : "<code title=\"" + esc(id) + "\">" + esc(id.substr(0, 8)) + "</code>";
    const std::string taken = str(d, "snapshot_time");
    if (!taken.empty()) out += ", taken " + esc(display_time(taken));
    out += "</dd>\n<dt>Started</dt><dd>" + esc(display_time(str(d, "started"))) + "</dd>\n";
    const json& scratch = field(d, "scratch");
    if (scratch.is_object()) {
        out += "<dt>Scratch</dt><dd>";
        const std::string dir = str(scratch, "dir");
        if (!dir.empty()) out += "<code>" + esc(dir) + "</code>";
        const auto dbs = strings(scratch, "databases");
        for (size_t i = 0; i < dbs.size(); ++i)
            out += (i ? ", <code>" : (dir.empty() ? "database <code>" : "; database <code>")) +
                   esc(dbs[i]) + "</code>";
        out += flag(scratch, "kept").value_or(false) ? " (kept for inspection)"
                                                     : " (removed after the drill)";
        out += "</dd>\n";
    }
    out += "</dl>\n</header>\n";
}

void problems(std::string& out, const json& d) {
    const std::string error = str(d, "error");
    if (!error.empty())
        out +=
            "<p class=\"error\" id=\"error\"><strong>The drill did not run to the end:</strong> " +
            esc(error) + "</p>\n";
    const auto cleanup = strings(d, "cleanup_errors");
    if (cleanup.empty()) return;
    out +=
        "<div class=\"error\" id=\"cleanup-errors\"><h3>Cleanup left something behind</h3><ul>\n";
    for (const auto& e : cleanup) out += "<li>" + esc(e) + "</li>\n";
    out += "</ul></div>\n";
}

void objective_row(std::string& out, const char* id, const char* label, const Objective& o) {
    out += std::string("<tr id=\"") + id + "\"><th scope=\"row\">" + label + "</th><td>" +
           esc(o.measured) + "</td><td>" + (o.target ? esc(human(*o.target)) : "none") +
           "</td><td class=\"" + verdict_class(o.verdict) + "\">" + verdict_label(o.verdict);
    if (!o.note.empty()) out += " <span class=\"note\">(" + esc(o.note) + ")</span>";
    out += "</td></tr>\n";
}

void objectives(std::string& out, const json& d) {
    out +=
        "<section id=\"objectives\">\n<h2>Objectives</h2>\n<table>\n<thead><tr><th></th>"
        "<th>Measured</th><th>Objective</th><th>Result</th></tr></thead>\n<tbody>\n";
    objective_row(out, "rto", "RTO (time to restore)", rto_of(d));
    objective_row(out, "rpo", "RPO (data that could be lost)", rpo_of(d));
    out += "</tbody>\n</table>\n</section>\n";
}

// Horizontal bars scaled to the longest phase, so that the phase worth optimizing stands out.
void phase_chart(std::string& out, const json& d) {
    constexpr double k_label_right = 240, k_bar_x = 250, k_bar_max = 400, k_width = 780;
    constexpr double k_top = 8, k_row = 26, k_bar_h = 18;
    const auto phases = phases_of(d);
    double total = 0, longest = 0;
    for (const auto& p : phases) {
        total += p.seconds;
        longest = std::max(longest, p.seconds);
    }
    out += "<section id=\"phases\">\n<h2>Phase timings</h2>\n";
    const double height = k_top + static_cast<double>(phases.size()) * k_row + 36;
    out += "<svg id=\"phase-chart\" role=\"img\" aria-label=\"Phase timings\" viewBox=\"0 0 " +
           format("%.0f", k_width) + " " + format("%.0f", height) + "\" width=\"" +
           format("%.0f", k_width) + "\" height=\"" + format("%.0f", height) +
           "\" style=\"max-width:100%;height:auto\">\n";
    if (phases.empty()) {
        out += "<text x=\"0\" y=\"20\">No phases were recorded.</text>\n</svg>\n</section>\n";
        return;
    }
    for (size_t i = 0; i < phases.size(); ++i) {
        const Phase& p = phases[i];
        const double y = k_top + static_cast<double>(i) * k_row;
        const double w = longest > 0 ? p.seconds / longest * k_bar_max : 0;
        std::string value = seconds_text(p.seconds);
        const double share = total > 0 ? p.seconds / total * 100 : 0;
        if (share > 0) value += share < 1 ? std::string(" (&lt;1%)") : format(" (%.0f%%)", share);
        out += "<text x=\"" + format("%.0f", k_label_right) + "\" y=\"" + format("%.1f", y + 13) +
               "\" text-anchor=\"end\">" + esc(printable_excerpt(p.name, 34)) + "</text>";
        out += "<rect class=\"bar\" x=\"" + format("%.0f", k_bar_x) + "\" y=\"" +
               format("%.1f", y) + "\" width=\"" + format("%.2f", w) + "\" height=\"" +
               format("%.0f", k_bar_h) + "\"><title>" + esc(p.name) + ": " + value +
               "</title></rect>";
        out += "<text x=\"" + format("%.2f", k_bar_x + w + 6) + "\" y=\"" + format("%.1f", y + 13) +
               "\">" + value + "</text>\n";
    }
    const double bottom = k_top + static_cast<double>(phases.size()) * k_row;
    out += "<line class=\"axis\" x1=\"" + format("%.0f", k_bar_x) + "\" y1=\"" +
           format("%.0f", k_top - 4) + "\" x2=\"" + format("%.0f", k_bar_x) + "\" y2=\"" +
           format("%.0f", bottom) + "\"/>\n";
    out += "<text class=\"total\" x=\"" + format("%.0f", k_label_right) + "\" y=\"" +
           format("%.1f", bottom + 22) +
           "\" text-anchor=\"end\">total</text><text class=\"total\" x=\"" +
           format("%.0f", k_bar_x) + "\" y=\"" + format("%.1f", bottom + 22) + "\">" +
           seconds_text(total) + "</text>\n</svg>\n</section>\n";
}

void checks_section(std::string& out, const json& d) {
    const auto checks = checks_of(d);
    const auto failed = std::count_if(checks.begin(), checks.end(), [](auto& c) { return !c.ok; });
    out += "<section id=\"checks\">\n<h2>Checks</h2>\n";
    if (checks.empty()) {
        out += "<p>No checks ran.</p>\n</section>\n";
        return;
    }
    if (failed) {
        out += "<div class=\"error\" id=\"failed-checks\"><h3>Failed checks</h3><ul>\n";
        for (const auto& c : checks) {
            if (c.ok) continue;
            out += "<li><strong>" + esc(c.source) + "</strong>: " + esc(c.name);
            if (!c.detail.empty())
                out += " &mdash; <span class=\"detail\">" + esc(c.detail) + "</span>";
            out += "</li>\n";
        }
        out += "</ul></div>\n";
    }
    out += "<p>" + std::to_string(checks.size()) + (checks.size() == 1 ? " check, " : " checks, ") +
           std::to_string(failed) + " failed.</p>\n";
    out +=
        "<table>\n<thead><tr><th>Source</th><th>Check</th><th>Result</th><th>Detail</th></tr>"
        "</thead>\n<tbody>\n";
    for (const auto& c : checks) {
        out += std::string(c.ok ? "<tr>" : "<tr class=\"fail\">") + "<td>" + esc(c.source) +
               "</td><td>" + esc(c.name) + "</td><td class=\"" +
               (c.ok ? "met\">ok" : "missed\">FAIL") + "</td><td class=\"detail\">" +
               esc(c.detail) + "</td></tr>\n";
    }
    out += "</tbody>\n</table>\n</section>\n";
}

void history_section(std::string& out, const std::vector<json>& history) {
    out += "<section id=\"history\">\n<h2>History</h2>\n";
    if (history.empty()) {
        out += "<p>No earlier drills are recorded.</p>\n</section>\n";
        return;
    }
    // Newest first; drills whose start time cannot be read go last, in text order.
    using Key = std::tuple<bool, double, std::string>;
    std::vector<std::pair<Key, const json*>> rows;
    for (const auto& h : history) {
        const std::string started = str(h, "started");
        const auto t = unix_time(started);
        rows.push_back({Key{t.has_value(), t.value_or(0), started}, &h});
    }
    std::stable_sort(rows.begin(), rows.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    out +=
        "<table>\n<thead><tr><th>Started</th><th>Snapshot time</th><th>Result</th>"
        "<th>RTO measured</th><th>RPO snapshot age</th></tr></thead>\n<tbody>\n";
    for (const auto& [key, h] : rows) {
        const bool ok = passed(*h);
        const Objective rto = rto_of(*h);
        std::string rto_text = esc(rto.measured);
        if (rto.verdict == Verdict::met || rto.verdict == Verdict::missed)
            rto_text += std::string(" <span class=\"") + verdict_class(rto.verdict) + "\">" +
                        verdict_label(rto.verdict) + "</span>";
        const auto age = num(field(*h, "rpo"), "snapshot_age_s");
        out += std::string(ok ? "<tr>" : "<tr class=\"fail\">") + "<td>" +
               esc(display_time(std::get<2>(key))) + "</td><td>" +
               esc(display_time(str(*h, "snapshot_time"))) + "</td><td class=\"" +
               (ok ? "met\">PASS" : "missed\">FAIL") + "</td><td>" + rto_text + "</td><td>" +
               (age ? esc(human(*age)) : "") + "</td></tr>\n";
    }
    out += "</tbody>\n</table>\n</section>\n";
}

// ---------------------------------------------------------------------------------------------
// Text. Check details come from restored data: control characters are replaced so that they
// cannot move the cursor or recolour the terminal, and very long ones are cut.

std::string plain(std::string_view s) {
    return printable_excerpt(s, 400);
}

std::string check_text(const Check& c) {
    // The set's own drill checks belong to no one source.
    std::string out = c.source.empty() ? plain(c.name) : plain(c.source) + ": " + plain(c.name);
    if (!c.detail.empty()) out += " (" + plain(c.detail) + ")";
    return out;
}

std::string objective_line(const char* label, const Objective& o) {
    std::string out = std::string(label) + ": " + plain(o.measured);
    if (o.target) out += ", objective " + human(*o.target);
    out += std::string(o.target ? ": " : "; ") + verdict_label(o.verdict);
    if (!o.note.empty()) out += " (" + o.note + ")";
    return out + "\n";
}

}  // namespace

std::string render_html(const nlohmann::json& drill, const std::vector<nlohmann::json>& history) {
    std::string out(k_head);
    header(out, drill, passed(drill));
    problems(out, drill);
    objectives(out, drill);
    phase_chart(out, drill);
    checks_section(out, drill);
    history_section(out, history);
    out += "<footer>Generated by coffer from the drill's result.</footer>\n</body>\n</html>\n";
    return out;
}

std::string render_text(const nlohmann::json& drill) {
    std::string out;
    const auto checks = checks_of(drill);
    const Check* first_failed = nullptr;
    for (const auto& c : checks) {
        if (c.ok) continue;
        if (!first_failed) first_failed = &c;
        out += "failed check: " + check_text(c) + "\n";
    }
    const std::string error = str(drill, "error");
    if (!error.empty()) out += "error: " + plain(error) + "\n";
    for (const auto& e : strings(drill, "cleanup_errors"))
        out += "cleanup error: " + plain(e) + "\n";
    for (const auto& c : checks)
        out += std::string(c.ok ? "ok   " : "FAIL ") + check_text(c) + "\n";

    const auto phases = phases_of(drill);
    size_t width = 5;  // "total"
    std::vector<std::string> names;
    for (const auto& p : phases) {
        names.push_back(plain(p.name));
        width = std::max(width, names.back().size());
    }
    double total = 0;
    for (size_t i = 0; i < phases.size(); ++i) {
        total += phases[i].seconds;
        out += "phase " + names[i] + std::string(width - names[i].size() + 2, ' ') +
               format("%9.2f s", phases[i].seconds) + "\n";
    }
    if (!phases.empty())
        out += "phase total" + std::string(width - 5 + 2, ' ') + format("%9.2f s", total) + "\n";

    const Objective rto = rto_of(drill), rpo = rpo_of(drill);
    out += objective_line("RTO", rto);
    out += objective_line("RPO", rpo);

    out += "drill of set '" + plain(str(drill, "set")) + "' ";
    if (passed(drill)) return out + "PASSED\n";
    out += "FAILED: ";
    if (first_failed)
        out += check_text(*first_failed);
    else if (!error.empty())
        out += plain(error);
    else if (rto.verdict == Verdict::missed)
        out += "RTO objective missed";
    else if (rpo.verdict == Verdict::missed)
        out += "RPO objective missed";
    else
        out += "the drill did not report success";
    return out + "\n";
}

}  // namespace coffer::drill
