// `odfbench compare`: fork against ODF inside each results file, and the same
// cells across files (kernels), like mmtests' compare-kernels.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

// Throws std::invalid_argument naming the file if it is not a results file.
nlohmann::json load_results(const std::string &path);
nlohmann::json compare_runs(const std::vector<std::string> &paths, const std::vector<nlohmann::json> &docs);
std::string compare_markdown(const nlohmann::json &comparison);
std::string compare_text(const nlohmann::json &comparison);

}  // namespace odfb
