#include "run/spec.h"


#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "base/sizes.h"
#include "run/workload.h"

namespace odfb {

namespace {
const std::set<std::string> kExperimentKeys = {"workload", "sizes", "modes", "reps", "warmup", "params"};
const std::set<std::string> kTopKeys = {"name", "output", "experiments", "description", "fit_to_memory"};

std::string type_of(const nlohmann::json &v) { return v.type_name(); }

std::vector<std::string> split_csv(const std::string &s)
{
	std::vector<std::string> out;
	std::stringstream ss(s);
	std::string item;
	while (std::getline(ss, item, ','))
		out.push_back(item);
	if (!s.empty() && s.back() == ',')
		out.push_back("");
	return out;
}

int get_count(const nlohmann::json &v, const std::string &field, int lo, int hi)
{
	if (!v.is_number_integer())
		throw SpecError(fmt::format("{}: expected an integer, got {}", field, type_of(v)));
	auto n = v.get<int64_t>();
	if (n < lo || n > hi)
		throw SpecError(fmt::format("{}: {} is out of range [{}, {}]", field, n, lo, hi));
	return static_cast<int>(n);
}

Experiment parse_experiment(const nlohmann::json &j, const nlohmann::json &defaults, const std::string &where)
{
	if (!j.is_object())
		throw SpecError(fmt::format("{}: expected an object, got {}", where, type_of(j)));
	for (auto &[k, v] : j.items())
		if (!kExperimentKeys.count(k) && !kTopKeys.count(k))
			throw SpecError(fmt::format("{}.{}: unknown field (known: workload, sizes, modes, reps, warmup, params)", where, k));
	auto field = [&](const char *k) -> const nlohmann::json * {
		if (j.contains(k))
			return &j[k];
		if (defaults.is_object() && defaults.contains(k))
			return &defaults[k];
		return nullptr;
	};
	Experiment e;
	auto *w = field("workload");
	if (!w)
		throw SpecError(fmt::format("{}.workload: missing", where));
	if (!w->is_string())
		throw SpecError(fmt::format("{}.workload: expected a string, got {}", where, type_of(*w)));
	e.workload = w->get<std::string>();
	auto wl = make_workload(e.workload);
	if (!wl)
		throw SpecError(fmt::format("{}.workload: unknown workload \"{}\" (known: {})", where, e.workload,
					    fmt::join(workload_names(), ", ")));

	auto *sz = field("sizes");
	if (!sz)
		throw SpecError(fmt::format("{}.sizes: missing", where));
	if (sz->is_string())
		e.sizes = parse_size_list(sz->get<std::string>(), where + ".sizes");
	else if (sz->is_array()) {
		if (sz->empty())
			throw SpecError(fmt::format("{}.sizes: empty", where));
		for (size_t i = 0; i < sz->size(); ++i) {
			auto &v = (*sz)[i];
			std::string f = fmt::format("{}.sizes[{}]", where, i);
			if (v.is_number_unsigned() && v.get<uint64_t>() > 0)
				e.sizes.push_back(v.get<uint64_t>());
			else if (v.is_string()) {
				try {
					e.sizes.push_back(parse_size(v.get<std::string>()));
				} catch (const std::invalid_argument &ex) {
					throw SpecError(fmt::format("{}: {}", f, ex.what()));
				}
			} else
				throw SpecError(fmt::format("{}: expected a size like \"256M\" or a positive integer, got {}", f, v.dump()));
		}
	} else
		throw SpecError(fmt::format("{}.sizes: expected a list of sizes, got {}", where, type_of(*sz)));

	auto *m = field("modes");
	if (!m)
		e.modes = {Mode::Fork, Mode::Odf};
	else if (m->is_string())
		e.modes = parse_mode_list(m->get<std::string>(), where + ".modes");
	else if (m->is_array() && !m->empty()) {
		for (size_t i = 0; i < m->size(); ++i) {
			auto &v = (*m)[i];
			std::string f = fmt::format("{}.modes[{}]", where, i);
			if (!v.is_string())
				throw SpecError(fmt::format("{}: expected a string, got {}", f, type_of(v)));
			try {
				e.modes.push_back(parse_mode(v.get<std::string>()));
			} catch (const std::invalid_argument &ex) {
				throw SpecError(fmt::format("{}: {}", f, ex.what()));
			}
		}
	} else
		throw SpecError(fmt::format("{}.modes: expected a non-empty list of modes", where));

	if (auto *r = field("reps"))
		e.reps = get_count(*r, where + ".reps", 1, 1000000);
	if (auto *r = field("warmup"))
		e.warmup = get_count(*r, where + ".warmup", 0, 1000000);
	if (auto *p = field("params")) {
		if (!p->is_object())
			throw SpecError(fmt::format("{}.params: expected an object, got {}", where, type_of(*p)));
		e.params = *p;
	}
	try {
		wl->validate(Params{e.sizes.front(), e.params});
	} catch (const std::invalid_argument &ex) {
		throw SpecError(fmt::format("{}.{}", where, ex.what()));
	}
	return e;
}
}  // namespace

namespace {
// A comma list whose items `parse` turns into T, throwing std::invalid_argument.
template <class T, class F>
std::vector<T> parse_list(const std::string &csv, const std::string &field, F parse)
{
	std::vector<T> out;
	auto items = split_csv(csv);
	if (items.empty())
		throw SpecError(fmt::format("{}: empty", field));
	for (size_t i = 0; i < items.size(); ++i) {
		try {
			out.push_back(parse(items[i]));
		} catch (const std::invalid_argument &ex) {
			throw SpecError(fmt::format("{}[{}]: {}", field, i, ex.what()));
		}
	}
	return out;
}
}  // namespace

std::vector<uint64_t> parse_size_list(const std::string &csv, const std::string &field)
{
	return parse_list<uint64_t>(csv, field, [](const std::string &s) { return parse_size(s); });
}

std::vector<Mode> parse_mode_list(const std::string &csv, const std::string &field)
{
	return parse_list<Mode>(csv, field, parse_mode);
}

RunSpec parse_spec(const nlohmann::json &j)
{
	if (!j.is_object())
		throw SpecError(fmt::format("spec: expected an object, got {}", type_of(j)));
	RunSpec s;
	if (j.contains("name")) {
		if (!j["name"].is_string())
			throw SpecError("spec.name: expected a string");
		s.name = j["name"].get<std::string>();
	}
	if (j.contains("output")) {
		if (!j["output"].is_string() || j["output"].get<std::string>().empty())
			throw SpecError("spec.output: expected a non-empty path string");
		s.output = j["output"].get<std::string>();
	}
	if (j.contains("fit_to_memory")) {
		if (!j["fit_to_memory"].is_boolean())
			throw SpecError("spec.fit_to_memory: expected true or false");
		s.fit_to_memory = j["fit_to_memory"].get<bool>();
	}
	if (j.contains("experiments")) {
		auto &ex = j["experiments"];
		if (!ex.is_array() || ex.empty())
			throw SpecError("spec.experiments: expected a non-empty list");
		nlohmann::json defaults = j;
		defaults.erase("experiments");
		defaults.erase("fit_to_memory");
		for (auto &[k, v] : j.items())
			if (!kExperimentKeys.count(k) && !kTopKeys.count(k))
				throw SpecError(fmt::format("spec.{}: unknown field", k));
		for (size_t i = 0; i < ex.size(); ++i)
			s.experiments.push_back(parse_experiment(ex[i], defaults, fmt::format("spec.experiments[{}]", i)));
	} else {
		s.experiments.push_back(parse_experiment(j, nlohmann::json::object(), "spec"));
		if (!j.contains("name"))
			s.name = s.experiments[0].workload;
	}
	return s;
}

nlohmann::json read_json_file(const std::string &path, const std::string &what)
{
	std::ifstream in(path);
	if (!in)
		throw SpecError(fmt::format("{} {}: cannot open", what, path));
	try {
		return nlohmann::json::parse(in);
	} catch (const nlohmann::json::parse_error &e) {
		throw SpecError(fmt::format("{} {}: not valid JSON: {}", what, path, e.what()));
	}
}

RunSpec load_spec_file(const std::string &path)
{
	nlohmann::json j = read_json_file(path, "spec");
	try {
		return parse_spec(j);
	} catch (const SpecError &e) {
		throw SpecError(fmt::format("{}: {}", path, e.what()));
	}
}

nlohmann::json RunSpec::to_json() const
{
	nlohmann::json ex = nlohmann::json::array();
	for (const auto &e : experiments) {
		nlohmann::json modes = nlohmann::json::array(), sizes = nlohmann::json::array();
		for (auto m : e.modes)
			modes.push_back(mode_name(m));
		for (auto sz : e.sizes)
			sizes.push_back(sz);
		ex.push_back({{"workload", e.workload}, {"sizes", sizes}, {"modes", modes}, {"reps", e.reps},
			      {"warmup", e.warmup}, {"params", e.params}});
	}
	nlohmann::json j = {{"name", name}, {"experiments", ex}, {"fit_to_memory", fit_to_memory}};
	if (!capped.empty())
		j["capped"] = capped;
	if (output)
		j["output"] = *output;
	return j;
}

std::vector<Cell> expand_cells(const RunSpec &spec)
{
	std::vector<Cell> cells;
	size_t group = 0;  // one per (experiment, size)
	for (size_t e = 0; e < spec.experiments.size(); ++e)
		for (size_t s = 0; s < spec.experiments[e].sizes.size(); ++s, ++group)
			for (auto m : spec.experiments[e].modes)
				cells.push_back({cells.size(), e, s, spec.experiments[e].sizes[s], m, group});
	return cells;
}

Shard parse_shard(const std::string &s)
{
	Shard sh;
	size_t slash = s.find('/');
	try {
		size_t a = 0, b = 0;
		if (slash == std::string::npos)
			throw std::invalid_argument(s);
		sh.index = std::stoi(s.substr(0, slash), &a);
		sh.count = std::stoi(s.substr(slash + 1), &b);
		if (a != slash || b != s.size() - slash - 1)
			throw std::invalid_argument(s);
	} catch (const std::exception &) {
		throw SpecError(fmt::format("--shard: \"{}\" is not I/N (for example 2/8)", s));
	}
	if (sh.count < 1 || sh.index < 1 || sh.index > sh.count)
		throw SpecError(fmt::format("--shard: {}/{} needs 1 <= I <= N", sh.index, sh.count));
	return sh;
}

std::vector<size_t> parse_cell_list(const std::string &s, size_t total)
{
	std::vector<size_t> out;
	std::stringstream in(s);
	std::string item;
	auto num = [&](const std::string &t) {
		size_t used = 0;
		unsigned long v = 0;
		try {
			v = std::stoul(t, &used);
		} catch (const std::exception &) {
			used = 0;
		}
		if (t.empty() || used != t.size() || t[0] == '-' || t[0] == '+')
			throw SpecError(fmt::format("--cells: \"{}\" is not a cell index", t));
		if (v >= total)
			throw SpecError(fmt::format("--cells: {} is beyond the spec's {} cells (0-{})", v, total, total ? total - 1 : 0));
		return static_cast<size_t>(v);
	};
	while (std::getline(in, item, ',')) {
		size_t dash = item.find('-', 1);
		if (dash == std::string::npos)
			out.push_back(num(item));
		else {
			size_t a = num(item.substr(0, dash)), b = num(item.substr(dash + 1));
			if (b < a)
				throw SpecError(fmt::format("--cells: range {} runs backwards", item));
			for (size_t i = a; i <= b; ++i)
				out.push_back(i);
		}
	}
	if (out.empty())
		throw SpecError("--cells: no cell given");
	std::sort(out.begin(), out.end());
	out.erase(std::unique(out.begin(), out.end()), out.end());
	return out;
}

std::vector<Cell> select_cells(const std::vector<Cell> &all, const std::optional<Shard> &shard,
			       const std::optional<std::vector<size_t>> &only)
{
	std::vector<Cell> out;
	for (const auto &c : all) {
		if (shard && c.group % static_cast<size_t>(shard->count) != static_cast<size_t>(shard->index - 1))
			continue;
		if (only && !std::binary_search(only->begin(), only->end(), c.index))
			continue;
		out.push_back(c);
	}
	return out;
}

}  // namespace odfb
