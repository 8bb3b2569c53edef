#include "spec.h"


#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "sizes.h"
#include "workload.h"

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

}  // namespace odfb
