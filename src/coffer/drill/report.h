// Drill reports: a restore drill's result (the JSON object drill::run builds) rendered for
// people. render_html gives one self-contained HTML5 page (inline CSS and SVG, no scripts, no
// external resources) so that it can be archived, mailed as evidence of a drill and opened
// offline years later; render_text gives the summary the CLI prints at the end of a drill.
//
// The input, every field optional:
//   {"set", "snapshot_id" (hex), "snapshot_time", "started" (RFC 3339), "ok", "error",
//    "checks": [{"source", "check", "ok", "detail"}], "phases": [{"name", "seconds"}],
//    "rto": {"measured_s", "objective_s", "met"},
//    "rpo": {"snapshot_age_s", "worst_gap_s", "objective_s", "met", "snapshots_considered"},
//    "scratch": {"dir", "databases": [...], "kept"}, "cleanup_errors": [...]}
// A missing or mistyped field renders as absent; nothing here throws on odd input (only
// std::bad_alloc). The drill passed when "ok" is true and there is no "error": a result that
// does not say it passed is shown as failed. An objective is "met" or "MISSED" as its "met"
// says; without "met" it is judged from the measurements; without "objective_s" it is "no
// objective". Every string taken from the JSON is HTML-escaped in render_html, and has its
// control characters replaced in render_text (a check detail comes from restored data, which
// must not be able to inject markup into the page or escape sequences into a terminal).
//
// Pure functions of their arguments; thread-safe.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace coffer::drill {

// The HTML page for one drill. history holds earlier drills of the same set, each of the shape
// above, in any order; the page lists them newest first (by "started"). The result is UTF-8.
std::string render_html(const nlohmann::json& drill, const std::vector<nlohmann::json>& history);

// The terminal summary, one item per line, ending in a newline: the failed checks, the error
// if any, every check as "ok"/"FAIL", the phases with their seconds, one line for the RTO, one
// for the RPO, and last "drill of set 'X' PASSED" or "drill of set 'X' FAILED: <first failed
// check, else the error, else the objective that was missed>".
std::string render_text(const nlohmann::json& drill);

}  // namespace coffer::drill
