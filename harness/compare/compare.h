// `odfbench compare`: fork against ODF inside each results file, and the same
// cells across files (kernels), like mmtests' compare-kernels.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

// Shard files of one evaluation (run --shard I/N: same spec, kernel and ODF
// variant) become one document, results in cell order and run.shards listing
// them (run.shards_missing when fewer than N were given); other files pass
// through.  Returns (label path, document) pairs.
std::vector<std::pair<std::string, nlohmann::json>> merge_shards(const std::vector<std::string> &paths,
								 const std::vector<nlohmann::json> &docs);
// A JSON file; std::invalid_argument "<path>: cannot open" / "not valid JSON (...)".
nlohmann::json parse_json_file(const std::string &path);
// Throws std::invalid_argument naming the file if it is not a results file.
nlohmann::json load_results(const std::string &path);
// {"runs": [{"path", "label", "status", "environment", "environment_differs"
// (runs after the first: against run 0)}], "within": [...], "across": [...]};
// a row's "speedup" is to_json(Speedup) (stats.h).  An across row whose runs
// differ in environment carries "environment_differs" and is never significant.
nlohmann::json compare_runs(const std::vector<std::string> &paths, const std::vector<nlohmann::json> &docs);
std::string compare_markdown(const nlohmann::json &comparison);
std::string compare_text(const nlohmann::json &comparison);

// Where a results document ran: {"accelerator": "host" (no VM: run.environment.vm
// absent or null) | "kvm" | "tcg" | "?", "cpu_model", "cpus_online",
// "mem_total_bytes" (run.host, as the measured kernel saw them), "machine_cpu_model"
// (the physical machine: the VM's host when in a guest)}; null when unknown.
nlohmann::json run_environment(const nlohmann::json &doc);
// What differs between two run_environment()s, one line each ("accelerator:
// QEMU tcg vs host (no VM)"); memory counts only beyond kMemoryTolerance.
std::vector<std::string> environment_differences(const nlohmann::json &base, const nlohmann::json &other);
inline constexpr double kMemoryTolerance = 0.10;  // MemTotal moves by MBs between kernels

}  // namespace odfb
