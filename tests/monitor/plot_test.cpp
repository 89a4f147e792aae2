// `tandem plot` end to end: a PNG of the asked size that cairo reads back, with each run's colour on
// the pixels where figure_layout puts known points of its (straight-line) curves, train solid and
// validation dashed; and bad input (no such file, an empty file, an unknown metric, an -o that
// exists) refused with exit 2 by name, leaving an existing -o as it was.
#include <cairo.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>

#include "cli_support.hpp"
#include "plot/figure_layout.hpp"
#include "plot/metrics_series.hpp"
#include "plot/render_png.hpp"

namespace tandem {
namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Metrics lines of a run whose loss falls on a straight line: loss = a - b * step, val_loss every
// fourth step, lr constant; one line cut short at the end (a killed run's), which plot skips.
std::filesystem::path straight_run(const test::Scratch& s, const std::string& name, double a, double b) {
  std::ofstream out(s / name);
  for (int step = 1; step <= 40; ++step) {
    out << "{\"step\": " << step << ", \"timestamp\": \"2026-12-07T23:00:00.000Z\", \"loss\": " << a - b * step
        << ", \"lr\": 0.001, \"tokens_per_s\": " << 1000 + step;
    if (step % 4 == 0) out << ", \"val_loss\": " << a + 0.5 - b * step;
    out << "}\n";
  }
  out << "{\"step\": 41, \"lo";
  return s / name;
}

struct Image {
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface{nullptr, cairo_surface_destroy};
  int width() const { return cairo_image_surface_get_width(surface.get()); }
  int height() const { return cairo_image_surface_get_height(surface.get()); }
  std::array<unsigned char, 3> rgb(int x, int y) const {
    const unsigned char* row = cairo_image_surface_get_data(surface.get()) + y * cairo_image_surface_get_stride(surface.get());
    uint32_t pixel;
    std::memcpy(&pixel, row + 4 * x, 4);  // native-endian 0xAARRGGBB
    return {static_cast<unsigned char>(pixel >> 16), static_cast<unsigned char>(pixel >> 8), static_cast<unsigned char>(pixel)};
  }
  // A pixel of `colour` (within a little, for antialiasing) within `r` pixels of (x, y).
  bool colour_near(double x, double y, std::array<unsigned char, 3> colour, int r = 2) const {
    for (int dy = -r; dy <= r; ++dy)
      for (int dx = -r; dx <= r; ++dx) {
        const auto c = rgb(static_cast<int>(std::lround(x)) + dx, static_cast<int>(std::lround(y)) + dy);
        int d = 0;
        for (int k = 0; k < 3; ++k) d = std::max(d, std::abs(c[k] - colour[k]));
        if (d <= 24) return true;
      }
    return false;
  }
};

Image read_png(const std::filesystem::path& file) {
  Image img;
  img.surface.reset(cairo_image_surface_create_from_png(file.c_str()));
  EXPECT_EQ(cairo_surface_status(img.surface.get()), CAIRO_STATUS_SUCCESS) << file;
  cairo_surface_flush(img.surface.get());
  return img;
}

TEST(Plot, RunsOverlaidWithTheirColoursWhereTheirPointsLie) {
  test::Scratch scratch("plot");
  const auto a = straight_run(scratch, "distilled.jsonl", 6.0, 0.1);
  const auto b = straight_run(scratch, "baseline.jsonl", 5.0, 0.05);
  const auto out = scratch / "loss.png";
  const test::CliResult r =
      test::tandem_run({"plot", a.string(), b.string(), "-o", out.string(), "--width", "800", "--height", "500"}, scratch / "p");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.out, "wrote " + out.string())) << r.out;
  const Image img = read_png(out);
  ASSERT_EQ(img.width(), 800);
  ASSERT_EQ(img.height(), 500);

  // Where the layout puts the points, for the same series.
  std::vector<plot::Series> series = plot::read_series(a, "distilled", 0, {"loss", "val_loss"});
  for (plot::Series& s : plot::read_series(b, "baseline", 1, {"loss", "val_loss"})) series.push_back(s);
  const plot::Figure f = plot::layout(series, 800, 500);
  ASSERT_EQ(f.panels.size(), 1u);
  const plot::Panel& p = f.panels[0];
  EXPECT_EQ(p.x.lo, 0);
  EXPECT_EQ(p.x.hi, 40);
  // Points on the train lines (solid), away from the legend in the top right; steps 6 and 14.
  for (int step : {6, 14}) {
    EXPECT_TRUE(img.colour_near(p.px(step), p.py(6.0 - 0.1 * step), plot::run_colour(0))) << "run a, step " << step;
    EXPECT_TRUE(img.colour_near(p.px(step), p.py(5.0 - 0.05 * step), plot::run_colour(1))) << "run b, step " << step;
  }
  // Validation points (a dot each) at steps 8 and 16; and not a's colour where neither line passes.
  EXPECT_TRUE(img.colour_near(p.px(8), p.py(6.5 - 0.8), plot::run_colour(0)));
  EXPECT_TRUE(img.colour_near(p.px(16), p.py(5.5 - 0.8), plot::run_colour(1)));
  EXPECT_FALSE(img.colour_near(p.px(10), p.py(2.5), plot::run_colour(0), 3));
  EXPECT_FALSE(img.colour_near(p.px(10), p.py(2.5), plot::run_colour(1), 3));
}

TEST(Plot, LrAndTokensPerSecondGetPanelsOfTheirOwn) {
  test::Scratch scratch("plot-panels");
  const auto a = straight_run(scratch, "run.jsonl", 6.0, 0.1);
  const auto out = scratch / "all.png";
  const test::CliResult r = test::tandem_run(
      {"plot", a.string(), "-o", out.string(), "--metric", "loss", "--metric", "lr", "--metric", "tokens_per_s"},
      scratch / "p");
  ASSERT_EQ(r.rc, 0) << r.err;
  const Image img = read_png(out);
  EXPECT_EQ(img.width(), 900);
  EXPECT_EQ(img.height(), 900);  // 300 a panel
  const std::vector<plot::Series> series = plot::read_series(a, "run", 0, {"loss", "lr", "tokens_per_s"});
  const plot::Figure f = plot::layout(series, 900, 900);
  ASSERT_EQ(f.panels.size(), 3u);
  EXPECT_EQ(f.panels[2].title, "tokens/s");
  EXPECT_TRUE(img.colour_near(f.panels[2].px(20), f.panels[2].py(1020), plot::run_colour(0)));
}

TEST(Plot, BadInputIsRefusedByNameAndAnExistingOutputIsKept) {
  test::Scratch scratch("plot-bad");
  const auto good = straight_run(scratch, "good.jsonl", 6.0, 0.1);
  const auto out = scratch / "out.png";
  auto refused = [&](const std::vector<std::string>& args, const std::string& message) {
    const test::CliResult r = test::tandem_run(args, scratch / "bad");
    EXPECT_EQ(r.rc, 2) << message;
    EXPECT_TRUE(has(r.err, message)) << r.err;
  };
  refused({"plot", (scratch / "missing.jsonl").string(), "-o", out.string()},
          "tandem plot: " + (scratch / "missing.jsonl").string() + ": no such file");
  scratch.write("empty.jsonl", "");
  refused({"plot", (scratch / "empty.jsonl").string(), "-o", out.string()},
          (scratch / "empty.jsonl").string() + ": empty: no metrics to plot");
  scratch.write("other.jsonl", "{\"step\": 1, \"accuracy\": 0.5}\n");
  refused({"plot", (scratch / "other.jsonl").string(), "-o", out.string()},
          "has no loss, val_loss values: is it a metrics file");
  scratch.write("text.jsonl", "loss is 4\n{\"step\": 2, \"loss\": 3}\n");
  refused({"plot", (scratch / "text.jsonl").string(), "-o", out.string()}, (scratch / "text.jsonl").string() + ":1");
  refused({"plot", good.string(), "-o", out.string(), "--metric", "val_los"},
          "--metric val_los: not a metric tandem plots (did you mean val_loss?)");
  refused({"plot", good.string()}, "no -o OUT.png given");
  refused({"plot", good.string(), "-o", out.string(), "--label", "x", "--label", "y"}, "2 --label for 1 metrics files");
  EXPECT_FALSE(std::filesystem::exists(out));

  scratch.write("out.png", "mine");
  refused({"plot", good.string(), "-o", out.string()},
          "tandem plot: -o " + out.string() + " already exists: --force replaces it");
  EXPECT_EQ(test::read_text(out), "mine");
  ASSERT_EQ(test::tandem_run({"plot", good.string(), "-o", out.string(), "--force"}, scratch / "force").rc, 0);
  EXPECT_EQ(read_png(out).width(), 900);
}

}  // namespace
}  // namespace tandem
