#include "base/version.h"
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

namespace fs = std::filesystem;

namespace odfb {

namespace {

std::string slurp(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error(fmt::format("{}: {}", path, strerror(errno)));
	std::ostringstream s;
	s << in.rdbuf();
	return s.str();
}

std::string trim(std::string s)
{
	while (!s.empty() && isspace(static_cast<unsigned char>(s.back())))
		s.pop_back();
	return s;
}

// Runs argv with extra environment, stdout+stderr appended to log.  While
// it runs, tick() is called about twice a second.  Returns the wait status.
int run_logged(const std::vector<std::string> &argv, const std::map<std::string, std::string> &env, const std::string &log,
	       const std::function<void()> &tick = {})
{
	SupervisedGroup g([&](int out_fd) {
		fcntl(out_fd, F_SETFD, 0);  // held across exec by every process of the stage: closed when all are done
		int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		for (auto &[k, v] : env)
			setenv(k.c_str(), v.c_str(), 1);
		std::vector<char *> a;
		for (auto &s : argv)
			a.push_back(const_cast<char *>(s.c_str()));
		a.push_back(nullptr);
		execvp(a[0], a.data());
		_exit(127);
	});
	for (;;) {
		if (interrupted()) {
			g.stop(2000, 10000);
			throw std::runtime_error("interrupted; the build tree is kept, and the next build continues from it");
		}
		std::string ignored;
		if (g.poll_output(ignored, 500) == SupervisedGroup::Output::Closed) {
			g.wait(600000);
			return g.status();
		}
		if (tick)
			tick();
	}
}

std::string tail_of(const std::string &log, size_t lines)
{
	std::string text;
	try {
		text = slurp(log);
	} catch (const std::exception &) {
		return "";
	}
	size_t pos = text.size();
	for (size_t n = 0; n <= lines && pos > 0;)
		if (text[--pos] == '\n')
			++n;
	return text.substr(pos ? pos + 1 : 0);
}

std::string sha256_of_file(const std::string &path)
{
	std::string out = path + ".sha256";
	int st = run_logged({"sh", "-c", "sha256sum < \"$0\" > \"$1\"", path, out}, {}, "/dev/null");
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		throw std::runtime_error("sha256sum failed");
	std::string h = slurp(out);
	fs::remove(out);
	return h.substr(0, 64);
}

// Lines make prints per object built, from byte `from` of the log on; `from`
// moves past what was read, so a long build is not reread every second.
size_t count_build_steps(const std::string &log, size_t &from)
{
	std::ifstream in(log);
	in.seekg(static_cast<std::streamoff>(from));
	size_t n = 0;
	std::string line;
	std::streamoff done = static_cast<std::streamoff>(from);
	while (std::getline(in, line)) {
		if (in.eof())
			break;  // a line still being written: counted next time
		done = in.tellg();
		n += line.rfind("  CC ", 0) == 0 || line.rfind("  AS ", 0) == 0 || line.rfind("  LD ", 0) == 0 ||
		     line.rfind("  AR ", 0) == 0 || line.rfind("  HOSTCC ", 0) == 0;
	}
	from = static_cast<size_t>(done);
	return n;
}

std::string clock_text(double s)
{
	int m = static_cast<int>(s) / 60;
	return fmt::format("{}m{:02d}s", m, static_cast<int>(s) % 60);
}

std::string compiler_version(const std::string &cc)
{
	std::string out = fs::temp_directory_path() / fmt::format("odfbench-cc-{}", getpid());
	run_logged({"sh", "-c", "\"$0\" --version | head -1 > \"$1\"", cc.empty() ? "gcc" : cc, out}, {}, "/dev/null");
	std::string v;
	try {
		v = trim(slurp(out));
	} catch (const std::exception &) {
	}
	fs::remove(out);
	return v;
}

// Missing build packages are installed only when a build is asked for, the
// way `make deps` does it.
void ensure_packages(const std::vector<std::string> &pkgs)
{
	std::vector<std::string> missing;
	for (const auto &p : pkgs) {
		std::string cmd = fmt::format("dpkg-query -W -f='${{Status}}' {} 2>/dev/null | grep -q 'install ok installed'", p);
		if (std::system(cmd.c_str()) != 0)
			missing.push_back(p);
	}
	if (missing.empty())
		return;
	std::string list;
	for (const auto &p : missing)
		list += " " + p;
	if (geteuid() != 0)
		throw std::runtime_error(fmt::format("the kernel build needs these Debian packages; install them as root:{}", list));
	fmt::print(stderr, "kernel: installing{}\n", list);
	std::string cmd = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends" + list +
			  " >&2";
	if (std::system(cmd.c_str()) != 0)
		throw std::runtime_error(fmt::format("apt-get install{} failed", list));
}

const std::vector<std::string> kBuildPackages = {"git", "make", "gcc", "flex", "bison", "bc", "libssl-dev", "libelf-dev",
						 "dwarves", "cpio", "kmod", "python3"};

}  // namespace

std::string odfbench_cache_dir()
{
	if (const char *c = getenv("ODFBENCH_CACHE"); c && *c)
		return c;
	if (const char *x = getenv("XDG_CACHE_HOME"); x && *x)
		return std::string(x) + "/odfbench";
	const char *home = getenv("HOME");
	return std::string(home && *home ? home : "/root") + "/.cache/odfbench";
}

std::string kernel_recipe_dir()
{
	if (const char *d = getenv("ODFBENCH_KERNELS_DIR"); d && *d)
		return d;
	return std::string(ODFBENCH_SOURCE_DIR) + "/kernels";
}

std::map<std::string, KernelVariant> load_variants()
{
	std::string path = kernel_recipe_dir() + "/variants.json";
	nlohmann::json j;
	try {
		j = nlohmann::json::parse(slurp(path));
	} catch (const std::exception &e) {
		throw std::invalid_argument(fmt::format("{}: {}", path, e.what()));
	}
	return parse_variants(j);
}

std::string recipe_hash(const KernelVariant &v)
{
	std::string dir = kernel_recipe_dir();
	std::vector<std::pair<std::string, std::string>> frags;
	for (const auto &f : v.fragments)
		frags.emplace_back(f, slurp(dir + "/config/" + f));
	std::string text = recipe_text(v, frags, slurp(dir + "/build.sh"));
	std::string tmp = fs::temp_directory_path() / fmt::format("odfbench-recipe-{}", getpid());
	std::ofstream(tmp) << text;
	std::string h = sha256_of_file(tmp);
	fs::remove(tmp);
	return h;
}

std::string CachedKernel::btf() const
{
	return fs::exists(dir + "/vmlinux.btf") ? dir + "/vmlinux.btf" : "";
}

std::vector<CachedKernel> cached_kernels()
{
	std::vector<CachedKernel> out;
	std::error_code ec;
	for (const auto &e : fs::directory_iterator(odfbench_cache_dir() + "/kernels", ec)) {
		std::string prov = e.path() / "provenance.json";
		if (!fs::exists(prov) || !fs::exists(e.path() / "bzImage"))
			continue;  // a build in progress or one that failed
		try {
			out.push_back({e.path().string(), nlohmann::json::parse(slurp(prov))});
		} catch (const std::exception &) {
		}
	}
	std::sort(out.begin(), out.end(), [](const auto &a, const auto &b) {
		return a.provenance.value("built", "") > b.provenance.value("built", "");
	});
	return out;
}

std::optional<CachedKernel> find_cached(const std::string &variant, bool *stale)
{
	std::string want;
	try {
		auto vs = load_variants();
		if (auto it = vs.find(variant); it != vs.end())
			want = recipe_hash(it->second);
	} catch (const std::exception &) {
	}
	std::optional<CachedKernel> any;
	for (auto &k : cached_kernels()) {
		if (k.variant() != variant)
			continue;
		if (!want.empty() && k.provenance.value("recipe_sha256", "") == want) {
			if (stale)
				*stale = false;
			return k;
		}
		if (!any)
			any = k;
	}
	if (stale)
		*stale = any.has_value();
	return any;
}

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

KernelChoice resolve_kernel(const std::string &arg)
{
	if (fs::exists(arg))
		return {arg, "", nullptr};
	std::map<std::string, KernelVariant> vs;
	try {
		vs = load_variants();
	} catch (const std::exception &) {
	}
	if (!vs.count(arg)) {
		std::string names;
		for (auto &[n, _] : vs)
			names += (names.empty() ? "" : ", ") + n;
		throw std::invalid_argument(fmt::format("--kernel {}: no such file, and not a kernel variant ({})", arg, names));
	}
	bool stale = false;
	auto k = find_cached(arg, &stale);
	if (!k)
		throw std::invalid_argument(fmt::format("--kernel {}: not built yet (odfbench kernel build {})", arg, arg));
	if (stale)
		fmt::print(stderr, "kernel: using {} built from an older recipe ({}); `odfbench kernel build {}` brings it up to date\n",
			   arg, k->dir, arg);
	return {k->image(), k->btf(), k->provenance};
}

}  // namespace odfb
