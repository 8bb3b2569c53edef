// How a cell gets its child or its snapshot: the strategy.  Classic fork on
// 4K pages (the baseline); ODF switched on in-process or through
// /proc/<pid>/use_odf (docs/odf-kernels.md); fork with the region on large
// folios (thp: 2M, mthp-<size>: the mTHP sizes the kernel offers); a
// userfaultfd write-protect snapshot with no fork at all; vfork and
// posix_spawn for programs that fork only to exec.
#pragma once
#include <string>
#include <vector>

namespace odfb {

enum class Mode {
	Fork,
	Odf,
	OdfProcfs,
	Thp,       // fork, region on 2M folios (PMD THP)
	Mthp16K,
	Mthp32K,
	Mthp64K,
	Mthp128K,
	Mthp256K,
	Mthp512K,
	Mthp1M,
	UffdWp,    // no fork: userfaultfd write-protect and a copier thread
	Vfork,
	PosixSpawn,
};
const char *mode_name(Mode m);
Mode parse_mode(const std::string &s);  // throws std::invalid_argument
std::vector<Mode> all_modes();
// The ODF modes: they need an ODF kernel and verified ODF evidence.
bool is_odf_mode(Mode m);
// The folio size a mode asks for, in KiB (thp: 2048); 0 when it asks for none.
unsigned mode_folio_kb(Mode m);

}  // namespace odfb
