// Drill reports. The HTML page is checked as text for what a reader (or a screenshot) depends
// on: the verdicts, one bar per phase scaled like the seconds, failed checks first, history
// newest first, every JSON string escaped and nothing fetched from outside. The expected values
// are written out by hand from the fixtures, never computed with the code under test. One
// representative failing report is written to $COFFER_TEST_ARTIFACTS (or the test temp dir) so
// that a later test can screenshot it.
#include "coffer/drill/report.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace coffer::drill {
namespace {

using json = nlohmann::json;

json passing_drill() {
    return json::parse(R"json({
      "set": "platform",
      "snapshot_id": "3fa2b1c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80",
      "snapshot_time": "2026-12-01T08:00:00.000000000Z",
      "started": "2026-12-01T09:00:00.250000000Z",
      "ok": true,
      "checks": [
        {"source": "db", "check": "row count public.users", "ok": true, "detail": "1200 rows, 1200 recorded"},
        {"source": "db", "check": "row count public.orders", "ok": true, "detail": "5400 rows, 5400 recorded"},
        {"source": "files", "check": "file count", "ok": true, "detail": "312 files"}
      ],
      "phases": [
        {"name": "open repository", "seconds": 0.12},
        {"name": "restore db (postgres)", "seconds": 3.4},
        {"name": "checks", "seconds": 0.2},
        {"name": "cleanup", "seconds": 0.1}
      ],
      "rto": {"measured_s": 3.9, "objective_s": 900, "met": true},
      "rpo": {"snapshot_age_s": 3600, "worst_gap_s": 86400, "objective_s": 86400, "met": true,
              "snapshots_considered": 12},
      "scratch": {"dir": "/tmp/coffer-drill-ab12", "databases": ["coffer_drill_ab12"], "kept": false}
    })json");
}

// The users table came back short, the restore took 20 minutes against a 15 minute RTO, and the
// newest snapshot was older than the 24 h RPO.
json failing_drill() {
    json d = passing_drill();
    d["ok"] = false;
    d["checks"][1] = {{"source", "db"},
                      {"check", "row count public.users"},
                      {"ok", false},
                      {"detail", "1100 rows, 1200 recorded"}};
    d["checks"][0] = {{"source", "db"},
                      {"check", "row count public.orders"},
                      {"ok", true},
                      {"detail", "5400 rows, 5400 recorded"}};
    d["phases"][1]["seconds"] = 1199.5;
    d["rto"] = {{"measured_s", 1200.0}, {"objective_s", 900}, {"met", false}};
    d["rpo"] = {{"snapshot_age_s", 100000},
                {"worst_gap_s", 100000},
                {"objective_s", 86400},
                {"met", false},
                {"snapshots_considered", 12}};
    return d;
}

json history_entry(const std::string& started, bool ok, double rto_s, double age_s) {
    json h = passing_drill();
    h["started"] = started;
    h["ok"] = ok;
    if (started.size() >= 10) h["snapshot_time"] = started.substr(0, 10) + "T08:00:00Z";
    h["rto"] = {{"measured_s", rto_s}, {"objective_s", 900}};  // met judged from the numbers
    h["rpo"]["snapshot_age_s"] = age_s;
    return h;
}

size_t count(const std::string& haystack, const std::string& needle) {
    size_t n = 0;
    for (size_t pos = haystack.find(needle); pos != std::string::npos;
         pos = haystack.find(needle, pos + needle.size()))
        ++n;
    return n;
}

// The text from the first `from` up to and including the next `to`; empty (and a failure) when
// either is missing.
std::string between(const std::string& s, const std::string& from, const std::string& to) {
    const size_t a = s.find(from);
    if (a == std::string::npos) {
        ADD_FAILURE() << "missing " << from;
        return "";
    }
    const size_t b = s.find(to, a + from.size());
    if (b == std::string::npos) {
        ADD_FAILURE() << "missing " << to << " after " << from;
        return "";
    }
    return s.substr(a, b + to.size() - a);
}

std::string chart(const std::string& html) {
    return between(html, "<svg id=\"phase-chart\"", "</svg>");
}

std::vector<double> bar_widths(const std::string& svg) {
    std::vector<double> out;
    const std::regex rect(R"re(<rect[^>]* width="([0-9.]+)")re");
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), rect); it != std::sregex_iterator();
         ++it)
        out.push_back(std::stod((*it)[1].str()));
    return out;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

TEST(DrillReportHtml, HeaderNamesSetSnapshotAndPassBadge) {
    const std::string html = render_html(passing_drill(), {});
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(html.find("<title>Restore drill of set platform: PASS</title>"), std::string::npos);
    EXPECT_NE(html.find("<code>platform</code>"), std::string::npos);
    EXPECT_NE(html.find("<span class=\"badge pass\">PASS</span>"), std::string::npos);
    EXPECT_EQ(html.find("badge fail"), std::string::npos);
    EXPECT_NE(html.find(">3fa2b1c4</code>"), std::string::npos);
    EXPECT_NE(html.find("taken 2026-12-01T08:00:00Z"), std::string::npos);
    EXPECT_NE(html.find("2026-12-01T09:00:00Z"), std::string::npos);
    EXPECT_NE(html.find("/tmp/coffer-drill-ab12"), std::string::npos);
    EXPECT_NE(html.find("removed after the drill"), std::string::npos);
}

TEST(DrillReportHtml, FailBadgeForFailedDrillAndForAnError) {
    const std::string html = render_html(failing_drill(), {});
    EXPECT_NE(html.find("<span class=\"badge fail\">FAIL</span>"), std::string::npos);
    EXPECT_EQ(html.find("badge pass"), std::string::npos);

    // An error means the drill did not run to the end, whatever "ok" says.
    json d = passing_drill();
    d["error"] = "restore of source 'db': pack 3fa2 failed authentication";
    const std::string errored = render_html(d, {});
    EXPECT_NE(errored.find("<span class=\"badge fail\">FAIL</span>"), std::string::npos);
    EXPECT_NE(between(errored, "<p class=\"error\" id=\"error\">", "</p>")
                  .find("restore of source &#39;db&#39;: pack 3fa2 failed authentication"),
              std::string::npos);
    EXPECT_EQ(render_html(passing_drill(), {}).find("id=\"error\""), std::string::npos);
}

TEST(DrillReportHtml, PhaseChartHasOneRectPerPhase) {
    EXPECT_EQ(count(chart(render_html(passing_drill(), {})), "<rect"), 4u);

    json seven = passing_drill();
    for (int i = 0; i < 3; ++i)
        seven["phases"].push_back({{"name", "restore extra " + std::to_string(i)}, {"seconds", 1}});
    EXPECT_EQ(count(chart(render_html(seven, {})), "<rect"), 7u);

    json none = passing_drill();
    none["phases"] = json::array();
    const std::string svg = chart(render_html(none, {}));
    EXPECT_EQ(count(svg, "<rect"), 0u);
    EXPECT_NE(svg.find("No phases were recorded."), std::string::npos);
}

TEST(DrillReportHtml, PhaseBarWidthsFollowTheSeconds) {
    const std::string svg = chart(render_html(passing_drill(), {}));
    const std::vector<double> w = bar_widths(svg);
    ASSERT_EQ(w.size(), 4u);
    // Seconds 0.12, 3.4, 0.2, 0.1: restore > checks > open > cleanup.
    EXPECT_GT(w[1], w[2]);
    EXPECT_GT(w[2], w[0]);
    EXPECT_GT(w[0], w[3]);
    EXPECT_GT(w[3], 0.0);
    // Proportional, not just ordered: checks is 0.2 / 3.4 of the restore bar, cleanup half of it.
    EXPECT_NEAR(w[2] / w[1], 0.2 / 3.4, 0.001);
    EXPECT_NEAR(w[3] / w[2], 0.5, 0.01);
    // Labels, seconds, and the total (0.12 + 3.4 + 0.2 + 0.1) after the last bar.
    EXPECT_NE(svg.find(">restore db (postgres)</text>"), std::string::npos);
    EXPECT_NE(svg.find("3.40 s"), std::string::npos);
    EXPECT_NE(svg.find("0.12 s"), std::string::npos);
    const size_t total = svg.find(">total</text>");
    ASSERT_NE(total, std::string::npos);
    EXPECT_GT(total, svg.rfind("<rect"));
    EXPECT_NE(svg.find("3.82 s", total), std::string::npos);
}

TEST(DrillReportHtml, ObjectivesMarkedMet) {
    const std::string html = render_html(passing_drill(), {});
    const std::string rto = between(html, "<tr id=\"rto\">", "</tr>");
    const std::string rpo = between(html, "<tr id=\"rpo\">", "</tr>");
    EXPECT_NE(rto.find("3.90 s"), std::string::npos) << rto;
    EXPECT_NE(rto.find("<td>15m</td>"), std::string::npos) << rto;
    EXPECT_NE(rto.find("class=\"met\">met"), std::string::npos) << rto;
    EXPECT_NE(rpo.find("snapshot age 1h, worst gap 1d over 12 snapshots"), std::string::npos)
        << rpo;
    EXPECT_NE(rpo.find("<td>1d</td>"), std::string::npos) << rpo;
    EXPECT_NE(rpo.find("class=\"met\">met"), std::string::npos) << rpo;
    EXPECT_EQ(between(html, "<section id=\"objectives\">", "</section>").find("MISSED"),
              std::string::npos);
}

TEST(DrillReportHtml, ObjectivesMarkedMissed) {
    const std::string html = render_html(failing_drill(), {});
    const std::string rto = between(html, "<tr id=\"rto\">", "</tr>");
    const std::string rpo = between(html, "<tr id=\"rpo\">", "</tr>");
    EXPECT_NE(rto.find("<td>20m</td>"), std::string::npos) << rto;
    EXPECT_NE(rto.find("class=\"missed\">MISSED"), std::string::npos) << rto;
    EXPECT_NE(rpo.find("class=\"missed\">MISSED"), std::string::npos) << rpo;
    EXPECT_NE(rpo.find("older than the objective"), std::string::npos) << rpo;
    EXPECT_EQ(rto.find(">met"), std::string::npos) << rto;
    EXPECT_EQ(rpo.find(">met"), std::string::npos) << rpo;
}

TEST(DrillReportHtml, ObjectivesJudgedFromTheNumbersWithoutMet) {
    json d = passing_drill();
    d["rto"] = {{"measured_s", 1000}, {"objective_s", 900}};
    d["rpo"] = {{"snapshot_age_s", 10}, {"worst_gap_s", 100}, {"objective_s", 86400}};
    const std::string html = render_html(d, {});
    EXPECT_NE(between(html, "<tr id=\"rto\">", "</tr>").find("MISSED"), std::string::npos);
    EXPECT_NE(between(html, "<tr id=\"rpo\">", "</tr>").find("class=\"met\">met"),
              std::string::npos);

    // drill::run marks the RTO missed when the restore failed, however fast it was.
    d["rto"] = {{"measured_s", 3.9}, {"objective_s", 900}, {"met", false}};
    const std::string rto = between(render_html(d, {}), "<tr id=\"rto\">", "</tr>");
    EXPECT_NE(rto.find("MISSED"), std::string::npos);
    EXPECT_NE(rto.find("the restore did not succeed"), std::string::npos);
}

TEST(DrillReport, MissingObjectiveSaysNoObjective) {
    json d = passing_drill();
    d["rto"] = {{"measured_s", 3.9}};
    d.erase("rpo");
    const std::string html = render_html(d, {});
    const std::string rto = between(html, "<tr id=\"rto\">", "</tr>");
    EXPECT_NE(rto.find("3.90 s"), std::string::npos) << rto;
    EXPECT_NE(rto.find("no objective"), std::string::npos) << rto;
    EXPECT_EQ(rto.find("MISSED"), std::string::npos) << rto;
    EXPECT_NE(between(html, "<tr id=\"rpo\">", "</tr>").find("no objective"), std::string::npos);

    const std::string text = render_text(d);
    EXPECT_NE(text.find("RTO: 3.90 s; no objective\n"), std::string::npos) << text;
    EXPECT_NE(text.find("RPO: not measured; no objective\n"), std::string::npos) << text;
}

TEST(DrillReportHtml, EscapesEveryStringFromTheResult) {
    json d = failing_drill();
    d["set"] = "a&b\"c'<x>";
    d["checks"][1]["detail"] = "<script>alert(1)</script>";
    d["checks"][1]["source"] = "<b>db</b>";
    d["phases"][0]["name"] = "<img src=x onerror=alert(2)>";
    d["error"] = "<script src=\"evil.js\"></script>";
    d["snapshot_id"] = "\"><script>alert(3)</script>";
    d["scratch"]["dir"] = "/tmp/<iframe>";
    d["cleanup_errors"] = json::array({"<svg onload=alert(4)>"});
    json h = history_entry("<script>alert(5)</script>", false, 1, 1);
    h["snapshot_time"] = "'\"<style>";
    const std::string html = render_html(d, {h});

    const std::string l = lower(html);
    EXPECT_EQ(l.find("<script"), std::string::npos);
    EXPECT_EQ(l.find("<img"), std::string::npos);
    EXPECT_EQ(l.find("<iframe"), std::string::npos);
    EXPECT_EQ(l.find("<b>"), std::string::npos);
    EXPECT_EQ(l.find("<svg onload"), std::string::npos);
    EXPECT_EQ(count(l, "<style"), 1u);  // only the page's own
    // The image's handler is there only as text, every time.
    EXPECT_EQ(count(html, "onerror"), count(html, "onerror=alert(2)&gt;"));
    EXPECT_GT(count(html, "onerror"), 0u);
    EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(html.find("a&amp;b&quot;c&#39;&lt;x&gt;"), std::string::npos);
    EXPECT_NE(html.find("&lt;script src=&quot;evil.js&quot;&gt;"), std::string::npos);
    EXPECT_NE(html.find("&lt;script&gt;alert(5)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(html.find("&#39;&quot;&lt;style&gt;"), std::string::npos);
}

TEST(DrillReportHtml, HistoryIsNewestFirst) {
    // 2026-11-29T10:30:00+02:00 is 08:30Z: older than 09:00Z though it sorts after it as text.
    const std::vector<json> history = {
        history_entry("2026-11-01T09:00:00Z", true, 11.5, 3600),
        history_entry("2026-11-29T10:30:00+02:00", true, 12.5, 3600),
        history_entry("2026-11-15T09:00:00.5Z", false, 13.5, 3600),
        history_entry("2026-11-29T09:00:00.000000000Z", true, 14.5, 7200),
    };
    const std::string html = render_html(passing_drill(), history);
    const std::string section = between(html, "<section id=\"history\">", "</section>");
    ASSERT_EQ(count(section, "<tr"), 5u) << section;  // header and four drills
    const std::vector<std::string> newest_first = {"2026-11-29T09:00:00Z",
                                                   "2026-11-29T10:30:00+02:00",
                                                   "2026-11-15T09:00:00Z", "2026-11-01T09:00:00Z"};
    size_t last = 0;
    for (const auto& started : newest_first) {
        const size_t at = section.find("<td>" + started + "</td>");
        ASSERT_NE(at, std::string::npos) << started;
        EXPECT_GT(at, last) << started << " is out of order";
        last = at;
    }
    // Each row carries its own result, RTO and RPO age.
    const std::string failed_row = between(section, "<tr class=\"fail\">", "</tr>");
    EXPECT_NE(failed_row.find("2026-11-15"), std::string::npos);
    EXPECT_NE(failed_row.find("FAIL"), std::string::npos);
    EXPECT_NE(failed_row.find("13.5 s"), std::string::npos);
    EXPECT_NE(section.find("<td>2h</td>"), std::string::npos);

    EXPECT_NE(render_html(passing_drill(), {}).find("No earlier drills are recorded."),
              std::string::npos);
}

TEST(DrillReportHtml, NothingExternal) {
    const std::string html =
        render_html(failing_drill(), {history_entry("2026-11-01T09:00:00Z", true, 3, 3600)});
    const std::string l = lower(html);
    EXPECT_EQ(l.find("http://"), std::string::npos);
    EXPECT_EQ(l.find("https://"), std::string::npos);
    EXPECT_EQ(l.find("<link"), std::string::npos);
    EXPECT_EQ(l.find("<script"), std::string::npos);
    EXPECT_EQ(l.find("src="), std::string::npos);
    EXPECT_EQ(l.find("href="), std::string::npos);
    EXPECT_EQ(l.find("@import"), std::string::npos);
    EXPECT_EQ(l.find("url("), std::string::npos);
    EXPECT_NE(l.find("<style>"), std::string::npos);  // the CSS is inline
    // Every '<' opens a tag: text such as a phase's "<1%" share is escaped too.
    for (size_t pos = html.find('<'); pos != std::string::npos; pos = html.find('<', pos + 1)) {
        const char next = pos + 1 < html.size() ? html[pos + 1] : '\0';
        EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(next)) || next == '/' || next == '!')
            << html.substr(pos, 20);
    }
    EXPECT_NE(html.find("0.12 s (&lt;1%)"), std::string::npos);
}

TEST(DrillReportHtml, FailedChecksSummarizedFirstAndHighlighted) {
    const std::string html = render_html(failing_drill(), {});
    const std::string section = between(html, "<section id=\"checks\">", "</section>");
    const std::string summary =
        between(section, "<div class=\"error\" id=\"failed-checks\">", "</div>");
    EXPECT_NE(summary.find("Failed checks"), std::string::npos);
    EXPECT_NE(summary.find("row count public.users"), std::string::npos);
    EXPECT_NE(summary.find("1100 rows, 1200 recorded"), std::string::npos);
    EXPECT_EQ(summary.find("public.orders"), std::string::npos);
    EXPECT_LT(section.find("id=\"failed-checks\""), section.find("<table>"));
    EXPECT_NE(section.find("3 checks, 1 failed."), std::string::npos);

    EXPECT_EQ(count(section, "<tr class=\"fail\">"), 1u);
    const std::string row = between(section, "<tr class=\"fail\">", "</tr>");
    EXPECT_NE(row.find("<td>row count public.users</td>"), std::string::npos) << row;
    EXPECT_NE(row.find(">FAIL</td>"), std::string::npos) << row;

    EXPECT_EQ(render_html(passing_drill(), {}).find("Failed checks"), std::string::npos);
}

TEST(DrillReport, MissingAndMistypedFieldsDoNotThrow) {
    const std::vector<json> odd = {
        json(),
        json::object(),
        json::array({1, 2}),
        json("drill"),
        json::parse(
            R"({"set": 3, "ok": "yes", "checks": "none", "phases": [1, null, {"seconds": "x"}],
                        "rto": 5, "rpo": {"objective_s": "1d"}, "scratch": [],
                        "snapshot_id": 12, "started": null, "cleanup_errors": [1]})"),
        json::parse(R"({"checks": [{}, 7], "phases": [{"name": "p", "seconds": -3}],
                        "rto": {"objective_s": 10}, "rpo": {"objective_s": 10}})"),
    };
    for (const auto& d : odd) {
        std::string html, text;
        ASSERT_NO_THROW(html = render_html(d, odd)) << d;
        ASSERT_NO_THROW(text = render_text(d)) << d;
        EXPECT_NE(html.find("<span class=\"badge fail\">FAIL</span>"), std::string::npos) << d;
        EXPECT_NE(html.find("</html>"), std::string::npos) << d;
        EXPECT_NE(text.find("' FAILED: "), std::string::npos) << text;
    }
    // An objective with nothing measured is "not measured", neither met nor missed.
    const std::string html = render_html(odd.back(), {});
    EXPECT_NE(between(html, "<tr id=\"rto\">", "</tr>").find("not measured"), std::string::npos);
    EXPECT_EQ(bar_widths(chart(html)), std::vector<double>{0.0});  // negative seconds count as 0
}

TEST(DrillReportText, FailedCheckFirstThenEveryCheckThenFailed) {
    const std::string text = render_text(failing_drill());
    const std::string failed =
        "failed check: db: row count public.users (1100 rows, 1200 recorded)";
    EXPECT_EQ(text.rfind(failed + "\n", 0), 0u) << text;
    EXPECT_LT(text.find(failed), text.find("ok   db: row count public.orders"));
    EXPECT_NE(text.find("FAIL db: row count public.users (1100 rows, 1200 recorded)\n"),
              std::string::npos);
    EXPECT_NE(text.find("ok   files: file count (312 files)\n"), std::string::npos);
    EXPECT_NE(text.find("phase restore db (postgres)    1199.50 s\n"), std::string::npos) << text;
    EXPECT_NE(text.find("phase total                    1199.92 s\n"), std::string::npos) << text;
    EXPECT_NE(text.find("RTO: 20m, objective 15m: MISSED\n"), std::string::npos) << text;
    EXPECT_NE(text.find("RPO: snapshot age 1d 3h, worst gap 1d 3h over 12 snapshots, objective "
                        "1d: MISSED (the restored data is older than the objective)\n"),
              std::string::npos)
        << text;
    const std::string last = "drill of set 'platform' FAILED: " + failed.substr(14) + "\n";
    ASSERT_GE(text.size(), last.size());
    EXPECT_EQ(text.substr(text.size() - last.size()), last) << text;
}

TEST(DrillReportText, PassedDrill) {
    const std::string text = render_text(passing_drill());
    EXPECT_EQ(text.find("failed check"), std::string::npos);
    EXPECT_EQ(text.find("FAIL"), std::string::npos);
    EXPECT_NE(text.find("phase open repository" + std::string(13, ' ') + "0.12 s\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("RTO: 3.90 s, objective 15m: met\n"), std::string::npos) << text;
    EXPECT_NE(
        text.find("RPO: snapshot age 1h, worst gap 1d over 12 snapshots, objective 1d: met\n"),
        std::string::npos)
        << text;
    const std::string last = "\ndrill of set 'platform' PASSED\n";
    ASSERT_GE(text.size(), last.size());
    EXPECT_EQ(text.substr(text.size() - last.size()), last);
}

TEST(DrillReportText, ErrorIsTheReasonWhenNoCheckFailed) {
    json d = passing_drill();
    d["ok"] = false;
    d["checks"] = json::array();
    d["error"] = "restore of source 'db': connection refused";
    const std::string text = render_text(d);
    EXPECT_NE(text.find("error: restore of source 'db': connection refused\n"), std::string::npos);
    const std::string last =
        "drill of set 'platform' FAILED: restore of source 'db': "
        "connection refused\n";
    ASSERT_GE(text.size(), last.size());
    EXPECT_EQ(text.substr(text.size() - last.size()), last) << text;
}

TEST(DrillReportText, ControlCharactersCannotReachTheTerminal) {
    json d = failing_drill();
    d["checks"][1]["detail"] = "\x1b[2J\x1b]0;owned\x07gone";
    const std::string text = render_text(d);
    EXPECT_EQ(text.find('\x1b'), std::string::npos);
    EXPECT_EQ(text.find('\x07'), std::string::npos);
    EXPECT_NE(text.find("?[2J?]0;owned?gone"), std::string::npos) << text;
}

// Not a check of the page's content: the artifact a later test screenshots.
TEST(DrillReportHtml, WritesFailingReportArtifact) {
    json d = failing_drill();
    d["scratch"]["kept"] = true;
    const std::vector<json> history = {
        history_entry("2026-11-24T09:00:00.000000000Z", true, 410.2, 3500),
        history_entry("2026-11-17T09:00:00.000000000Z", true, 388.0, 3400),
        history_entry("2026-11-10T09:00:00.000000000Z", false, 1020.0, 90000),
    };
    const std::string html = render_html(d, history);
    const char* env = std::getenv("COFFER_TEST_ARTIFACTS");
    const std::filesystem::path dir =
        env && *env ? std::filesystem::path(env) : std::filesystem::path(::testing::TempDir());
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    ASSERT_FALSE(ec) << dir << ": " << ec.message();
    const std::filesystem::path path = dir / "drill_report_failing.html";
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << html;
        ASSERT_TRUE(out.good()) << path;
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream back;
    back << in.rdbuf();
    EXPECT_EQ(back.str(), html);
    RecordProperty("artifact", path.string());
    std::cout << "drill report written to " << path.string() << "\n";
}

}  // namespace
}  // namespace coffer::drill
