#include "workload.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace odfb {

const char *mode_name(Mode m)
{
	switch (m) {
	case Mode::Odf: return "odf";
	case Mode::OdfProcfs: return "odf-procfs";
	default: return "fork";
	}
}

Mode parse_mode(const std::string &s)
{
	if (s == "fork")
		return Mode::Fork;
	if (s == "odf")
		return Mode::Odf;
	if (s == "odf-procfs")
		return Mode::OdfProcfs;
	throw std::invalid_argument(fmt::format("unknown mode \"{}\" (expected fork, odf or odf-procfs)", s));
}

namespace {
std::vector<WorkloadFactory> &registry()
{
	static std::vector<WorkloadFactory> r;
	return r;
}
}  // namespace

bool register_workload(WorkloadFactory f)
{
	registry().push_back(std::move(f));
	return true;
}

std::unique_ptr<Workload> make_workload(const std::string &name)
{
	for (auto &f : registry()) {
		auto w = f();
		if (w->name() == name)
			return w;
	}
	return nullptr;
}

std::vector<std::string> workload_names()
{
	std::vector<std::string> names;
	for (auto &f : registry())
		names.push_back(f()->name());
	std::sort(names.begin(), names.end());
	return names;
}

}  // namespace odfb
