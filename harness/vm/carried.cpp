#include "vm/carried.h"

#include <map>

namespace odfb {

namespace {
std::map<std::string, CarriedCommand> &registry()
{
	static std::map<std::string, CarriedCommand> r;
	return r;
}
}  // namespace

void register_carried_command(const std::string &name, CarriedCommand c)
{
	registry()[name] = std::move(c);
}

const CarriedCommand &carried_command(const std::string &name)
{
	static const CarriedCommand plain;
	auto it = registry().find(name);
	return it == registry().end() ? plain : it->second;
}

}  // namespace odfb
