// odfbench kernel: build, list and locate the kernels `odfbench vm` boots.
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "kernel/build.h"
#include "base/supervise.h"

namespace odfb::cli {

namespace {

KernelVariant variant_or_die(const std::string &name)
{
	std::map<std::string, KernelVariant> vs;
	try {
		vs = load_variants();
	} catch (const std::exception &e) {
		die(e.what());
	}
	auto it = vs.find(name);
	if (it == vs.end()) {
		std::string names;
		for (auto &[n, _] : vs)
			names += (names.empty() ? "" : ", ") + n;
		die(fmt::format("kernel: unknown variant \"{}\" (one of: {})", name, names));
	}
	return it->second;
}

int list(bool json)
{
	auto ks = cached_kernels();
	std::map<std::string, KernelVariant> vs;
	try {
		vs = load_variants();
	} catch (const std::exception &) {
	}
	if (json) {
		nlohmann::json out = nlohmann::json::array();
		for (auto &k : ks) {
			auto j = k.provenance;
			j["dir"] = k.dir;
			j["image"] = k.image();
			if (!k.btf().empty())
				j["btf_file"] = k.btf();
			out.push_back(j);
		}
		fmt::print("{}\n", out.dump(2));
		return 0;
	}
	if (ks.empty())
		fmt::print("no kernels cached in {}/kernels\n", odfbench_cache_dir());
	for (auto &k : ks) {
		std::string variant = k.variant();
		std::string current;
		if (auto it = vs.find(variant); it != vs.end())
			current = k.provenance.value("recipe_sha256", "") == recipe_hash(it->second) ? "" : "  (older recipe)";
		std::string what = k.provenance.contains("commit") ? "commit " + k.provenance["commit"].get<std::string>().substr(0, 12)
								   : "package " + k.provenance.value("debian_version", "?");
		fmt::print("{:<16} {:<22} config {}  built {}{}\n  {}\n", variant, what, k.provenance.value("config_sha256", "?").substr(0, 12),
			   k.provenance.value("built", "?"), current, k.image());
	}
	fmt::print("variants:");
	for (auto &[n, _] : vs)
		fmt::print(" {}", n);
	fmt::print("\n");
	return 0;
}

}  // namespace

void add_kernel_command(CLI::App &app, int &exit_code)
{
	struct Args {
		std::string variant, src;
		int jobs = 0;
		bool json = false, no_progress = false;
	};
	auto a = std::make_shared<Args>();
	auto *sub = app.add_subcommand("kernel", "Build, list and locate the kernels odfbench vm boots (kernels/variants.json)");
	sub->require_subcommand(1);
	auto *build = sub->add_subcommand("build", "Build a variant (or unpack a Debian one) into the cache; a cached one returns at once");
	build->add_option("variant", a->variant, "patchset-6.0.6, vanilla-6.0.6, paper-5.6.19, debian-6.12, debian-6.1")->required();
	build->add_option("--src", a->src, "A git URL, a clone or a bare mirror instead of the variant's public URL");
	build->add_option("-j,--jobs", a->jobs, "Parallel compile jobs (default: all CPUs)");
	build->add_flag("--no-progress", a->no_progress, "No progress line");
	build->callback([a, &exit_code] {
		KernelVariant v = variant_or_die(a->variant);
		if (a->jobs < 0)
			die(fmt::format("--jobs: {} is out of range", a->jobs));
		install_signal_handlers();
		try {
			auto k = build_kernel(v, {a->src, a->jobs, !a->no_progress});
			fmt::print("{}\n", k.image());
			exit_code = 0;
		} catch (const std::invalid_argument &e) {
			die(e.what());
		} catch (const std::exception &e) {
			die(e.what(), 1);
		}
	});
	auto *ls = sub->add_subcommand("list", "The cached kernels and their provenance");
	ls->add_flag("--json", a->json, "JSON");
	ls->callback([a, &exit_code] { exit_code = list(a->json); });
	auto *path = sub->add_subcommand("path", "Print a cached variant's image path (exit 1 if not built)");
	path->add_option("variant", a->variant, "Variant name")->required();
	path->callback([a, &exit_code] {
		variant_or_die(a->variant);
		auto k = find_cached(a->variant);
		if (!k) {
			fmt::print(stderr, "odfbench: {} is not built (odfbench kernel build {})\n", a->variant, a->variant);
			exit_code = 1;
			return;
		}
		fmt::print("{}\n", k->image());
	});
}

}  // namespace odfb::cli
