// A Figure drawn with cairo into a PNG: axes, ticks and their values, each panel's title, the step
// axis's label, a legend of the runs; each run one colour, its training curves solid and its
// validation curves dashed with a dot at each point.
#pragma once

#include <array>
#include <filesystem>
#include <vector>

#include "plot/figure_layout.hpp"

namespace tandem::plot {

// The colour of run `i` (8-bit RGB), from a palette that stays apart on white (Tableau's 10).
std::array<unsigned char, 3> run_colour(size_t i);

// Writes the PNG atomically (a temporary file renamed over `out`), so that a failure leaves
// nothing half-written. Throws std::runtime_error with cairo's or the OS's reason.
void render_png(const Figure& figure, const std::vector<Series>& series, const std::filesystem::path& out);

}  // namespace tandem::plot
