#include "compare/compare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/stats.h"
#include "run/workload_metric.h"

namespace odfb {

namespace {

struct Cell {
	std::string kernel;  // in an A/B document, the kernel the cell ran on
	std::string workload, params, size, mode, status, reason, metric, unit;
	bool higher_is_better = false;
	std::vector<double> samples;
};

// Results files written before cells carried their metric descriptors: the
// headline metrics those builds had, with their meaning.  Nothing newer is
// added here; a cell with descriptors never reads this.
const std::map<std::string, Metric> &legacy_headlines()
{
	static const std::map<std::string, Metric> m = {
		{"fork-latency", Metric::ns("fork_ns")},      {"thp", Metric::ns("fork_ns")},
		{"vma-sweep", Metric::ns("fork_ns")},         {"concurrent-fork", Metric::ns("fork_ns")},
		{"post-fork-access", Metric::ns("total_ns")}, {"fork-rate", Metric::rate("forks_per_s")},
		{"fuzz", Metric::rate("execs_per_s")},        {"redis-snapshot", Metric::us("latest_fork_usec")},
	};
	return m;
}

// The cell's headline: the first described metric its trials carry.
std::optional<Metric> headline(const nlohmann::json &r)
{
	std::vector<Metric> described;
	if (r.contains("metrics") && r["metrics"].is_array()) {
		for (const auto &m : r["metrics"])
			described.push_back({m.value("name", ""), m.value("unit", ""), m.value("better", "lower") == "higher"});
	} else if (auto it = legacy_headlines().find(r["workload"].get<std::string>()); it != legacy_headlines().end()) {
		described.push_back(it->second);
	} else if (r["workload"] == "external") {
		auto spec = r["params"].value("metric", nlohmann::json::object());
		described.push_back({"metric", spec.value("name", ""), spec.value("higher_is_better", false)});
	}
	for (const auto &m : described)
		for (const auto &t : r["trials"])
			if (t.contains(m.name) && t[m.name].is_number())
				return m;
	return std::nullopt;
}

std::vector<Cell> cells_of(const nlohmann::json &doc)
{
	std::vector<Cell> cells;
	for (const auto &r : doc["results"]) {
		Cell c;
		c.kernel = r.value("kernel", "");
		c.workload = r["workload"];
		nlohmann::json p = r["params"];
		c.size = p.value("size", "");
		p.erase("size");
		c.params = p.empty() ? "" : p.dump();
		c.mode = r["mode"];
		c.status = r["status"];
		c.reason = r.value("reason", "");
		if (auto h = c.status == "ok" ? headline(r) : std::nullopt) {
			c.metric = h->name;
			c.unit = h->unit;
			c.higher_is_better = h->higher_is_better;
			for (const auto &t : r["trials"])
				if (t.contains(c.metric) && t[c.metric].is_number())
					c.samples.push_back(t[c.metric].get<double>());
		}
		cells.push_back(std::move(c));
	}
	return cells;
}

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

std::string label_of(const std::string &path, const nlohmann::json &doc)
{
	const auto &run = doc["run"];
	std::string vm;
	if (run.contains("environment") && run["environment"].contains("vm") && run["environment"]["vm"].is_object())
		vm = fmt::format(", VM {}", run["environment"]["vm"].value("accelerator", "?"));
	return fmt::format("{} ({} {}{})", std::filesystem::path(path).filename().string(), run["kernel"].value("release", "?"),
			   run["odf"].value("variant", "?"), vm);
}

// Each cell of kernel B (and C, ...) against kernel A, the boot the unit:
// one median per boot of the cell's headline metric (merge_ab keeps them).
std::vector<nlohmann::json> kernel_ab_rows(const nlohmann::json &doc)
{
	std::vector<nlohmann::json> rows;
	if (!doc["run"].contains("ab"))
		return rows;
	auto order = doc["run"]["ab"]["kernels"].get<std::vector<std::string>>();
	if (order.size() < 2)
		return rows;
	auto key = [](const nlohmann::json &r) {
		nlohmann::json p = r["params"];
		p.erase("size");
		p.erase("size_bytes");
		return r["workload"].get<std::string>() + "|" + p.dump() + "|" + r["params"].value("size", "") + "|" + r["mode"].get<std::string>();
	};
	auto boot_medians = [](const nlohmann::json &r) {
		std::vector<double> v;
		for (const auto &b : r.value("boots", nlohmann::json::array()))
			if (b.value("status", "") == "ok" && b.contains("median"))
				v.push_back(b["median"].get<double>());
		return v;
	};
	for (const auto &a : doc["results"]) {
		if (a.value("kernel", "") != order[0])
			continue;
		for (size_t k = 1; k < order.size(); ++k)
			for (const auto &b : doc["results"]) {
				if (b.value("kernel", "") != order[k] || key(a) != key(b))
					continue;
				auto h = headline(a);
				nlohmann::json p = a["params"];
				p.erase("size");
				p.erase("size_bytes");
				nlohmann::json row = {{"workload", a["workload"]}, {"params", p.empty() ? "" : p.dump()}, {"size", a["params"].value("size", "")},
						      {"mode", a["mode"]}, {"kernel_a", order[0]}, {"kernel_b", order[k]},
						      {"metric", a.value("boot_metric", h ? h->name : "")}, {"unit", h ? h->unit : ""}};
				auto ma = boot_medians(a), mb = boot_medians(b);
				row["a_boot_medians"] = ma;
				row["b_boot_medians"] = mb;
				row["ratio"] = to_json(boot_ratio(ma, mb));
				rows.push_back(row);
			}
	}
	return rows;
}

}  // namespace

std::vector<std::pair<std::string, nlohmann::json>> merge_shards(const std::vector<std::string> &paths,
								 const std::vector<nlohmann::json> &docs)
{
	std::vector<std::pair<std::string, nlohmann::json>> out;
	std::map<std::string, size_t> group;  // same spec, kernel and ODF variant -> index in out
	for (size_t i = 0; i < docs.size(); ++i) {
		const auto &run = docs[i]["run"];
		bool shard = run.contains("selection") && run["selection"].value("shard", nlohmann::json()).is_string();
		if (!shard) {
			out.emplace_back(paths[i], docs[i]);
			continue;
		}
		std::string k = run["spec"].dump() + "|" + run["kernel"].value("release", "") + "|" + run["odf"].value("variant", "") + "|" +
				run["selection"]["shard"].get<std::string>().substr(run["selection"]["shard"].get<std::string>().find('/'));
		auto it = group.find(k);
		if (it == group.end()) {
			group[k] = out.size();
			auto d = docs[i];
			d["run"]["shards"] = {{{"path", paths[i]}, {"shard", run["selection"]["shard"]}, {"host", run["host"]}}};
			out.emplace_back(paths[i], d);
			continue;
		}
		auto &[p, d] = out[it->second];
		p += "+" + std::filesystem::path(paths[i]).filename().string();
		for (const auto &r : docs[i]["results"])
			d["results"].push_back(r);
		d["run"]["shards"].push_back({{"path", paths[i]}, {"shard", run["selection"]["shard"]}, {"host", run["host"]}});
		if (run.value("status", "") != "complete")
			d["run"]["status"] = run["status"];
	}
	for (auto &[p, d] : out)
		if (d["run"].contains("shards")) {
			auto &rs = d["results"];
			std::stable_sort(rs.begin(), rs.end(), [](const auto &x, const auto &y) { return x.value("cell", 0) < y.value("cell", 0); });
			std::string n = d["run"]["selection"]["shard"].get<std::string>();
			n = n.substr(n.find('/') + 1);
			if (d["run"]["shards"].size() != static_cast<size_t>(std::stoi(n)))
				d["run"]["shards_missing"] = fmt::format("{} of {} shards given", d["run"]["shards"].size(), n);
		}
	return out;
}

nlohmann::json parse_json_file(const std::string &path)
{
	std::ifstream in(path);
	if (!in)
		throw std::invalid_argument(fmt::format("{}: cannot open", path));
	try {
		return nlohmann::json::parse(in);
	} catch (const nlohmann::json::parse_error &e) {
		throw std::invalid_argument(fmt::format("{}: not valid JSON ({})", path, e.what()));
	}
}

nlohmann::json load_results(const std::string &path)
{
	nlohmann::json doc = parse_json_file(path);
	if (!doc.is_object() || !doc.contains("results") || !doc["results"].is_array() || !doc.contains("run"))
		throw std::invalid_argument(fmt::format("{}: not an odfbench results file (no run/results)", path));
	return doc;
}

nlohmann::json run_environment(const nlohmann::json &doc)
{
	nlohmann::json run = doc.value("run", nlohmann::json::object());
	nlohmann::json host = run.value("host", nlohmann::json::object());
	nlohmann::json vm = nullptr;
	if (run.contains("environment") && run["environment"].is_object())
		vm = run["environment"].value("vm", nlohmann::json(nullptr));
	nlohmann::json env = {{"accelerator", "host"}};
	if (vm.is_object())
		env["accelerator"] = vm.contains("accelerator") && vm["accelerator"].is_string() ? vm["accelerator"].get<std::string>() : "?";
	else if (!vm.is_null())
		env["accelerator"] = "?";
	auto copy = [&](const char *key, const nlohmann::json &from, const char *as) {
		env[as] = from.is_object() && from.contains(key) ? from[key] : nlohmann::json(nullptr);
	};
	copy("cpu_model", host, "cpu_model");
	copy("cpus_online", host, "cpus_online");
	copy("mem_total_bytes", host, "mem_total_bytes");
	// The physical machine: the VM's host when the run was in a guest.
	if (vm.is_object() && vm.contains("host") && vm["host"].is_object())
		copy("cpu_model", vm["host"], "machine_cpu_model");
	else
		env["machine_cpu_model"] = env["cpu_model"];
	return env;
}

std::vector<std::string> environment_differences(const nlohmann::json &base, const nlohmann::json &other)
{
	std::vector<std::string> d;
	auto str = [](const nlohmann::json &j) { return j.is_string() ? j.get<std::string>() : j.dump(); };
	auto where = [](const nlohmann::json &acc) {
		std::string a = acc.is_string() ? acc.get<std::string>() : "?";
		return a == "host" ? std::string("host (no VM)") : a == "?" ? std::string("VM, accelerator unknown") : "QEMU " + a;
	};
	if (base["accelerator"] != other["accelerator"])
		d.push_back(fmt::format("accelerator: {} vs {}", where(base["accelerator"]), where(other["accelerator"])));
	const auto &c0 = base["cpus_online"], &c1 = other["cpus_online"];
	if (!c0.is_null() && !c1.is_null() && c0 != c1)
		d.push_back(fmt::format("CPUs: {} vs {}", str(c0), str(c1)));
	const auto &m0 = base["cpu_model"], &m1 = other["cpu_model"];
	if (!m0.is_null() && !m1.is_null() && m0 != m1)
		d.push_back(fmt::format("CPU model: {} vs {}", str(m0), str(m1)));
	const auto &p0 = base["machine_cpu_model"], &p1 = other["machine_cpu_model"];
	if (!p0.is_null() && !p1.is_null() && p0 != p1 && !(p0 == m0 && p1 == m1))
		d.push_back(fmt::format("machine: {} vs {}", str(p0), str(p1)));
	// MemTotal moves by a few MB between kernels on the same machine.
	const auto &b0 = base["mem_total_bytes"], &b1 = other["mem_total_bytes"];
	if (b0.is_number() && b1.is_number()) {
		double x = b0.get<double>(), y = b1.get<double>();
		if (std::fabs(x - y) > kMemoryTolerance * std::max(x, y))
			d.push_back(fmt::format("memory: {:.1f} GiB vs {:.1f} GiB", x / (1 << 30), y / (1 << 30)));
	}
	return d;
}

nlohmann::json compare_runs(const std::vector<std::string> &paths, const std::vector<nlohmann::json> &docs)
{
	nlohmann::json out = {{"runs", nlohmann::json::array()}, {"within", nlohmann::json::array()}, {"across", nlohmann::json::array()}};
	std::vector<std::vector<Cell>> all;
	std::vector<std::vector<std::string>> differs(docs.size());
	for (size_t i = 0; i < docs.size(); ++i) {
		nlohmann::json r = {{"path", paths[i]}, {"label", label_of(paths[i], docs[i])}, {"status", docs[i]["run"].value("status", "?")},
				    {"environment", run_environment(docs[i])}};
		if (i > 0) {
			differs[i] = environment_differences(out["runs"][0]["environment"], r["environment"]);
			r["environment_differs"] = differs[i];
		}
		out["runs"].push_back(r);
		all.push_back(cells_of(docs[i]));
	}
	// fork (4K pages) against each other strategy, inside each run: ODF, the
	// folio sizes, uffd-wp, vfork, posix-spawn ("odf" holds that strategy's median)
	for (size_t i = 0; i < all.size(); ++i)
		for (const auto &f : all[i]) {
			if (f.mode != "fork")
				continue;
			for (const auto &o : all[i]) {
				if (o.mode == "fork" || o.status == "not-applicable" || o.kernel != f.kernel || o.workload != f.workload || o.params != f.params || o.size != f.size)
					continue;
				nlohmann::json row = {{"run", i},      {"workload", f.workload}, {"params", f.params}, {"size", f.size},
						      {"mode", o.mode}, {"metric", f.metric},     {"unit", f.unit}, {"higher_is_better", f.higher_is_better}};
				if (!f.kernel.empty())
					row["kernel"] = f.kernel;
				if (f.status == "ok")
					row["fork"] = median_json(f.samples);  // shown even when the ODF side was not measured
				if (f.status != "ok" || o.status != "ok") {
					row["unavailable"] = f.status != "ok" ? "fork: " + f.reason : o.mode + ": " + o.reason;
				} else if (f.metric != o.metric) {
					row["unavailable"] = fmt::format("different headline metrics (fork: {}, {}: {})", f.metric.empty() ? "none" : f.metric,
									 o.mode, o.metric.empty() ? "none" : o.metric);
				} else {
					row["odf"] = median_json(o.samples);
					row["speedup"] = to_json(speedup(f.samples, o.samples, f.higher_is_better));
				}
				out["within"].push_back(row);
			}
		}
	// kernel A/B inside a run (odfbench vm --kernel A --kernel B --boots N)
	out["kernels"] = nlohmann::json::array();
	for (size_t i = 0; i < docs.size(); ++i)
		for (const auto &row : kernel_ab_rows(docs[i])) {
			auto r = row;
			r["run"] = i;
			out["kernels"].push_back(r);
		}
	// the same cell across runs (kernels), against the first run
	for (size_t i = 1; i < all.size(); ++i)
		for (const auto &a : all[0])
			for (const auto &b : all[i]) {
				if (a.kernel != b.kernel || a.workload != b.workload || a.params != b.params || a.size != b.size || a.mode != b.mode)
					continue;
				nlohmann::json row = {{"run", i}, {"workload", a.workload}, {"params", a.params}, {"size", a.size},
						      {"mode", a.mode}, {"metric", a.metric}, {"unit", a.unit}, {"higher_is_better", a.higher_is_better}};
				if (a.status != "ok" || b.status != "ok" || a.metric != b.metric) {
					row["unavailable"] = a.status != "ok" ? "first run: " + a.status : b.status != "ok" ? "this run: " + b.status
															 : "different headline metrics";
				} else {
					row["base"] = median_json(a.samples);
					row["this"] = median_json(b.samples);
					row["speedup"] = to_json(speedup(a.samples, b.samples, a.higher_is_better));
					if (!differs[i].empty()) {
						// Not a kernel effect: the runs were on different (virtual) machines.
						row["environment_differs"] = differs[i];
						row["speedup"]["significant"] = false;
					}
				}
				out["across"].push_back(row);
			}
	return out;
}

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
	s += fmt::format("\n{:<3} {:<18} {:>6} {:<11} {:>11} {:>11}  {}\n", "run", "workload", "size", "mode", "fork", "strategy", "speedup [95% CI]");
	for (const auto &r : c["within"]) {
		std::string m = r["metric"];
		if (r.contains("unavailable")) {
			s += fmt::format("{:<3} {:<18} {:>6} {:<11} {:>11} {:>11}  not measured: {}\n", r["run"].get<int>(), r["workload"].get<std::string>(),
					 r["size"].get<std::string>(), r["mode"].get<std::string>(),
					 r.contains("fork") ? human(r["fork"]["median"].get<double>(), r) : "", "",
					 r["unavailable"].get<std::string>().substr(0, 60));
			continue;
		}
		s += fmt::format("{:<3} {:<18} {:>6} {:<11} {:>11} {:>11}  {}\n", r["run"].get<int>(), r["workload"].get<std::string>(),
				 r["size"].get<std::string>(), r["mode"].get<std::string>(), human(r["fork"]["median"].get<double>(), r),
				 human(r["odf"]["median"].get<double>(), r), speedup_cell(r));
	}
	if (!c["kernels"].empty())
		s += "\n" + kernels_markdown(c);
	if (!c["across"].empty()) {
		s += fmt::format("\nacross runs, against run 0:\n{:<3} {:<18} {:>6} {:<11} {:>11} {:>11}  {}\n", "run", "workload", "size", "mode",
				 "run 0", "this", "speedup [95% CI]");
		for (const auto &r : c["across"]) {
			if (r.contains("unavailable"))
				continue;
			std::string m = r["metric"];
			s += fmt::format("{:<3} {:<18} {:>6} {:<11} {:>11} {:>11}  {}\n", r["run"].get<int>(), r["workload"].get<std::string>(),
					 r["size"].get<std::string>(), r["mode"].get<std::string>(), human(r["base"]["median"].get<double>(), r),
					 human(r["this"]["median"].get<double>(), r), speedup_cell(r));
		}
	}
	return s;
}

}  // namespace odfb
