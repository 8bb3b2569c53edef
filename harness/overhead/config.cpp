#include "overhead/overhead.h"

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/sizes.h"
#include "run/spec.h"

namespace odfb {

OverheadOptions load_overhead_config(const std::string &path)
{
	nlohmann::json j = read_json_file(path, "overhead config");
	OverheadOptions o;
	auto fail = [&](const std::string &m) { return SpecError(fmt::format("overhead config {}: {}", path, m)); };
	if (!j.is_object() || j.value("kind", "") != "overhead")
		throw fail(R"(not an overhead config (needs "kind": "overhead"))");
	auto integer = [&](const char *k, int &dst) {
		if (!j.contains(k))
			return;
		if (!j[k].is_number_integer())
			throw fail(fmt::format("{} must be an integer", k));
		dst = j[k].get<int>();
	};
	auto size = [&](const nlohmann::json &v, const std::string &k) {
		if (!v.is_string())
			throw fail(fmt::format("{} must be a size string such as \"256M\"", k));
		try {
			return parse_size(v.get<std::string>());
		} catch (const std::exception &e) {
			throw fail(fmt::format("{}: {}", k, e.what()));
		}
	};
	for (const auto &[k, v] : j.items()) {
		if (k == "kind" || k == "comment")
			continue;
		if (k == "sizes") {
			if (!v.is_array() || v.empty())
				throw fail("sizes must be a non-empty array");
			o.sizes.clear();
			for (const auto &e : v)
				o.sizes.push_back(size(e, "sizes"));
		} else if (k == "fault_region") {
			o.fault_bytes = size(v, k);
		} else if (k == "prefault") {
			o.prefault_bytes = size(v, k);
		} else if (k != "reps" && k != "fault_reps" && k != "syscalls") {
			throw fail(fmt::format("unknown key \"{}\"", k));
		}
	}
	integer("reps", o.reps);
	integer("fault_reps", o.fault_reps);
	integer("syscalls", o.syscalls);
	try {
		validate(o);
	} catch (const SpecError &e) {
		throw fail(e.what());
	}
	return o;
}

void validate(const OverheadOptions &o)
{
	if (o.reps < 3 || o.reps > 100000)
		throw SpecError(fmt::format("reps: {} is out of range [3, 100000]", o.reps));
	if (o.fault_reps < 3 || o.fault_reps > 100000)
		throw SpecError(fmt::format("fault_reps: {} is out of range [3, 100000]", o.fault_reps));
	if (o.syscalls < 1000 || o.syscalls > 100'000'000)
		throw SpecError(fmt::format("syscalls: {} is out of range [1000, 100000000]", o.syscalls));
	if (o.fault_bytes < (1ull << 20))
		throw SpecError(fmt::format("fault_region: {} is under 1M", format_size(o.fault_bytes)));
	if (o.prefault_bytes < (1ull << 20))
		throw SpecError(fmt::format("prefault: {} is under 1M", format_size(o.prefault_bytes)));
}

}  // namespace odfb
