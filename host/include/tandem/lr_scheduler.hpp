// The host's handle on a scheduler module instance: typed C++ over tandem_scheduler_vtable, with every
// failure turned into an exception that names the instance and its module file.
//
// Timing follows DeepSpeed's engine: the iteration starts at -1 (the values at construction); the
// values an optimizer step uses are read with values() just before it, and step() is called after
// each optimizer step that was taken (never after a skipped one). Optimizer step n (1-based) of a
// fresh schedule therefore uses the values of iteration n - 2.
//
// Thread safety: one thread at a time per LrScheduler (the module's contract). No call blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "tandem/registry.hpp"
#include "tandem/scheduler.h"

namespace tandem {

// What a schedule sets for one optimizer step, one entry per parameter group.
struct SchedulerValues {
  std::vector<double> lrs;
  // Set when the schedule drives the optimizer's first beta (OneCycle with cycle_momentum, on an
  // optimizer that has betas).
  std::optional<std::vector<double>> momenta;
  // Set when the schedule also overwrites the second beta (OneCycle writes 0.99).
  std::optional<std::vector<double>> second_betas;
};

class LrScheduler {
 public:
  // Takes an instance of a scheduler module. Throws ModuleError if it is another kind, or if its
  // function table is missing or too small for ABI 1.0.
  explicit LrScheduler(std::shared_ptr<ModuleInstance> instance);
  // One handle per instance: a copy would step the same schedule twice.
  LrScheduler(const LrScheduler&) = delete;
  LrScheduler& operator=(const LrScheduler&) = delete;
  LrScheduler(LrScheduler&&) noexcept = default;
  LrScheduler& operator=(LrScheduler&&) noexcept = default;

  // Binds to the optimizer's groups: each group's configured lr (WarmupCosineLR's peak) and whether
  // the optimizer has (beta1, beta2) (OneCycle cycles momentum only then). Once, before anything
  // else; the iteration then is -1, or the schedule's configured last_batch_iteration.
  void bind(std::span<const double> base_lrs, bool has_betas);
  bool bound() const { return group_count_ != 0; }
  size_t group_count() const { return group_count_; }

  // Advances one iteration: call after each optimizer step that was taken.
  void step();
  // DeepSpeed's last_batch_iteration: -1 before the first step.
  int64_t iteration() const;
  // The values of the current iteration: what the next optimizer step uses.
  SchedulerValues values() const;

  // Checkpoint state (the module's bytes, opaque to the host), and back. load_state refuses what
  // the module does not recognise, naming the instance and file.
  std::vector<std::byte> save_state() const;
  void load_state(std::span<const std::byte> state);

  const ModuleInstance& instance() const { return *instance_; }

 private:
  // Throws ModuleError "<label> (<file>): <what> failed: <module's message> [<status>]".
  [[noreturn]] void fail(const char* what, tandem_status status, const char* message) const;
  void require_bound(const char* what) const;

  std::shared_ptr<ModuleInstance> instance_;
  const tandem_scheduler_vtable* vtable_;
  size_t group_count_ = 0;
};

// One optimizer step of a schedule table.
struct ScheduleRow {
  int64_t step;            // optimizer step, 1-based: iteration + 2 at the time the values were read
  SchedulerValues values;  // what that step uses
};

// The values the next `steps` optimizer steps use, as DeepSpeed's engine applies them: read the
// values, take the optimizer step, then step() the schedule. Advances `scheduler` by `steps`. For a
// fresh schedule the rows are steps 1..N; one resumed at iteration k continues at k + 2.
// The scheduler must be bound; steps must be >= 0.
std::vector<ScheduleRow> schedule_table(LrScheduler& scheduler, int64_t steps);

// Writes rows as CSV, one line per optimizer step. Header "step,lr" for one group, with ",momentum"
// when the schedule sets momentum; with several groups each column gets the group's index
// ("lr_0,lr_1,momentum_0,momentum_1"). Numbers are written in the shortest form that reads back
// exactly.
void write_schedule_csv(std::ostream& out, const std::vector<ScheduleRow>& rows);

}  // namespace tandem
