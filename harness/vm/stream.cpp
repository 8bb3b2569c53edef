#include "vm/stream.h"

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "base/stats.h"
#include "base/sysinfo.h"

namespace odfb {

StreamedRun parse_stream(const std::string &text)
{
	static const std::string kTag = "ODFBENCH-EVENT ";
	StreamedRun s;
	std::istringstream in(text);
	for (std::string line; std::getline(in, line);) {
		size_t at = line.find(kTag);
		if (at == std::string::npos)
			continue;
		nlohmann::json e;
		try {
			e = nlohmann::json::parse(line.substr(at + kTag.size()));
		} catch (const nlohmann::json::exception &) {
			continue;  // torn by a dying guest
		}
		std::string ev = e.value("event", "");
		if (ev == "header" && e.contains("doc")) {
			s.header = e["doc"];
			s.output = e.value("output", "");
			for (const auto &p : e.value("planned", nlohmann::json::array()))
				s.planned.push_back(p);
		} else if (ev == "cell-start" && e.contains("cell")) {
			s.running = e["cell"].get<size_t>();
			s.running_mode = e.value("mode", "");
			s.running_since = e.value("t", -1.0);
		}
		else if (ev == "cell" && e.contains("result")) {
			size_t c = e["result"].value("cell", size_t(0));
			s.results[c] = e["result"];
			s.last_done = c;
			s.last_done_at = e.value("t", -1.0);
			if (s.running == c)
				s.running.reset();
		} else if (ev == "finish")
			s.finish = e["run"];
	}
	return s;
}

double console_time(const std::string &line)
{
	// Anywhere in the line: a progress line without its newline may come first.
	static const std::regex stamp(R"(\[\s*([0-9]+\.[0-9]+)\] )");
	std::smatch m;
	return std::regex_search(line, m, stamp) ? std::stod(m[1]) : -1;
}

namespace {

// A kernel message that comes within this long of a cell's start may belong to
// the teardown of the cell before (an mm is checked when it is freed, which
// can lag its process's exit by a little).  Kept short: a cell's own setup
// (prefaulting) takes longer, and its crashes must not be blamed elsewhere.
constexpr double kTeardownWindow = 0.5;

// Where in the cell the crash came, and a caution when it came so soon after
// the cell began that the cell before may be its cause.
void attribute_crash(nlohmann::json &r, const StreamedRun &sr, const BootRecord &rec, const char *text = "reason")
{
	double t = rec.console.empty() ? -1 : console_time(rec.console.front());
	if (t < 0 || sr.running_since < 0)
		return;
	r["crash_after_cell_start_s"] = t - sr.running_since;
	if (sr.last_done && t - sr.running_since < kTeardownWindow && sr.last_done_at >= 0) {
		r["crash_may_belong_to_cell"] = *sr.last_done;
		r[text] = r[text].get<std::string>() +
			      fmt::format(" (the first line came {:.2f} s after this cell started and {:.2f} s after cell {} finished: "
					  "it may come from the teardown of cell {})",
					  t - sr.running_since, t - sr.last_done_at, *sr.last_done, *sr.last_done);
	}
}

const nlohmann::json *first_header(const std::vector<StreamedRun> &boots)
{
	for (const auto &b : boots)
		if (!b.header.is_null())
			return &b.header;
	return nullptr;
}

nlohmann::json record_json(const BootRecord &r)
{
	nlohmann::json j = {{"boot", r.boot}, {"kernel", r.kernel}, {"outcome", r.outcome}, {"detail", r.detail},
			    {"seconds", r.seconds}, {"vm", r.vm}};
	if (!r.console.empty())
		j["console"] = r.console;
	if (!r.early_crashes.empty())
		j["crashed_before_init"] = r.early_crashes;
	return j;
}

// A result for a cell that produced none, shaped like the runner's.
nlohmann::json unfinished_cell(const nlohmann::json &plan, const nlohmann::json &spec, const std::string &status,
			       const std::string &reason)
{
	nlohmann::json params = nlohmann::json::object();
	size_t e = plan.value("experiment", size_t(0));
	if (spec.contains("experiments") && e < spec["experiments"].size())
		params = spec["experiments"][e].value("params", nlohmann::json::object());
	params["size"] = plan.value("size", "");
	params["size_bytes"] = plan.value("size_bytes", uint64_t(0));
	return {{"cell", plan["cell"]},
		{"workload", plan.value("workload", "")},
		{"mode", plan.value("mode", "")},
		{"params", params},
		{"status", status},
		{"reason", reason},
		{"trials", nlohmann::json::array()},
		{"summary", nlohmann::json::object()}};
}

}  // namespace

std::vector<size_t> remaining_cells(const std::vector<StreamedRun> &boots, const std::vector<BootRecord> &records)
{
	std::set<size_t> done;
	for (size_t b = 0; b < boots.size(); ++b) {
		for (auto &[c, _] : boots[b].results)
			done.insert(c);
		// A cell the kernel crashed in is a finding; it is not run again.
		if (boots[b].running && b < records.size() && records[b].outcome == "kernel-crash")
			done.insert(*boots[b].running);
	}
	std::vector<size_t> left;
	for (const auto &b : boots)
		if (!b.planned.empty()) {
			for (const auto &p : b.planned)
				if (!done.count(p["cell"].get<size_t>()))
					left.push_back(p["cell"].get<size_t>());
			break;
		}
	return left;
}

nlohmann::json merge_boots(const std::vector<StreamedRun> &boots, const std::vector<BootRecord> &records, bool interrupted)
{
	const nlohmann::json *hdr = first_header(boots);
	if (!hdr)
		return nullptr;
	nlohmann::json doc = *hdr;
	const nlohmann::json &spec = doc["run"]["spec"];
	std::map<size_t, nlohmann::json> by_cell;
	uint64_t wall = 0;
	nlohmann::json finished = nullptr;
	for (size_t b = 0; b < boots.size(); ++b) {
		int boot = b < records.size() ? records[b].boot : static_cast<int>(b);
		for (auto [c, r] : boots[b].results) {
			r["boot"] = boot;
			by_cell.emplace(c, r);
		}
		if (boots[b].running && !by_cell.count(*boots[b].running) && b < records.size()) {
			const auto &rec = records[b];
			nlohmann::json plan = {{"cell", *boots[b].running}};
			for (const auto &p : boots[b].planned)
				if (p["cell"] == *boots[b].running)
					plan = p;
			nlohmann::json r;
			if (rec.outcome == "kernel-crash") {
				r = unfinished_cell(plan, spec, "kernel-crash",
						    fmt::format("the guest kernel crashed during this cell (boot {}): {}", boot,
								rec.console.empty() ? rec.detail : rec.console.front()));
				r["console"] = rec.console;
				attribute_crash(r, boots[b], rec);
			} else
				r = unfinished_cell(plan, spec, "error", fmt::format("boot {} ended during this cell: {}", boot, rec.detail));
			r["boot"] = boot;
			by_cell.emplace(*boots[b].running, r);
		}
		if (!boots[b].finish.is_null()) {
			wall += boots[b].finish.value("wall_ns", uint64_t(0));
			finished = boots[b].finish["finished"];
		}
	}
	std::string last = records.empty() ? "" : records.back().detail;
	std::vector<nlohmann::json> plan;
	for (const auto &b : boots)
		if (!b.planned.empty()) {
			plan = b.planned;
			break;
		}
	for (const auto &p : plan)
		if (!by_cell.count(p["cell"].get<size_t>()))
			by_cell.emplace(p["cell"].get<size_t>(),
					unfinished_cell(p, spec, "error",
							interrupted ? "not run: interrupted" : fmt::format("not run: the last boot ended ({})", last)));
	doc["results"] = nlohmann::json::array();
	bool any_error = false;
	for (auto &[c, r] : by_cell) {
		any_error |= r.value("status", "") == "error";
		doc["results"].push_back(r);
	}
	nlohmann::json recs = nlohmann::json::array();
	for (const auto &r : records)
		recs.push_back(record_json(r));
	doc["run"]["boots"] = recs;
	doc["run"]["finished"] = finished.is_null() ? nlohmann::json(utc_timestamp()) : finished;
	doc["run"]["wall_ns"] = wall;
	bool guest_interrupted = !boots.empty() && !boots.back().finish.is_null() && boots.back().finish.value("status", "") == "interrupted";
	doc["run"]["status"] = interrupted || guest_interrupted ? "interrupted" : any_error ? "failed" : "complete";
	return doc;
}

nlohmann::json merge_check_boots(const std::vector<StreamedRun> &boots, const std::vector<BootRecord> &records, bool interrupted)
{
	const nlohmann::json *hdr = first_header(boots);
	if (!hdr)
		return nullptr;
	nlohmann::json doc = *hdr;
	std::map<size_t, nlohmann::json> by_cell;
	// What the guest planned for a cell: its name, and for a check its group and description.
	std::map<size_t, nlohmann::json> plan_of;
	for (const auto &b : boots)
		for (const auto &p : b.planned)
			plan_of[p["cell"].get<size_t>()] = p;
	auto unfinished = [&](size_t c) {
		nlohmann::json r = plan_of.count(c) ? plan_of[c] : nlohmann::json{{"cell", c}, {"name", ""}};
		r["results"] = nlohmann::json::object();
		return r;
	};
	auto modes = doc.value("modes", nlohmann::json::array());
	for (size_t b = 0; b < boots.size(); ++b) {
		int boot = b < records.size() ? records[b].boot : static_cast<int>(b);
		for (auto [c, r] : boots[b].results) {
			r["boot"] = boot;
			by_cell[c] = r;
		}
		if (!boots[b].running || b >= records.size())
			continue;
		size_t c = *boots[b].running;
		const auto &rec = records[b];
		nlohmann::json r = by_cell.count(c) ? by_cell[c] : unfinished(c);
		std::string mode = boots[b].running_mode.empty() ? "?" : boots[b].running_mode;
		bool crash = rec.outcome == "kernel-crash";
		r["results"][mode] = {{"status", crash ? "kernel-crash" : "hung"},
				      {"detail", crash ? fmt::format("the guest kernel crashed during this check (boot {}): {}", boot,
								     rec.console.empty() ? rec.detail : rec.console.front())
						       : fmt::format("boot {} ended during this check: {}", boot, rec.detail)}};
		if (crash) {
			r["results"][mode]["console"] = rec.console;
			attribute_crash(r["results"][mode], boots[b], rec, "detail");
		}
		for (const auto &m : modes)
			if (!r["results"].contains(m.get<std::string>()))
				r["results"][m.get<std::string>()] = {{"status", "skipped"}, {"detail", fmt::format("not run: the guest ended in {}", mode)}};
		r["boot"] = boot;
		by_cell[c] = r;
	}
	for (auto &[c, plan] : plan_of)
		if (!by_cell.count(c)) {
			nlohmann::json r = unfinished(c);
			for (const auto &m : modes)
				r["results"][m.get<std::string>()] = {{"status", "skipped"},
								      {"detail", interrupted ? "not run: interrupted" : "not run: the last boot ended early"}};
			by_cell[c] = r;
		}
	doc["checks"] = nlohmann::json::array();
	for (auto &[c, r] : by_cell)
		doc["checks"].push_back(r);
	nlohmann::json recs = nlohmann::json::array();
	for (const auto &r : records)
		recs.push_back(record_json(r));
	doc["boots"] = recs;
	doc["finished"] = utc_timestamp();
	doc["status"] = interrupted ? "interrupted" : "complete";
	return doc;
}

nlohmann::json merge_ab(const std::vector<std::pair<std::string, nlohmann::json>> &slots)
{
	if (slots.empty())
		return nullptr;
	nlohmann::json doc;
	std::vector<std::string> order;
	// (kernel, cell) -> the results of every boot slot of that kernel
	std::map<std::pair<std::string, size_t>, std::vector<nlohmann::json>> cells;
	nlohmann::json boots = nlohmann::json::array(), kernels = nlohmann::json::object();
	bool interrupted = false;
	for (const auto &[label, d] : slots) {
		if (d.is_null())
			continue;
		if (doc.is_null())
			doc = d;
		if (std::find(order.begin(), order.end(), label) == order.end())
			order.push_back(label);
		kernels[label] = {{"release", d["run"]["kernel"]["release"]}, {"odf", d["run"]["odf"]},
				  {"vm", d["run"]["environment"]["vm"]}};
		for (auto b : d["run"].value("boots", nlohmann::json::array()))
			boots.push_back(b);
		interrupted |= d["run"].value("status", "") == "interrupted";
		for (const auto &r : d["results"])
			cells[{label, r["cell"].get<size_t>()}].push_back(r);
	}
	if (doc.is_null())
		return nullptr;
	doc["results"] = nlohmann::json::array();
	bool any_error = false;
	for (const auto &label : order)
		for (auto &[key, rs] : cells) {
			if (key.first != label)
				continue;
			nlohmann::json out = rs.front();
			for (const auto &r : rs)
				if (r.value("status", "") == "ok") {
					out = r;
					break;
				}
			std::string headline;
			for (const auto &m : out.value("metrics", nlohmann::json::array()))
				if (m.value("headline", false)) {
					headline = m["name"];
					break;
				}
			nlohmann::json trials = nlohmann::json::array(), per_boot = nlohmann::json::array();
			for (const auto &r : rs) {
				std::vector<double> v;
				for (auto t : r.value("trials", nlohmann::json::array())) {
					t["boot"] = r.value("boot", -1);
					if (!headline.empty() && t.contains(headline) && t[headline].is_number())
						v.push_back(t[headline].get<double>());
					trials.push_back(t);
				}
				nlohmann::json pb = {{"boot", r.value("boot", -1)}, {"status", r.value("status", "")}, {"n", v.size()}};
				if (!v.empty())
					pb["median"] = summarize(v).median;
				per_boot.push_back(pb);
			}
			out["kernel"] = label;
			out.erase("boot");
			out["trials"] = trials;
			out["boots"] = per_boot;
			out["boot_metric"] = headline;
			out["summary"] = summarize_trials(trials);
			any_error |= out.value("status", "") == "error";
			doc["results"].push_back(out);
		}
	doc["run"]["ab"] = {{"kernels", order},
			    {"boots_per_kernel", slots.size() / std::max<size_t>(1, order.size())},
			    {"order", [&] {
				     nlohmann::json o = nlohmann::json::array();
				     for (const auto &s : slots)
					     o.push_back(s.first);
				     return o;
			     }()},
			    {"by_kernel", kernels}};
	doc["run"]["boots"] = boots;
	doc["run"]["status"] = interrupted ? "interrupted" : any_error ? "failed" : "complete";
	return doc;
}

}  // namespace odfb
