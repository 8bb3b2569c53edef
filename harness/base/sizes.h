// Memory sizes as users write them: 64M, 1G, 1.5G, 4096.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace odfb {

// Parses a size with an optional binary suffix (K, M, G, T; "iB"/"B" allowed).
// Throws std::invalid_argument naming the text on anything else, zero included.
uint64_t parse_size(std::string_view text);

// 268435456 -> "256M"; exact binary units where possible.
std::string format_size(uint64_t bytes);

}  // namespace odfb
