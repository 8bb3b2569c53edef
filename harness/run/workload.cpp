#include "run/workload.h"

#include <map>
#include <stdexcept>

#include <fmt/format.h>

namespace odfb {

namespace {
std::map<std::string, WorkloadFactory> &registry()
{
	static std::map<std::string, WorkloadFactory> r;  // built on first use: no initialization-order trap
	return r;
}
}  // namespace

bool register_workload(const char *name, WorkloadFactory f)
{
	if (!registry().emplace(name, std::move(f)).second)
		throw std::logic_error(fmt::format("workload \"{}\" registered twice", name));
	return true;
}

std::unique_ptr<Workload> make_workload(const std::string &name)
{
	auto it = registry().find(name);
	if (it == registry().end())
		return nullptr;
	auto w = it->second();
	w->name_ = name;
	return w;
}

std::string Workload::not_applicable(Mode m) const
{
	if (m == Mode::Fork || is_odf_mode(m))
		return "";
	return fmt::format("{} has no {} variant: it runs fork, odf and odf-procfs only", name_, mode_name(m));
}

std::vector<std::string> workload_names()
{
	std::vector<std::string> names;
	for (auto &[name, f] : registry())
		names.push_back(name);
	return names;
}

}  // namespace odfb
