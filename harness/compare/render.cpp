// compare's tables, as markdown and as terminal text.
#include "compare/compare.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/stats.h"

namespace odfb {

namespace {

// A value in its row's unit ("us" and "ns" scaled to the nearest unit).
std::string human(double v, const nlohmann::json &row)
{
	std::string unit = row.value("unit", "");
	if (unit == "ns" || unit == "us") {
		double ns = unit == "us" ? v * 1000 : v;
		if (ns >= 1e9)
			return fmt::format("{:.3g} s", ns / 1e9);
		if (ns >= 1e6)
			return fmt::format("{:.3g} ms", ns / 1e6);
		if (ns >= 1e3)
			return fmt::format("{:.3g} us", ns / 1e3);
		return fmt::format("{:.3g} ns", ns);
	}
	return fmt::format("{:.4g}", v);
}

}  // namespace

namespace {

std::string join(const nlohmann::json &list, const char *sep)
{
	std::string s;
	for (const auto &x : list)
		s += (s.empty() ? "" : sep) + x.get<std::string>();
	return s;
}

std::string speedup_cell(const nlohmann::json &row)
{
	if (row.contains("unavailable"))
		return "-";
	const auto &s = row["speedup"];
	std::string cell;
	if (s["value"].is_null()) {
		cell = fmt::format("undefined ({})", s.value("value_reason", "?"));  // never a number
	} else if (s["ci95"].is_null()) {
		cell = fmt::format("{:.2f}x [no 95% CI]", s["value"].get<double>());  // why: ci95_reason in the JSON
	} else {
		const auto &ci = s["ci95"];
		cell = fmt::format("{:.2f}x [{:.2f}, {}]{}", s["value"].get<double>(), ci[0].get<double>(),
				   ci[1].is_null() ? std::string("inf") : fmt::format("{:.2f}", ci[1].get<double>()),
				   s["significant"].get<bool>() ? " *" : "");
	}
	if (row.contains("environment_differs"))
		cell += fmt::format(" (not a kernel comparison: runs differ in {})", join(row["environment_differs"], "; "));
	return cell;
}

std::string what(const nlohmann::json &row)
{
	std::string p = row["params"].get<std::string>();
	return row["workload"].get<std::string>() + (p.empty() ? "" : " " + p);
}

std::string ratio_cell(const nlohmann::json &r)
{
	if (r["value"].is_null())
		return "undefined (" + r.value("reason", "?") + ")";
	if (r["ci95"].is_null())
		return fmt::format("{:.3f} [too few boots to decide: {}]", r["value"].get<double>(), r.value("reason", ""));
	return fmt::format("{:.3f} [{:.3f}, {:.3f}]{}", r["value"].get<double>(), r["ci95"][0].get<double>(), r["ci95"][1].get<double>(),
			   r["significant"].get<bool>() ? " *" : "");
}

std::string kernels_markdown(const nlohmann::json &c)
{
	if (!c.contains("kernels") || c["kernels"].empty())
		return "";
	std::string s = "\n## kernel A/B (boot as the unit)\n\nRatio B/A of the geometric means of per-boot medians; 95% interval: "
			"Welch t on their logs (at least 3 boots per kernel). * = the interval excludes 1.\n\n"
			"| run | workload | size | mode | metric | A | B | A boot medians | B boot medians | B/A [95% CI] |\n|---|---|---|---|---|---|---|---|---|---|\n";
	for (const auto &r : c["kernels"]) {
		auto list = [&](const nlohmann::json &v) {
			std::string out;
			for (const auto &x : v)
				out += (out.empty() ? "" : ", ") + human(x.get<double>(), r);
			return out;
		};
		s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r["run"].get<int>(), what(r), r["size"].get<std::string>(),
				 r["mode"].get<std::string>(), r["metric"].get<std::string>(), r["kernel_a"].get<std::string>(),
				 r["kernel_b"].get<std::string>(), list(r["a_boot_medians"]), list(r["b_boot_medians"]), ratio_cell(r["ratio"]));
	}
	return s;
}

}  // namespace

// Cells on which the kernel reported bad state: each with its first line.
static std::string kernel_warnings_text(const nlohmann::json &c, bool markdown)
{
	if (!c.contains("kernel_warnings") || c["kernel_warnings"].empty())
		return "";
	std::string s = markdown ? "\n## kernel warnings (the cell kept its measurement)\n\n" : "\nkernel warnings (the cell kept its measurement):\n";
	for (const auto &w : c["kernel_warnings"])
		s += fmt::format("{}run {} {} {} {}: {}, {} lines, first: {}\n", markdown ? "- " : "  ", w["run"].get<size_t>(),
				 w["workload"].get<std::string>(), w["size"].get<std::string>(), w["mode"].get<std::string>(),
				 w["verdict"].get<std::string>(), w["lines"].size(), w["lines"][0].get<std::string>());
	return s;
}

// Fork vs ODF on the latency tails (the cells' merged histograms).
static std::string tails_text(const nlohmann::json &c, bool markdown)
{
	if (!c.contains("tails") || c["tails"].empty())
		return "";
	auto us = [](const nlohmann::json &v) { return v.is_number() ? fmt::format("{:.1f}", v.get<double>() / 1e3) : std::string("-"); };
	std::string s = markdown ? "\n## latency tails: fork vs ODF (merged histograms; quantiles within "
				   "the bucket error)\n\n| run | workload | size | mode | what | process | n fork / ODF | p50 us fork / ODF | "
				   "p99 us fork / ODF | p99.9 us fork / ODF | p99 ODF/fork | ODF table-copy faults: n, p99 us |\n"
				   "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
				 : "\nlatency tails, fork vs ODF (merged histograms, us):\n";
	for (const auto &r : c["tails"]) {
		const auto &f = r["fork"], &o = r["odf"];
		std::string tc = r.contains("odf_table_copy")
					 ? fmt::format("{}, {}", r["odf_table_copy"].value("count", 0), us(r["odf_table_copy"].value("p99_ns", nlohmann::json())))
					 : "";
		if (markdown)
			s += fmt::format("| {} | {} | {} | {} | {} | {} | {} / {} | {} / {} | {} / {} | {} / {} | {:.2f}x | {} |\n", r["run"].get<int>(),
					 r["workload"].get<std::string>(), r["size"].get<std::string>(), r["mode"].get<std::string>(),
					 r["kind"].get<std::string>(), r["role"].get<std::string>(), f["count"].dump(), o["count"].dump(), us(f["p50_ns"]),
					 us(o["p50_ns"]), us(f["p99_ns"]), us(o["p99_ns"]), us(f["p999_ns"]), us(o["p999_ns"]),
					 r["p99_ratio"].get<double>(), tc);
		else
			s += fmt::format("  run {} {} {} {} {} {}: p99 {} -> {}, p99.9 {} -> {} (n {} / {}){}\n", r["run"].get<int>(), r["workload"].get<std::string>(),
					 r["size"].get<std::string>(), r["mode"].get<std::string>(), r["kind"].get<std::string>(),
					 r["role"].get<std::string>(), us(f["p99_ns"]), us(o["p99_ns"]), us(f["p999_ns"]), us(o["p999_ns"]),
					 f["count"].dump(), o["count"].dump(), tc.empty() ? "" : "; ODF table-copy faults n, p99: " + tc);
	}
	return s;
}

std::string compare_markdown(const nlohmann::json &c)
{
	std::string s = "# odfbench compare\n\n";
	for (size_t i = 0; i < c["runs"].size(); ++i) {
		const auto &run = c["runs"][i];
		s += fmt::format("- run {}: {} ({}){}{}\n", i, run["label"].get<std::string>(), run["path"].get<std::string>(),
				 run["status"] == "complete" ? "" : fmt::format(", status {}", run["status"].get<std::string>()),
				 run.contains("environment_differs") && !run["environment_differs"].empty()
					 ? fmt::format("; **environment differs from run 0**: {}", join(run["environment_differs"], "; "))
					 : "");
	}
	s += "\nSpeedup: how many times better a strategy (ODF, a folio size, uffd-wp, vfork, posix-spawn) is than fork on 4K pages "
	     "(fork/strategy for times, strategy/fork for rates); "
	     "95% CI from distribution-free median intervals (\"no 95% CI\" when a side has fewer than 7 samples); "
	     "* = the interval excludes 1. Across runs that differ in accelerator, CPUs, machine or memory, "
	     "the ratio is not a kernel comparison and is never marked.\n\n";
	s += "## fork vs each strategy\n\n| run | workload | size | metric | mode | fork median | strategy median | speedup [95% CI] |\n|---|---|---|---|---|---|---|---|\n";
	for (const auto &r : c["within"]) {
		if (r.contains("unavailable")) {
			s += fmt::format("| {} | {} | {} | {} | {} | {} | | not measured: {} |\n", r["run"].get<int>(), what(r), r["size"].get<std::string>(),
					 r["metric"].get<std::string>(), r["mode"].get<std::string>(),
					 r.contains("fork") ? human(r["fork"]["median"].get<double>(), r) : "",
					 r["unavailable"].get<std::string>());
			continue;
		}
		std::string m = r["metric"];
		s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", r["run"].get<int>(), what(r), r["size"].get<std::string>(), m,
				 r["mode"].get<std::string>(), human(r["fork"]["median"].get<double>(), r), human(r["odf"]["median"].get<double>(), r),
				 speedup_cell(r));
	}
	s += tails_text(c, true);
	s += kernel_warnings_text(c, true);
	s += kernels_markdown(c);
	if (!c["across"].empty()) {
		s += "\n## across runs (against run 0)\n\n| run | workload | size | mode | metric | run 0 median | this median | speedup [95% CI] |\n|---|---|---|---|---|---|---|---|\n";
		for (const auto &r : c["across"]) {
			std::string m = r["metric"];
			if (r.contains("unavailable")) {
				s += fmt::format("| {} | {} | {} | {} | {} | | | {} |\n", r["run"].get<int>(), what(r), r["size"].get<std::string>(),
						 r["mode"].get<std::string>(), m, r["unavailable"].get<std::string>());
				continue;
			}
			s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", r["run"].get<int>(), what(r), r["size"].get<std::string>(),
					 r["mode"].get<std::string>(), m, human(r["base"]["median"].get<double>(), r),
					 human(r["this"]["median"].get<double>(), r), speedup_cell(r));
		}
	}
	return s;
}

namespace {

bool is_odf_mode_name(const std::string &m) { return m == "odf" || m.rfind("odf-", 0) == 0; }

std::string within_line(const nlohmann::json &r)
{
	return fmt::format("{:<3} {:<18} {:>6} {:<11} {:>11} {:>11}  {}\n", r["run"].get<int>(), r["workload"].get<std::string>(),
			   r["size"].get<std::string>(), r["mode"].get<std::string>(), human(r["fork"]["median"].get<double>(), r),
			   human(r["odf"]["median"].get<double>(), r), speedup_cell(r));
}

// "fork-latency 64M odf, fork-latency 64M odf-procfs, ... and 12 more"
std::string cell_list(const std::vector<std::string> &cells, size_t shown)
{
	std::string s;
	for (size_t i = 0; i < cells.size() && i < shown; ++i)
		s += (i ? ", " : "") + cells[i];
	if (cells.size() > shown)
		s += fmt::format(" and {} more", cells.size() - shown);
	return s;
}

}  // namespace

// The terminal's view: the fork-vs-ODF answer per kernel first, then the
// strategies; what was not measured one line per reason; across-run ratios
// only between runs in the same environment (the markdown keeps every row).
std::string compare_text(const nlohmann::json &c)
{
	std::string s;
	for (size_t i = 0; i < c["runs"].size(); ++i) {
		const auto &run = c["runs"][i];
		s += fmt::format("run {}: {}\n", i, run["label"].get<std::string>());
		if (run.contains("environment_differs") && !run["environment_differs"].empty())
			s += fmt::format("  environment differs from run 0 ({}): across-run ratios are not kernel comparisons\n",
					 join(run["environment_differs"], "; "));
	}
	const char *header = "{:<3} {:<18} {:>6} {:<11} {:>11} {:>11}  {}\n";
	std::string odf_rows, strategy_rows;
	std::vector<std::pair<std::string, std::vector<std::string>>> missing;  // (run and reason, cells), first-seen order
	for (const auto &r : c["within"]) {
		if (r.contains("unavailable")) {
			// "odf: kernel has no ODF" and "odf-procfs: kernel has no ODF" are one reason
			std::string why = r["unavailable"], prefix = r["mode"].get<std::string>() + ": ";
			if (why.rfind(prefix, 0) == 0)
				why.erase(0, prefix.size());
			std::string key = fmt::format("run {}: {}", r["run"].get<int>(), why);
			auto it = std::find_if(missing.begin(), missing.end(), [&](const auto &m) { return m.first == key; });
			if (it == missing.end())
				it = missing.insert(missing.end(), {key, {}});
			it->second.push_back(fmt::format("{} {} {}", r["workload"].get<std::string>(), r["size"].get<std::string>(),
							  r["mode"].get<std::string>()));
			continue;
		}
		(is_odf_mode_name(r["mode"]) ? odf_rows : strategy_rows) += within_line(r);
	}
	if (!odf_rows.empty())
		s += "\nfork vs ODF:\n" + fmt::format(fmt::runtime(header), "run", "workload", "size", "mode", "fork", "ODF", "speedup [95% CI]") +
		     odf_rows;
	else
		s += "\nfork vs ODF: no cell measured both (see below for why)\n";
	if (!strategy_rows.empty())
		s += "\nfork vs other strategies (not ODF):\n" +
		     fmt::format(fmt::runtime(header), "run", "workload", "size", "strategy", "fork", "strategy", "speedup [95% CI]") + strategy_rows;
	if (!missing.empty()) {
		s += "\nnot measured, one line per reason:\n";
		for (const auto &[key, cells] : missing)
			s += fmt::format("  {} ({} comparison{}: {})\n", key, cells.size(), cells.size() == 1 ? "" : "s", cell_list(cells, 4));
	}
	s += tails_text(c, false);
	s += kernel_warnings_text(c, false);
	if (!c["kernels"].empty())
		s += "\n" + kernels_markdown(c);
	if (!c["across"].empty()) {
		std::string rows;
		std::vector<std::pair<int, size_t>> left_out;  // (run, ratios)
		for (const auto &r : c["across"]) {
			if (r.contains("unavailable"))
				continue;
			if (r.contains("environment_differs")) {
				int run = r["run"].get<int>();
				if (left_out.empty() || left_out.back().first != run)
					left_out.push_back({run, 0});
				++left_out.back().second;
				continue;
			}
			rows += fmt::format(fmt::runtime(header), r["run"].get<int>(), r["workload"].get<std::string>(), r["size"].get<std::string>(),
					    r["mode"].get<std::string>(), human(r["base"]["median"].get<double>(), r),
					    human(r["this"]["median"].get<double>(), r), speedup_cell(r));
		}
		if (!rows.empty())
			s += "\nacross runs, against run 0:\n" +
			     fmt::format(fmt::runtime(header), "run", "workload", "size", "mode", "run 0", "this", "speedup [95% CI]") + rows;
		for (const auto &[run, n] : left_out)
			s += fmt::format("\nacross runs: {} ratio{} of run {} against run 0 left out: the runs differ in {}, so {} not "
					 "kernel comparisons (the markdown file keeps {})\n",
					 n, n == 1 ? "" : "s", run, join(c["runs"][run]["environment_differs"], "; "), n == 1 ? "it is" : "they are",
					 n == 1 ? "it" : "them");
	}
	return s;
}

}  // namespace odfb
