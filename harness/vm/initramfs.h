// The guest's initramfs for `odfbench vm`: busybox, this binary, the helper
// programs the workloads run, the command's input files and /init.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

struct VmOptions;
struct GuestPlan;

// True if the ELF file has no PT_INTERP (needs no dynamic loader): the
// initramfs has no loader and no libraries for busybox or odfbench.
bool elf_is_static(const std::string &path, std::string &why);

// The newc archive; vm_info becomes /vm.json, which the guest's results cite.
std::string build_initramfs(const VmOptions &o, const GuestPlan &plan, const nlohmann::json &vm_info);

// Bytes the carried files (GuestPlan::carried, with their libraries) add to
// the initramfs, counted before anything is packed.
uint64_t carried_bytes(const GuestPlan &plan);

// The whole file; throws std::invalid_argument naming it.
std::string read_host_file(const std::string &path);

}  // namespace odfb
