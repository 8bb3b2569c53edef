// How a cell gets its child: classic fork, or ODF switched on in-process or
// through /proc/<pid>/use_odf (docs/odf-kernels.md).
#pragma once
#include <string>

namespace odfb {

enum class Mode { Fork, Odf, OdfProcfs };
const char *mode_name(Mode m);
Mode parse_mode(const std::string &s);  // throws std::invalid_argument

}  // namespace odfb
