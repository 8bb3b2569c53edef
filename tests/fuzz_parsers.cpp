// libFuzzer target for the spec and size parsers.  Bad input must end in the
// documented errors (SpecError, std::invalid_argument) and nothing else: any
// other exception, a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "base/sizes.h"
#include "run/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string text(reinterpret_cast<const char *>(data), size);
	try {
		odfb::parse_size(text);
	} catch (const std::invalid_argument &) {
	}
	try {
		odfb::parse_size_list(text, "sizes");
	} catch (const odfb::SpecError &) {
	}
	auto j = nlohmann::json::parse(text, nullptr, false);
	if (j.is_discarded())
		return 0;
	try {
		odfb::parse_spec(j);
	} catch (const odfb::SpecError &) {
	}
	return 0;
}
