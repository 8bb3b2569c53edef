#include "odf/tfork_guard.h"
#include "odf/abi.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <seccomp.h>

namespace odfb {

namespace {
constexpr int kTforkNr = abi::kSysTfork;
bool g_installed = false;
}  // namespace

void install_tfork_seccomp_filter()
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		throw std::runtime_error("tfork guard: seccomp_init failed");
	// Root has CAP_SYS_ADMIN, so no_new_privs is not needed (and would
	// change how exec'd setuid programs behave).
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), kTforkNr, 1, SCMP_A1(SCMP_CMP_NE, 0));
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0)
		throw std::runtime_error(fmt::format("paper kernel: cannot install the tfork guard (seccomp: {}); without it every "
						     "faccessat() in glibc >= 2.33 would fork this process",
						     std::strerror(-rc)));
}

void install_tfork_guard(const OdfInfo &odf)
{
	if (odf.variant != OdfVariant::Paper56 || g_installed)
		return;
	install_tfork_seccomp_filter();
	g_installed = true;
}

nlohmann::json tfork_guard_json()
{
	if (!g_installed)
		return nullptr;
	return {{"installed", true},
		{"rule", "seccomp: syscall 439 with a non-null 2nd argument (glibc's faccessat2) fails with ENOSYS; "
			 "argument-less 439 (tfork) passes"}};
}

nlohmann::json odf_json(const OdfInfo &odf)
{
	auto j = odf.to_json();
	j["tfork_guard"] = tfork_guard_json();
	return j;
}

}  // namespace odfb
