// schedule_table and its CSV form: what `tandem schedule` prints. See tandem/lr_scheduler.hpp.
#include <charconv>
#include <ostream>
#include <stdexcept>
#include <string>

#include "tandem/lr_scheduler.hpp"

namespace tandem {

std::vector<ScheduleRow> schedule_table(LrScheduler& scheduler, int64_t steps) {
  if (steps < 0) throw std::invalid_argument("schedule_table: steps must be >= 0, got " + std::to_string(steps));
  std::vector<ScheduleRow> rows;
  rows.reserve(static_cast<size_t>(steps));
  for (int64_t n = 0; n < steps; ++n) {
    // DeepSpeed's engine: the optimizer step uses the lr the schedule set last, then step() follows it.
    const int64_t step = scheduler.iteration() + 2;
    rows.push_back(ScheduleRow{step, scheduler.values()});
    scheduler.step();
  }
  return rows;
}

namespace {

// Shortest text that reads back as the same double.
void put_number(std::ostream& out, double value) {
  char buffer[64];
  const std::to_chars_result r = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.write(buffer, r.ptr - buffer);
}

void put_header(std::ostream& out, const char* name, size_t groups) {
  if (groups == 1) {
    out << ',' << name;
    return;
  }
  for (size_t g = 0; g < groups; ++g) out << ',' << name << '_' << g;
}

void put_values(std::ostream& out, const std::vector<double>& values) {
  for (const double v : values) {
    out << ',';
    put_number(out, v);
  }
}

}  // namespace

void write_schedule_csv(std::ostream& out, const std::vector<ScheduleRow>& rows) {
  const size_t groups = rows.empty() ? 1 : rows.front().values.lrs.size();
  // A schedule sets momentum at every step or at none (it depends on its config and the optimizer).
  const bool momentum = !rows.empty() && rows.front().values.momenta.has_value();
  out << "step";
  put_header(out, "lr", groups);
  if (momentum) put_header(out, "momentum", groups);
  out << '\n';
  for (const ScheduleRow& row : rows) {
    out << row.step;
    put_values(out, row.values.lrs);
    if (momentum) {
      if (!row.values.momenta) throw std::logic_error("write_schedule_csv: momentum missing at step " +
                                                      std::to_string(row.step));
      put_values(out, *row.values.momenta);
    }
    out << '\n';
  }
}

}  // namespace tandem
