// odfbench doctor: what this kernel is and what every probe would attach with.
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "base/version.h"
#include "cli.h"
#include "vm/carried.h"
#include "odf/detect.h"
#include "base/sysinfo.h"
#include "odf/tfork_guard.h"

namespace odfb::cli {
namespace {

struct DoctorArgs {
	bool json = false;
	ProbeFlags pf;
};

int doctor(bool as_json, const ProbeFlags &pf)
{
	OdfInfo odf = detect_odf();
	nlohmann::json j = {{"kernel", {{"release", kernel_release()}, {"btf", kernel_btf_present()}}},
			    {"odf", odf_json(odf)},
			    {"use_odf_present", odf.use_odf_present},
			    {"thp", thp_mode()},
			    {"host", host_json()},
			    {"environment", {{"vm", vm_environment()}}},
			    {"tool", {{"version", kVersion}, {"git", kGitDescribe}}}};
	std::string why;
	if (!have_bpf_privileges(why)) {
		j["probes"] = nlohmann::json::array();
		j["probe_error"] = why;
	} else {
		try {
			auto probes = Probes::open(odf, pf.options());
			j["probes"] = probes->report_json();
			j["capabilities"] = probes->capabilities_json();
		} catch (const std::exception &e) {
			j["probes"] = nlohmann::json::array();
			j["probe_error"] = e.what();
		}
	}
	if (as_json) {
		std::cout << j.dump(2) << "\n";
		return j.contains("probe_error") ? 1 : 0;
	}
	fmt::print("kernel      {}  (BTF: {})\n", j["kernel"]["release"].get<std::string>(), kernel_btf_present() ? "yes" : "no");
	fmt::print("odf         {}\n", variant_name(odf.variant));
	for (const auto &e : odf.evidence)
		fmt::print("              - {}\n", e);
	fmt::print("use_odf     {}\n", odf.use_odf_present ? "present" : "absent");
	if (auto g = tfork_guard_json(); !g.is_null())
		fmt::print("guard       {}\n", g["rule"].get<std::string>());
	fmt::print("thp         {}\n", thp_mode());
	if (j.contains("probe_error"))
		fmt::print("probes      not loaded: {}\n", j["probe_error"].get<std::string>());
	for (const auto &p : j["probes"])
		fmt::print("probe       {:<22} {:<4} {:<10} {}\n", p["name"].get<std::string>(), p["attached"] ? "yes" : "no",
			   p["mechanism"].get<std::string>(), p["reason"].get<std::string>());
	return j.contains("probe_error") ? 1 : 0;
}

}  // namespace

void add_doctor_command(CLI::App &app, int &exit_code)
{
	CarriedCommand carried;
	carried.loads_probes = true;  // under `odfbench vm` it gets the kernel's detached BTF
	register_carried_command("doctor", std::move(carried));

	auto a = std::make_shared<DoctorArgs>();
	auto *sub = app.add_subcommand("doctor", "Report the kernel, the ODF variant and every probe's mechanism");
	sub->add_flag("--json", a->json, "JSON output");
	a->pf.add(sub);
	sub->callback([a, &exit_code] { exit_code = doctor(a->json, a->pf); });
}

}  // namespace odfb::cli
