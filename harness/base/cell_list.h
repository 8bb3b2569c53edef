// Cell lists as the command line writes them ("3,5,9-12"): what `--cells`
// takes, what a resumed boot of `odfbench vm` passes on.  A leaf.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace odfb {

// "3,5,9-12" from sorted indices: the inverse of parse_cell_list (run/spec.h).
std::string format_cell_list(const std::vector<size_t> &indices);

}  // namespace odfb
