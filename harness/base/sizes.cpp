#include "base/sizes.h"

#include <cctype>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace odfb {

uint64_t parse_size(std::string_view text)
{
	auto fail = [&](std::string_view why) {
		return std::invalid_argument(fmt::format("invalid size \"{}\": {}", text, why));
	};
	std::string_view s = text;
	while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
		s.remove_prefix(1);
	while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
		s.remove_suffix(1);
	if (s.empty())
		throw fail("empty");
	if (s.front() == '-')
		throw fail("negative");

	size_t i = 0;
	bool dot = false;
	while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || (s[i] == '.' && !dot))) {
		dot |= s[i] == '.';
		++i;
	}
	std::string_view num = s.substr(0, i), unit = s.substr(i);
	if (num.empty() || num == ".")
		throw fail("expected a number, optionally followed by K, M, G or T");
	if (num.size() > 30)
		throw fail("too many digits");

	uint64_t mult = 1;
	if (!unit.empty()) {
		char u = static_cast<char>(std::toupper(static_cast<unsigned char>(unit.front())));
		std::string_view rest = unit.substr(1);
		switch (u) {
		case 'B': mult = 1; rest = unit.substr(1); if (!rest.empty()) throw fail("unknown unit"); break;
		case 'K': mult = 1ULL << 10; break;
		case 'M': mult = 1ULL << 20; break;
		case 'G': mult = 1ULL << 30; break;
		case 'T': mult = 1ULL << 40; break;
		default: throw fail("unknown unit (use K, M, G or T)");
		}
		if (u != 'B' && !(rest.empty() || rest == "B" || rest == "b" || rest == "iB" || rest == "ib"))
			throw fail("unknown unit (use K, M, G or T)");
	}

	long double v = std::stold(std::string(num));
	long double bytes = std::floor(v * static_cast<long double>(mult));
	if (!std::isfinite(bytes) || bytes >= 18446744073709551615.0L)
		throw fail("too large");
	if (bytes < 1)
		throw fail("must be at least 1 byte");
	if (dot && bytes != v * static_cast<long double>(mult))
		throw fail("not a whole number of bytes");
	return static_cast<uint64_t>(bytes);
}

std::string format_size(uint64_t bytes)
{
	static const char *units[] = {"T", "G", "M", "K"};
	static const int shifts[] = {40, 30, 20, 10};
	for (int i = 0; i < 4; ++i) {
		uint64_t u = 1ULL << shifts[i];
		if (bytes >= u && bytes % u == 0)
			return fmt::format("{}{}", bytes / u, units[i]);
	}
	for (int i = 0; i < 4; ++i) {
		uint64_t u = 1ULL << shifts[i];
		if (bytes >= u)
			return fmt::format("{:.3g}{}", static_cast<double>(bytes) / static_cast<double>(u), units[i]);
	}
	return fmt::format("{}B", bytes);
}

}  // namespace odfb
