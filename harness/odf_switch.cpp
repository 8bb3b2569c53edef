#include "odf_switch.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/syscall.h>
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
		int rc = prctl(65, 0, 0, 0, 0);
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
		env.fork_fn = [] { return static_cast<pid_t>(syscall(439, 0, 0, 0, 0, 0)); };
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

ForkEvidence fork_evidence(const OdfInfo &odf, const proc_stats &p, uint64_t region_bytes)
{
	ForkEvidence e;
	int bit = odf.active_flag_bit();
	e.flag_known = bit >= 0;
	e.flag_in_child = e.flag_known && ((p.last_child_mm_flags >> bit) & 1);
	e.tables_shared_est = (static_cast<int64_t>(p.last_parent_pgtables_bytes) -
			       static_cast<int64_t>(p.last_child_pgtables_bytes)) / 4096;
	// A classic fork gives the child its own copy of every region table; a
	// child holding under half of them did not get them copied.
	uint64_t region_table_bytes = (region_bytes + (2ULL << 20) - 1) / (2ULL << 20) * 4096;
	e.sharing_observed = p.last_child_pgtables_bytes < region_table_bytes / 2;
	return e;
}

}  // namespace odfb
