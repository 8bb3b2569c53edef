#include "mode.h"

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

}  // namespace odfb
