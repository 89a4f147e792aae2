// A byte count in the units a person reads ("1.5 GiB", "640 KiB", "12 bytes"), for messages that
// compare sizes (a model that does not fit, a file over a limit).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace tandem::io {

inline std::string human_size(uint64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  double v = static_cast<double>(bytes) / 1024.0;
  int unit = 0;
  while (v >= 1024.0 && unit < 5) {
    v /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", v, kUnits[unit]);
  return text;
}

}  // namespace tandem::io
