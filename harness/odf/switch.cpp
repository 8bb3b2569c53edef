#include "odf/switch.h"
#include "odf/abi.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace odfb {

namespace {
pid_t g_protected = -1;

void refuse_if_protected(pid_t target)
{
	if (target == g_protected)
		throw std::logic_error("refusing to enable ODF on the odfbench main process: the flag cannot be undone");
}
}  // namespace

void set_protected_pid(pid_t pid) { g_protected = pid; }

std::string read_use_odf(pid_t pid)
{
	std::ifstream in(fmt::format("/proc/{}/use_odf", pid));
	std::string v;
	if (!(in >> v))
		return "";
	return v;
}

nlohmann::json enable_in_process(TrialEnv &env)
{
	refuse_if_protected(getpid());
	nlohmann::json j = {{"mechanism", nullptr}};
	j["use_odf_before"] = read_use_odf(getpid());
	switch (env.odf->variant) {
	case OdfVariant::Patchset60: {
		int rc = prctl(abi::kPrSetCowPte, 0, 0, 0, 0);
		if (rc != 0 && errno != EINVAL)
			throw std::runtime_error(fmt::format("prctl(65) failed: {}", std::strerror(errno)));
		// EINVAL once MMF_COW_PTE is set means "already on", not an error.
		j["mechanism"] = "prctl(65)";
		j["prctl_rc"] = rc == 0 ? 0 : -errno;
		j["use_odf_after"] = read_use_odf(getpid());  // 0 until the next clone on 6.0.6
		break;
	}
	case OdfVariant::Paper56:
		j["mechanism"] = "syscall(439) tfork per trial";
		env.fork_fn = [] { return static_cast<pid_t>(syscall(abi::kSysTfork, 0, 0, 0, 0, 0)); };
		break;
	default:
		throw std::logic_error("enable_in_process on a kernel without ODF");
	}
	return j;
}

nlohmann::json enable_procfs(pid_t runner)
{
	refuse_if_protected(runner);
	nlohmann::json j = {{"mechanism", fmt::format("/proc/{}/use_odf", runner)}};
	j["use_odf_before"] = read_use_odf(runner);
	int fd = open(fmt::format("/proc/{}/use_odf", runner).c_str(), O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		throw std::runtime_error(fmt::format("cannot write /proc/{}/use_odf: {}", runner, std::strerror(e)));
	}
	close(fd);
	j["use_odf_after"] = read_use_odf(runner);
	return j;
}

Launched launch_program(const std::vector<std::string> &argv, bool odf, const OdfInfo &info,
			const std::function<void()> &in_child)
{
	if (argv.empty())
		throw std::invalid_argument("launch_program: empty command");
	if (odf && info.variant == OdfVariant::None)
		throw std::logic_error("launch_program with ODF on a kernel without ODF");
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0)
		throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
	auto exec_it = [&]() {
		if (in_child)
			in_child();
		std::vector<char *> a;
		for (const auto &s : argv)
			a.push_back(const_cast<char *>(s.c_str()));
		a.push_back(nullptr);
		execvp(a[0], a.data());
		fmt::print(stderr, "odfbench: cannot exec {}: {}\n", argv[0], std::strerror(errno));
		_exit(127);
	};
	Launched l;
	pid_t first = fork();
	if (first < 0)
		throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
	if (first == 0) {
		close(pfd[0]);
		if (!odf)
			exec_it();
		pid_t g;
		if (info.variant == OdfVariant::Paper56) {
			g = static_cast<pid_t>(syscall(abi::kSysTfork, 0, 0, 0, 0, 0));
		} else {
			if (prctl(abi::kPrSetCowPte, 0, 0, 0, 0) != 0 && errno != EINVAL)
				_exit(126);
			g = fork();  // READY becomes ON here, for both
		}
		if (g == 0)
			exec_it();
		(void)!write(pfd[1], &g, sizeof(g));
		int st = 0;
		if (g > 0)
			waitpid(g, &st, 0);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	close(pfd[1]);
	if (odf) {
		l.via = first;
		if (read(pfd[0], &l.pid, sizeof(l.pid)) != sizeof(l.pid) || l.pid <= 0) {
			close(pfd[0]);
			waitpid(first, nullptr, 0);
			throw std::runtime_error(fmt::format("could not start {} with ODF on", argv[0]));
		}
	} else {
		l.pid = first;
	}
	close(pfd[0]);
	l.evidence = {{"launcher", odf ? (info.variant == OdfVariant::Paper56 ? "tfork, exec" : "prctl(65), fork, exec") : "fork, exec"},
		      {"use_odf", read_use_odf(l.pid)}};
	return l;
}

ForkEvidence fork_evidence(const OdfInfo &odf, const proc_stats &p, uint64_t region_bytes)
{
	ForkEvidence e;
	int bit = odf.active_flag_bit();
	e.flag_known = bit >= 0;
	e.flag_in_child = e.flag_known && ((p.last_child_mm_flags >> bit) & 1);
	e.tables_shared_est = (static_cast<int64_t>(p.last_parent_pgtables_bytes) -
			       static_cast<int64_t>(p.last_child_pgtables_bytes)) / static_cast<int64_t>(abi::kPteTableBytes);
	// A classic fork gives the child its own copy of every region table (the
	// parent keeps about one table more than the child, whatever the size); a
	// child missing at least half of the region's tables did not get them
	// copied.  Judged only for regions of 4+ whole tables, where that margin
	// cannot come from anything else.
	int64_t region_tables = static_cast<int64_t>(region_bytes / abi::kPteTableSpan);
	e.judgeable = region_tables >= 4;
	e.sharing_observed = e.judgeable && e.tables_shared_est >= region_tables / 2;
	return e;
}

}  // namespace odfb
