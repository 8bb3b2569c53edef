// Facts about the host that every result is stamped with.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

std::string kernel_release();
std::string thp_mode();  // the bracketed word of transparent_hugepage/enabled, or "unavailable"
bool kernel_btf_present();
// MemAvailable from /proc/meminfo, in bytes (0 if unreadable).
uint64_t mem_available_bytes(const std::string &meminfo = "/proc/meminfo");
// A /proc/<pid>/status field in kB, e.g. "VmPTE"; -1 if absent.
int64_t proc_status_kb(int pid, const std::string &field);
// VMAs in /proc/<pid>/maps, without the [vsyscall] gate page (not in the mm's
// VMA list, so fork never copies it); -1 if unreadable.  Allocates nothing,
// so the count stays right for a fork that follows.
int count_vmas(int pid);
bool have_bpf_privileges(std::string &why);
nlohmann::json host_json();
// The path of an executable: `prog` itself if it has a slash, else the first
// match on $PATH, /usr/sbin or /sbin; "" if none.
std::string find_program(const std::string &prog);
uint64_t now_ns();            // CLOCK_MONOTONIC
std::string utc_timestamp();  // ISO 8601

}  // namespace odfb
