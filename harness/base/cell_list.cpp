#include "base/cell_list.h"

#include <fmt/format.h>

namespace odfb {

std::string format_cell_list(const std::vector<size_t> &indices)
{
	std::string out;
	for (size_t i = 0; i < indices.size();) {
		size_t j = i;
		while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1)
			++j;
		out += (out.empty() ? "" : ",") + (j == i ? std::to_string(indices[i]) : fmt::format("{}-{}", indices[i], indices[j]));
		i = j + 1;
	}
	return out;
}

}  // namespace odfb
