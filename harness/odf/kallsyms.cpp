#include "odf/kallsyms.h"

#include <fstream>

namespace odfb {

KallsymsMatch find_text_symbols(const std::string &path, const std::set<std::string> &wanted)
{
	KallsymsMatch k;
	std::ifstream in(path);
	k.readable = static_cast<bool>(in);
	std::string addr, type, name;
	while (in >> addr >> type >> name) {
		in.ignore(1 << 20, '\n');  // module name, if any
		if (type != "t" && type != "T")
			continue;
		auto dot = name.find('.');
		std::string base = name.substr(0, dot);
		if (!wanted.count(base))
			continue;
		if (dot == std::string::npos)
			k.exact.insert(base);
		else
			k.suffixed.emplace(base, name);
	}
	return k;
}

}  // namespace odfb
