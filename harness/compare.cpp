#include "compare.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "stats.h"
#include "workload.h"

namespace odfb {

namespace {

struct Cell {
	std::string workload, params, size, mode, status, reason, metric;
	bool higher_is_better = false;
	std::vector<double> samples;
};

bool higher_is_better(const std::string &metric, const nlohmann::json &params)
{
	if (metric == "metric")  // external: the spec says which way is better
		return params.value("metric", nlohmann::json::object()).value("higher_is_better", false);
	return metric.ends_with("_per_s");
}

// The workload's headline metric: the first of its metrics the trials carry.
std::string headline(const nlohmann::json &r)
{
	auto wl = make_workload(r["workload"].get<std::string>());
	if (!wl)
		return "";
	for (const auto &m : wl->metrics())
		for (const auto &t : r["trials"])
			if (t.contains(m) && t[m].is_number())
				return m;
	return "";
}

std::vector<Cell> cells_of(const nlohmann::json &doc)
{
	std::vector<Cell> cells;
	for (const auto &r : doc["results"]) {
		Cell c;
		c.workload = r["workload"];
		nlohmann::json p = r["params"];
		c.size = p.value("size", "");
		p.erase("size");
		c.params = p.empty() ? "" : p.dump();
		c.mode = r["mode"];
		c.status = r["status"];
		c.reason = r.value("reason", "");
		if (c.status == "ok") {
			c.metric = headline(r);
			c.higher_is_better = higher_is_better(c.metric, p);
			for (const auto &t : r["trials"])
				if (t.contains(c.metric) && t[c.metric].is_number())
					c.samples.push_back(t[c.metric].get<double>());
		}
		cells.push_back(std::move(c));
	}
	return cells;
}

nlohmann::json side(const Cell &c)
{
	auto s = summarize(c.samples);
	return {{"median", s.median}, {"ci95", {s.ci95[0], s.ci95[1]}}, {"n", s.n}};
}

nlohmann::json speedup_json(const Speedup &s)
{
	return {{"value", s.value}, {"ci95", {s.lo, s.hi}}, {"significant", s.significant}};
}

std::string human(double v, const std::string &metric)
{
	if (metric.ends_with("_ns") || metric == "latest_fork_usec") {
		double ns = metric == "latest_fork_usec" ? v * 1000 : v;
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

std::string label_of(const std::string &path, const nlohmann::json &doc)
{
	const auto &run = doc["run"];
	std::string vm;
	if (run.contains("environment") && run["environment"].contains("vm") && run["environment"]["vm"].is_object())
		vm = fmt::format(", VM {}", run["environment"]["vm"].value("accelerator", "?"));
	return fmt::format("{} ({} {}{})", std::filesystem::path(path).filename().string(), run["kernel"].value("release", "?"),
			   run["odf"].value("variant", "?"), vm);
}

}  // namespace

nlohmann::json load_results(const std::string &path)
{
	std::ifstream in(path);
	if (!in)
		throw std::invalid_argument(fmt::format("{}: cannot open", path));
	nlohmann::json doc;
	try {
		doc = nlohmann::json::parse(in);
	} catch (const nlohmann::json::parse_error &e) {
		throw std::invalid_argument(fmt::format("{}: not valid JSON ({})", path, e.what()));
	}
	if (!doc.is_object() || !doc.contains("results") || !doc["results"].is_array() || !doc.contains("run"))
		throw std::invalid_argument(fmt::format("{}: not an odfbench results file (no run/results)", path));
	return doc;
}

nlohmann::json compare_runs(const std::vector<std::string> &paths, const std::vector<nlohmann::json> &docs)
{
	nlohmann::json out = {{"runs", nlohmann::json::array()}, {"within", nlohmann::json::array()}, {"across", nlohmann::json::array()}};
	std::vector<std::vector<Cell>> all;
	for (size_t i = 0; i < docs.size(); ++i) {
		out["runs"].push_back({{"path", paths[i]}, {"label", label_of(paths[i], docs[i])}, {"status", docs[i]["run"].value("status", "?")}});
		all.push_back(cells_of(docs[i]));
	}
	// fork against each ODF mode, inside each run
	for (size_t i = 0; i < all.size(); ++i)
		for (const auto &f : all[i]) {
			if (f.mode != "fork")
				continue;
			for (const auto &o : all[i]) {
				if (o.mode == "fork" || o.workload != f.workload || o.params != f.params || o.size != f.size)
					continue;
				nlohmann::json row = {{"run", i},      {"workload", f.workload}, {"params", f.params}, {"size", f.size},
						      {"mode", o.mode}, {"metric", f.metric},     {"higher_is_better", f.higher_is_better}};
				if (f.status == "ok")
					row["fork"] = side(f);  // shown even when the ODF side was not measured
				if (f.status != "ok" || o.status != "ok") {
					row["unavailable"] = f.status != "ok" ? "fork: " + f.reason : o.mode + ": " + o.reason;
				} else {
					row["odf"] = side(o);
					row["speedup"] = speedup_json(speedup(f.samples, o.samples, f.higher_is_better));
				}
				out["within"].push_back(row);
			}
		}
	// the same cell across runs (kernels), against the first run
	for (size_t i = 1; i < all.size(); ++i)
		for (const auto &a : all[0])
			for (const auto &b : all[i]) {
				if (a.workload != b.workload || a.params != b.params || a.size != b.size || a.mode != b.mode)
					continue;
				nlohmann::json row = {{"run", i}, {"workload", a.workload}, {"params", a.params}, {"size", a.size},
						      {"mode", a.mode}, {"metric", a.metric}, {"higher_is_better", a.higher_is_better}};
				if (a.status != "ok" || b.status != "ok" || a.metric != b.metric) {
					row["unavailable"] = a.status != "ok" ? "first run: " + a.status : b.status != "ok" ? "this run: " + b.status
															 : "different headline metrics";
				} else {
					row["base"] = side(a);
					row["this"] = side(b);
					row["speedup"] = speedup_json(speedup(a.samples, b.samples, a.higher_is_better));
				}
				out["across"].push_back(row);
			}
	return out;
}

namespace {

std::string speedup_cell(const nlohmann::json &row)
{
	if (row.contains("unavailable"))
		return "-";
	const auto &s = row["speedup"];
	return fmt::format("{:.2f}x [{:.2f}, {:.2f}]{}", s["value"].get<double>(), s["ci95"][0].get<double>(), s["ci95"][1].get<double>(),
			   s["significant"].get<bool>() ? " *" : "");
}

std::string what(const nlohmann::json &row)
{
	std::string p = row["params"].get<std::string>();
	return row["workload"].get<std::string>() + (p.empty() ? "" : " " + p);
}

}  // namespace

std::string compare_markdown(const nlohmann::json &c)
{
	std::string s = "# odfbench compare\n\n";
	for (size_t i = 0; i < c["runs"].size(); ++i)
		s += fmt::format("- run {}: {} ({}){}\n", i, c["runs"][i]["label"].get<std::string>(), c["runs"][i]["path"].get<std::string>(),
				 c["runs"][i]["status"] == "complete" ? "" : fmt::format(", status {}", c["runs"][i]["status"].get<std::string>()));
	s += "\nSpeedup: how many times better ODF is than fork (fork/ODF for times, ODF/fork for rates); "
	     "95% CI from distribution-free median intervals; * = the interval excludes 1.\n\n";
	s += "## fork vs ODF\n\n| run | workload | size | metric | mode | fork median | ODF median | speedup [95% CI] |\n|---|---|---|---|---|---|---|---|\n";
	for (const auto &r : c["within"]) {
		if (r.contains("unavailable")) {
			s += fmt::format("| {} | {} | {} | {} | {} | {} | | not measured: {} |\n", r["run"].get<int>(), what(r), r["size"].get<std::string>(),
					 r["metric"].get<std::string>(), r["mode"].get<std::string>(),
					 r.contains("fork") ? human(r["fork"]["median"].get<double>(), r["metric"]) : "",
					 r["unavailable"].get<std::string>());
			continue;
		}
		std::string m = r["metric"];
		s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", r["run"].get<int>(), what(r), r["size"].get<std::string>(), m,
				 r["mode"].get<std::string>(), human(r["fork"]["median"].get<double>(), m), human(r["odf"]["median"].get<double>(), m),
				 speedup_cell(r));
	}
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
					 r["mode"].get<std::string>(), m, human(r["base"]["median"].get<double>(), m),
					 human(r["this"]["median"].get<double>(), m), speedup_cell(r));
		}
	}
	return s;
}

std::string compare_text(const nlohmann::json &c)
{
	std::string s;
	for (size_t i = 0; i < c["runs"].size(); ++i)
		s += fmt::format("run {}: {}\n", i, c["runs"][i]["label"].get<std::string>());
	s += fmt::format("\n{:<3} {:<18} {:>6} {:<11} {:>11} {:>11}  {}\n", "run", "workload", "size", "mode", "fork", "ODF", "speedup [95% CI]");
	for (const auto &r : c["within"]) {
		std::string m = r["metric"];
		if (r.contains("unavailable")) {
			s += fmt::format("{:<3} {:<18} {:>6} {:<11} {:>11} {:>11}  not measured: {}\n", r["run"].get<int>(), r["workload"].get<std::string>(),
					 r["size"].get<std::string>(), r["mode"].get<std::string>(),
					 r.contains("fork") ? human(r["fork"]["median"].get<double>(), m) : "", "",
					 r["unavailable"].get<std::string>().substr(0, 60));
			continue;
		}
		s += fmt::format("{:<3} {:<18} {:>6} {:<11} {:>11} {:>11}  {}\n", r["run"].get<int>(), r["workload"].get<std::string>(),
				 r["size"].get<std::string>(), r["mode"].get<std::string>(), human(r["fork"]["median"].get<double>(), m),
				 human(r["odf"]["median"].get<double>(), m), speedup_cell(r));
	}
	if (!c["across"].empty()) {
		s += fmt::format("\nacross runs, against run 0:\n{:<3} {:<18} {:>6} {:<11} {:>11} {:>11}  {}\n", "run", "workload", "size", "mode",
				 "run 0", "this", "speedup [95% CI]");
		for (const auto &r : c["across"]) {
			if (r.contains("unavailable"))
				continue;
			std::string m = r["metric"];
			s += fmt::format("{:<3} {:<18} {:>6} {:<11} {:>11} {:>11}  {}\n", r["run"].get<int>(), r["workload"].get<std::string>(),
					 r["size"].get<std::string>(), r["mode"].get<std::string>(), human(r["base"]["median"].get<double>(), m),
					 human(r["this"]["median"].get<double>(), m), speedup_cell(r));
		}
	}
	return s;
}

}  // namespace odfb
