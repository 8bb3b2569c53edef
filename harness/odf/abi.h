// The numbers the two ODF kernels define, named once.  What each means, on
// which kernel, and why the suite never probes them blindly:
// docs/odf-kernels.md.
#pragma once
#include <cstdint>

namespace odfb::abi {

// 6.0.6 patch set: prctl(PR_SET_COW_PTE) sets "READY"; the next clone turns
// ODF on.  Mainline >= 6.3 uses 65 for PR_SET_MDWE.
inline constexpr int kPrSetCowPte = 65;
// Paper 5.6.19: the tfork syscall, a fork that turns ODF on.  It is
// faccessat2 on mainline >= 5.8 and on the 6.0.6 kernel.
inline constexpr long kSysTfork = 439;
// mm->flags bits that say "ODF in effect"; meaningless on other kernels.
inline constexpr int kMmfCowPte = 30;  // 6.0.6 (bit 29 is READY)
inline constexpr int kMmfTfork = 27;   // paper 5.6.19
// ENOTSUPP, a kernel-internal errno: fentry attach without a BPF JIT.
inline constexpr int kErrNotSupp = 524;

// x86-64 page tables: a last-level (PTE) table is one 4 KiB page and maps
// 2 MiB; ODF shares and copies memory in these units.
inline constexpr uint64_t kPteTableBytes = 4096;
inline constexpr uint64_t kPteTableSpan = 2ull << 20;

}  // namespace odfb::abi
