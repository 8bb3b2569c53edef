// odfbench compare: fork vs ODF within results files, and across them.
#include <iostream>
#include <memory>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "compare/compare.h"
#include "record/results_file.h"

namespace odfb::cli {
namespace {

struct CompareArgs {
	std::vector<std::string> files;
	std::string markdown;
	bool json = false;
};

int compare(const CompareArgs &a)
{
	std::vector<nlohmann::json> docs;
	try {
		for (const auto &f : a.files)
			docs.push_back(load_results(f));
	} catch (const std::invalid_argument &e) {
		die(e.what());
	}
	std::unique_ptr<ResultsFile> md;
	try {
		md = std::make_unique<ResultsFile>(a.markdown.empty() ? ResultsFile::default_path("results", "compare", ".md")
								       : a.markdown);
	} catch (const std::exception &e) {
		die(e.what());
	}
	std::vector<std::string> paths;
	std::vector<nlohmann::json> merged;
	for (auto &[p, d] : merge_shards(a.files, docs)) {
		if (d["run"].contains("shards_missing"))
			fmt::print(stderr, "compare: {}: {}\n", p, d["run"]["shards_missing"].get<std::string>());
		paths.push_back(p);
		merged.push_back(std::move(d));
	}
	auto c = compare_runs(paths, merged);
	md->write_text(compare_markdown(c));
	if (a.json)
		std::cout << c.dump(2) << "\n";
	else
		std::cout << compare_text(c);
	std::cout.flush();  // the table before the stderr line naming the file
	fmt::print(stderr, "compare: {}\n", md->path());
	return 0;
}

}  // namespace

void add_compare_command(CLI::App &app, int &exit_code)
{
	auto a = std::make_shared<CompareArgs>();
	auto *sub = app.add_subcommand("compare", "Fork vs ODF per workload and size, and across results files (kernels)");
	sub->add_option("results", a->files, "Results files; the first is the baseline for the across-runs table")->required();
	sub->add_option("--markdown", a->markdown, "Markdown file to write (must not exist); default results/compare-<time>.md");
	sub->add_flag("--json", a->json, "JSON on stdout instead of the table");
	sub->callback([a, &exit_code] { exit_code = compare(*a); });
}

}  // namespace odfb::cli
