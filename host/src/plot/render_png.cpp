#include "plot/render_png.hpp"

#include <cairo.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include "io/atomic_file.hpp"

namespace tandem::plot {

namespace {

constexpr std::array<std::array<unsigned char, 3>, 10> kPalette = {{{31, 119, 180},
                                                                    {255, 127, 14},
                                                                    {44, 160, 44},
                                                                    {214, 39, 40},
                                                                    {148, 103, 189},
                                                                    {140, 86, 75},
                                                                    {227, 119, 194},
                                                                    {127, 127, 127},
                                                                    {188, 189, 34},
                                                                    {23, 190, 207}}};

void set_colour(cairo_t* cr, size_t run) {
  const auto c = run_colour(run);
  cairo_set_source_rgb(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0);
}

// A tick's value as short as it reads: 0.0003 -> "3e-04", 1500 -> "1500", 2.5 -> "2.5".
std::string tick_text(double v) {
  char text[32];
  if (v != 0 && (std::abs(v) < 1e-3 || std::abs(v) >= 1e6)) std::snprintf(text, sizeof text, "%.1e", v);
  else std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

void text_at(cairo_t* cr, const std::string& s, double x, double y, double align_x, double align_y) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  cairo_move_to(cr, x - e.width * align_x - e.x_bearing, y - e.height * align_y - e.y_bearing);
  cairo_show_text(cr, s.c_str());
}

void draw_panel(cairo_t* cr, const Panel& p, const std::vector<Series>& series, bool last) {
  // Grid and ticks.
  cairo_set_line_width(cr, 1);
  cairo_set_font_size(cr, 11);
  for (double t : p.y.ticks) {
    const double y = std::round(p.py(t)) + 0.5;
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, p.left, y);
    cairo_line_to(cr, p.left + p.width, y);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text_at(cr, tick_text(t), p.left - 6, y, 1.0, 0.5);
  }
  for (double t : p.x.ticks) {
    const double x = std::round(p.px(t)) + 0.5;
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, x, p.top);
    cairo_line_to(cr, x, p.top + p.height);
    cairo_stroke(cr);
    if (last) {
      cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
      text_at(cr, tick_text(t), x, p.top + p.height + 6, 0.5, 0.0);
    }
  }
  // The frame, and the panel's title inside its top-left corner.
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_rectangle(cr, std::round(p.left) + 0.5, std::round(p.top) + 0.5, std::round(p.width), std::round(p.height));
  cairo_stroke(cr);
  cairo_set_font_size(cr, 12);
  text_at(cr, p.title, p.left + 8, p.top + 6, 0.0, 0.0);

  // The curves, clipped to the plot area.
  cairo_save(cr);
  cairo_rectangle(cr, p.left, p.top, p.width, p.height);
  cairo_clip(cr);
  for (size_t i : p.series) {
    const Series& s = series[i];
    const bool val = s.metric == "val_loss";
    set_colour(cr, s.run);
    cairo_set_line_width(cr, 2);
    const double dash[] = {6, 4};
    cairo_set_dash(cr, dash, val ? 2 : 0, 0);
    for (size_t k = 0; k < s.points.size(); ++k) {
      const double x = p.px(s.points[k].first), y = p.py(s.points[k].second);
      if (k == 0) cairo_move_to(cr, x, y);
      else cairo_line_to(cr, x, y);
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    if (val || s.points.size() == 1)
      for (const auto& [step, value] : s.points) {
        cairo_arc(cr, p.px(step), p.py(value), 3, 0, 2 * M_PI);
        cairo_fill(cr);
      }
  }
  cairo_restore(cr);
}

void draw_legend(cairo_t* cr, const Figure& f, const std::vector<Series>& series) {
  // One entry per curve of the first panel ("<run> train" solid, "<run> val" dashed), top right.
  const Panel& p = f.panels.front();
  cairo_set_font_size(cr, 11);
  double width = 0;
  for (size_t i : p.series) {
    cairo_text_extents_t e;
    const std::string label = series[i].label + (series[i].metric == "val_loss" ? " val" : "");
    cairo_text_extents(cr, label.c_str(), &e);
    width = std::max(width, e.x_advance);
  }
  const double row = 16, x0 = p.left + p.width - width - 48, y0 = p.top + 10;
  cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
  cairo_rectangle(cr, x0 - 6, y0 - 4, width + 48, row * static_cast<double>(p.series.size()) + 8);
  cairo_fill(cr);
  double y = y0 + row / 2;
  for (size_t i : p.series) {
    const bool val = series[i].metric == "val_loss";
    set_colour(cr, series[i].run);
    cairo_set_line_width(cr, 2);
    const double dash[] = {6, 4};
    cairo_set_dash(cr, dash, val ? 2 : 0, 0);
    cairo_move_to(cr, x0, y);
    cairo_line_to(cr, x0 + 30, y);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text_at(cr, series[i].label + (val ? " val" : ""), x0 + 36, y, 0.0, 0.5);
    y += row;
  }
}

cairo_status_t to_sink(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<io::FileSink*>(closure)->write(data, length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

std::array<unsigned char, 3> run_colour(size_t i) { return kPalette[i % kPalette.size()]; }

void render_png(const Figure& figure, const std::vector<Series>& series, const std::filesystem::path& out) {
  const std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, figure.width, figure.height), cairo_surface_destroy);
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cannot make a ") + std::to_string(figure.width) + "x" +
                             std::to_string(figure.height) + " image: " +
                             cairo_status_to_string(cairo_surface_status(surface.get())));
  const std::unique_ptr<cairo_t, decltype(&cairo_destroy)> context(cairo_create(surface.get()), cairo_destroy);
  cairo_t* cr = context.get();
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  for (size_t i = 0; i < figure.panels.size(); ++i)
    draw_panel(cr, figure.panels[i], series, i + 1 == figure.panels.size());
  draw_legend(cr, figure, series);
  const Panel& bottom = figure.panels.back();
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_font_size(cr, 12);
  text_at(cr, "step", bottom.left + bottom.width / 2, bottom.top + bottom.height + 24, 0.5, 0.0);
  cairo_surface_flush(surface.get());
  io::write_atomically(out, [&](io::FileSink& sink) {
    const cairo_status_t status = cairo_surface_write_to_png_stream(surface.get(), to_sink, &sink);
    if (status != CAIRO_STATUS_SUCCESS)
      throw std::runtime_error("cannot write the PNG " + out.string() + ": " + cairo_status_to_string(status));
  });
}

}  // namespace tandem::plot
