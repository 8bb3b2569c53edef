#include "run/mode.h"

#include <stdexcept>

#include <fmt/format.h>

namespace odfb {

namespace {
struct ModeName {
	Mode mode;
	const char *name;
	unsigned folio_kb;
};
constexpr ModeName kModes[] = {
	{Mode::Fork, "fork", 0},           {Mode::Odf, "odf", 0},
	{Mode::OdfProcfs, "odf-procfs", 0}, {Mode::Thp, "thp", 2048},
	{Mode::Mthp16K, "mthp-16K", 16},   {Mode::Mthp32K, "mthp-32K", 32},
	{Mode::Mthp64K, "mthp-64K", 64},   {Mode::Mthp128K, "mthp-128K", 128},
	{Mode::Mthp256K, "mthp-256K", 256}, {Mode::Mthp512K, "mthp-512K", 512},
	{Mode::Mthp1M, "mthp-1M", 1024},    {Mode::UffdWp, "uffd-wp", 0},
	{Mode::Vfork, "vfork", 0},          {Mode::PosixSpawn, "posix-spawn", 0},
};
}  // namespace

const char *mode_name(Mode m)
{
	for (const auto &e : kModes)
		if (e.mode == m)
			return e.name;
	return "fork";
}

Mode parse_mode(const std::string &s)
{
	std::string known;
	for (const auto &e : kModes) {
		if (s == e.name)
			return e.mode;
		known += (known.empty() ? "" : ", ") + std::string(e.name);
	}
	throw std::invalid_argument(fmt::format("unknown mode \"{}\" (expected one of {})", s, known));
}

std::vector<Mode> all_modes()
{
	std::vector<Mode> v;
	for (const auto &e : kModes)
		v.push_back(e.mode);
	return v;
}

bool is_odf_mode(Mode m) { return m == Mode::Odf || m == Mode::OdfProcfs; }

unsigned mode_folio_kb(Mode m)
{
	for (const auto &e : kModes)
		if (e.mode == m)
			return e.folio_kb;
	return 0;
}

}  // namespace odfb
