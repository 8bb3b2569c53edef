// Looking up kernel text symbols by name in /proc/kallsyms (or a fixture).
#pragma once
#include <map>
#include <set>
#include <string>

namespace odfb {

struct KallsymsMatch {
	bool readable = false;
	std::set<std::string> exact;                  // "name" itself
	std::map<std::string, std::string> suffixed;  // name -> "name.isra.0" (gcc-specialized copy)
	bool has(const std::string &name) const { return exact.count(name) || suffixed.count(name); }
};

// Text symbols (t/T) whose name, up to the first '.', is in `wanted`.
KallsymsMatch find_text_symbols(const std::string &path, const std::set<std::string> &wanted);

}  // namespace odfb
