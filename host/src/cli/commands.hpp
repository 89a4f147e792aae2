// The table of `tandem`'s commands: the one place a command is added (one line in commands.cpp).
// main() dispatches through it, `tandem --help` lists it, `tandem help CMD` and "did you mean"
// search it.
#pragma once

#include <span>
#include <string_view>

#include "cli/cli.hpp"

namespace tandem::cli {

struct Command {
  std::string_view name;     // what is typed after `tandem`
  std::string_view synopsis; // what follows the name in the listing ("check | explain", or "")
  std::string_view summary;  // one line: what it does
  int (*run)(const Args& args);
};

std::span<const Command> commands();
const Command* find_command(std::string_view name);

}  // namespace tandem::cli
