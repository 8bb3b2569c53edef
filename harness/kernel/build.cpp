#include "kernel/build.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/supervise.h"
#include "base/sysinfo.h"
#include "base/version.h"
#include "kernel/steps.h"

namespace fs = std::filesystem;

namespace odfb {

CachedKernel build_kernel(const KernelVariant &v, const KernelBuildOptions &o)
{
	std::string dir = kernel_recipe_dir();
	std::string script = dir + "/build.sh";
	std::string hash = recipe_hash(v);
	std::string cache = odfbench_cache_dir();
	fs::create_directories(cache + "/kernels");
	std::string src = o.src.empty() ? v.git : o.src;
	if (!o.src.empty() && v.from_debian())
		throw std::invalid_argument(fmt::format("{} is unpacked from Debian's package {}: --src does not apply", v.name, v.debian_package));
	if (!o.src.empty() && !fs::exists(o.src) && o.src.find("://") == std::string::npos)
		throw std::invalid_argument(fmt::format("--src {}: no such directory (give a clone, a bare mirror or a git URL)", o.src));

	std::map<std::string, std::string> env = {{"ODFK_SRC", src}, {"ODFK_REF", v.ref}, {"ODFK_COMMIT", v.commit}};
	std::string scratch = fmt::format("{}/kernels/.building-{}-{}", cache, v.name, getpid());
	fs::create_directories(scratch);
	struct Cleanup {
		std::string p;
		~Cleanup() { std::error_code ec; fs::remove_all(p, ec); }
	} cleanup{scratch};
	std::string log = scratch + "/build.log";
	auto fail = [&](const std::string &what) -> std::runtime_error {
		fmt::print(stderr, "{}--- last lines of the build log ({}):\n{}", o.progress && isatty(2) ? "\r\033[K" : "", log, tail_of(log, 25));
		std::string kept = fmt::format("{}/kernels/failed-{}.log", cache, v.name);
		std::error_code ec;
		fs::copy_file(log, kept, fs::copy_options::overwrite_existing, ec);
		return std::runtime_error(fmt::format("kernel build {}: {} (whole log: {})", v.name, what, kept));
	};
	auto stage = [&](const std::string &name, std::map<std::string, std::string> extra = {}, const std::function<void()> &tick = {}) {
		auto e = env;
		for (auto &[k, val] : extra)
			e[k] = val;
		std::ofstream(log, std::ios::app) << fmt::format("=== {} {}\n", utc_timestamp(), name);
		int st = run_logged({script, name}, e, log, tick);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			throw fail(fmt::format("stage {} {}", name, wait_status_text(st)));
	};

	// Which commit (or package version) this build is of.
	std::string commit;
	if (v.from_debian()) {
		// The version is known once unpacked; an entry of today's recipe is a hit.
		bool stale = true;
		if (auto k = find_cached(v.name, &stale); k && !stale) {
			fmt::print(stderr, "kernel: {} is cached: {}\n", v.name, k->dir);
			return *k;
		}
	} else {
		std::string out = scratch + "/commit";
		int st = run_logged({"sh", "-c", "\"$0\" resolve > \"$1\"", script, out}, env, log);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			throw fail(fmt::format("cannot resolve {} at {} (no network? give a clone or mirror with --src)", v.commit.empty() ? v.ref : v.commit, src));
		commit = trim(slurp(out));
		std::string entry = cache + "/kernels/" + cache_entry_name(v.name, commit, hash);
		if (fs::exists(entry + "/provenance.json") && fs::exists(entry + "/bzImage")) {
			fmt::print(stderr, "kernel: {} is cached: {}\n", v.name, entry);
			return {entry, nlohmann::json::parse(slurp(entry + "/provenance.json"))};
		}
	}

	bool tty = o.progress && isatty(2);
	uint64_t t0 = now_ns();
	std::string stage_name;
	size_t expected = 0, log_mark = 0;
	auto show = [&](const std::string &extra) {
		std::string line = fmt::format("kernel {}: {} {} {}", v.name, stage_name, extra, clock_text((now_ns() - t0) / 1e9));
		if (tty)
			fmt::print(stderr, "\r\033[K{}", line);
	};
	auto begin = [&](const std::string &s) {
		stage_name = s;
		if (tty)
			show("");
		else
			fmt::print(stderr, "kernel {}: {} ({} elapsed)\n", v.name, s, clock_text((now_ns() - t0) / 1e9));
	};
	std::string out = scratch + "/out";
	fs::create_directories(out);
	nlohmann::json prov = {{"variant", v.name},
			       {"description", v.description},
			       {"recipe_sha256", hash},
			       {"odf_variant", v.odf_variant},
			       {"odfbench", tool_version()}};
	std::string tree;
	if (v.from_debian()) {
		begin("download and unpack");
		stage("debian", {{"ODFK_OUT", out}, {"ODFK_PACKAGE", v.debian_package}, {"ODFK_SUITE", v.debian_suite}});
		std::string ver = trim(slurp(out + "/version"));
		commit = ver.substr(ver.find(' ') + 1);
		prov["debian_package"] = ver.substr(0, ver.find(' '));
		prov["debian_version"] = commit;
		prov["debian_suite"] = v.debian_suite;
		fs::rename(out + "/config", out + "/.config");
	} else {
		if (v.minutes_on_2_cores)
			fmt::print(stderr, "kernel {}: building {} of {}; about {} minutes on 2 cores (the tree is kept, so a rebuild is quick)\n",
				   v.name, commit.substr(0, 12), src, v.minutes_on_2_cores);
		auto pkgs = kBuildPackages;
		pkgs.insert(pkgs.end(), v.packages.begin(), v.packages.end());
		ensure_packages(pkgs);
		tree = fmt::format("{}/kernel-trees/{}-{}", cache, v.name, commit.substr(0, 12));
		env["ODFK_COMMIT"] = commit;
		env["ODFK_TREE"] = tree;
		env["ODFK_CC"] = v.cc;
		env["ODFK_HOSTCFLAGS"] = v.hostcflags;
		env["ODFK_BASE"] = v.base;
		env["ODFK_JOBS"] = std::to_string(o.jobs > 0 ? o.jobs : std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
		std::string frags;
		std::vector<std::string> frag_texts;
		for (const auto &f : v.fragments) {
			frags += (frags.empty() ? "" : " ") + dir + "/config/" + f;
			frag_texts.push_back(slurp(dir + "/config/" + f));
		}
		env["ODFK_FRAGMENTS"] = frags;
		begin("source");
		stage("source");
		std::vector<std::string> missing;
		if (fs::exists(tree + "/.odfbench-missing")) {
			std::istringstream in(slurp(tree + "/.odfbench-missing"));
			for (std::string l; std::getline(in, l);)
				if (!l.empty())
					missing.push_back(l);
		}
		begin("configure");
		stage("config");
		auto unmet = kconfig_unmet(frag_texts, slurp(tree + "/.config"));
		if (!unmet.empty()) {
			std::string list;
			for (const auto &m : unmet)
				list += fmt::format(" {}={} (got {})", m.option, m.wanted, m.got);
			throw fail(fmt::format("the configuration dropped what the fragments ask for:{}", list));
		}
		// The last build's count of objects, for a percentage.
		for (auto &k : cached_kernels())
			if (k.variant() == v.name && k.provenance.contains("build_steps")) {
				expected = k.provenance["build_steps"];
				break;
			}
		begin("compile");
		log_mark = fs::file_size(log);
		size_t steps = 0;
		uint64_t last = 0;
		stage("compile", {}, [&] {
			if (!tty || now_ns() - last < 1'000'000'000ull)
				return;
			last = now_ns();
			steps += count_build_steps(log, log_mark);
			show(expected ? fmt::format("{:3.0f}% ({} objects)", std::min(99.0, 100.0 * steps / expected), steps)
				      : fmt::format("{} objects", steps));
		});
		steps += count_build_steps(log, log_mark);
		if (!missing.empty()) {
			prov["missing_from_source"] = missing;
			fmt::print(stderr, "{}kernel {}: {} files were missing from {}; this configuration did not need them\n",
				   tty ? "\r\033[K" : "", v.name, missing.size(), src);
		}
		fs::copy_file(tree + "/arch/x86/boot/bzImage", out + "/bzImage");
		fs::copy_file(tree + "/.config", out + "/.config");
		if (fs::exists(tree + "/.config.shipped"))
			fs::copy_file(tree + "/.config.shipped", out + "/config.shipped");
		if (v.btf == "pahole") {
			begin("BTF by pahole");
			stage("btf", {{"ODFK_OUT", out}});
			prov["btf"] = "vmlinux.btf (pahole --btf_encode_detached from vmlinux)";
		} else
			prov["btf"] = "in-kernel (CONFIG_DEBUG_INFO_BTF)";
		prov["git"] = src;
		prov["ref"] = v.ref;
		prov["commit"] = commit;
		prov["compiler"] = compiler_version(v.cc);
		if (!v.hostcflags.empty())
			prov["hostcflags"] = v.hostcflags;
		prov["build_steps"] = std::max(steps, expected);  // an incremental build compiles few: keep the whole count for the next percentage
		prov["tree"] = tree;
	}
	if (tty)
		fmt::print(stderr, "\r\033[K");
	prov["config_sha256"] = sha256_of_file(out + "/.config");
	prov["built"] = utc_timestamp();
	prov["build_seconds"] = static_cast<int>((now_ns() - t0) / 1e9);
	fs::copy_file(log, out + "/build.log");
	std::ofstream(out + "/provenance.json") << prov.dump(2) << "\n";
	std::string entry = cache + "/kernels/" + cache_entry_name(v.name, commit, hash);
	std::error_code ec;
	fs::remove_all(entry, ec);  // an entry without provenance: an interrupted install
	fs::rename(out, entry);     // atomic: an entry is whole or absent
	fmt::print(stderr, "kernel {}: built in {}: {}\n", v.name, clock_text(prov["build_seconds"].get<int>()), entry + "/bzImage");
	return {entry, prov};
}

}  // namespace odfb
