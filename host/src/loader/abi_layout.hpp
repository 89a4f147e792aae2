// The ABI 1.0 layout, in one place: the smallest struct_size the host accepts for each struct a
// module hands it. ABI structs are append-only (STYLE.md 4), so a struct from any 1.x module is at
// least as large as its 1.0 layout: the end of the last 1.0 field. A later minor that appends fields
// adds its own constants here and reads the new fields only when struct_size covers them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>

#include "tandem/abi.h"
#include "tandem/comm.h"
#include "tandem/model.h"
#include "tandem/optimizer.h"
#include "tandem/registry.hpp"
#include "tandem/scheduler.h"
#include "tandem/stage.h"

namespace tandem::loader {

// The end of `member` in `Struct`: the size a struct must have to hold that field.
#define TANDEM_END_OF_(Struct, member) (offsetof(Struct, member) + sizeof(Struct::member))

// What every descriptor of every ABI version starts with: struct_size, abi_major, abi_minor. The
// host reads exactly this much before it knows whether it may read more.
inline constexpr uint32_t kDescriptorHeaderSize = TANDEM_END_OF_(tandem_module_descriptor, abi_minor);

// ABI 1.0: where each struct's 1.0 layout ends.
inline constexpr uint32_t kDescriptorSize_1_0 = TANDEM_END_OF_(tandem_module_descriptor, vtable);
inline constexpr uint32_t kParamSpecSize_1_0 = TANDEM_END_OF_(tandem_param_spec, help);
inline constexpr uint32_t kStageVtableSize_1_0 = TANDEM_END_OF_(tandem_stage_vtable, master_shard);
inline constexpr uint32_t kOptimizerVtableSize_1_0 = TANDEM_END_OF_(tandem_optimizer_vtable, state_buffer);
inline constexpr uint32_t kSchedulerVtableSize_1_0 = TANDEM_END_OF_(tandem_scheduler_vtable, state_load);
inline constexpr uint32_t kCommVtableSize_1_0 = TANDEM_END_OF_(tandem_comm_vtable, abort);
inline constexpr uint32_t kModelVtableSize_1_0 = TANDEM_END_OF_(tandem_model_vtable, backward);

// The SDK this host is built with only ever appends, so its structs hold the 1.0 layout.
static_assert(sizeof(tandem_module_descriptor) >= kDescriptorSize_1_0);
static_assert(sizeof(tandem_param_spec) >= kParamSpecSize_1_0);
static_assert(kDescriptorHeaderSize == 8, "struct_size (4) + abi_major (2) + abi_minor (2)");

// One entry of a kind's function table: its name (for messages) and where it lies.
struct VtableEntry {
  const char* name;
  size_t offset;
};

#define TANDEM_ENTRY_(Table, member) VtableEntry{#member, offsetof(Table, member)}
inline constexpr VtableEntry kStageEntries_1_0[] = {
    TANDEM_ENTRY_(tandem_stage_vtable, setup),      TANDEM_ENTRY_(tandem_stage_vtable, set_param),
    TANDEM_ENTRY_(tandem_stage_vtable, get_param),  TANDEM_ENTRY_(tandem_stage_vtable, param_access),
    TANDEM_ENTRY_(tandem_stage_vtable, end_backward), TANDEM_ENTRY_(tandem_stage_vtable, grad_norm),
    TANDEM_ENTRY_(tandem_stage_vtable, step),       TANDEM_ENTRY_(tandem_stage_vtable, zero_grads),
    TANDEM_ENTRY_(tandem_stage_vtable, memory),     TANDEM_ENTRY_(tandem_stage_vtable, master_shard)};
inline constexpr VtableEntry kOptimizerEntries_1_0[] = {
    TANDEM_ENTRY_(tandem_optimizer_vtable, capabilities), TANDEM_ENTRY_(tandem_optimizer_vtable, defaults),
    TANDEM_ENTRY_(tandem_optimizer_vtable, init_state),   TANDEM_ENTRY_(tandem_optimizer_vtable, step),
    TANDEM_ENTRY_(tandem_optimizer_vtable, state_buffer_count),
    TANDEM_ENTRY_(tandem_optimizer_vtable, state_buffer)};
inline constexpr VtableEntry kSchedulerEntries_1_0[] = {
    TANDEM_ENTRY_(tandem_scheduler_vtable, bind),       TANDEM_ENTRY_(tandem_scheduler_vtable, step),
    TANDEM_ENTRY_(tandem_scheduler_vtable, iteration),  TANDEM_ENTRY_(tandem_scheduler_vtable, values),
    TANDEM_ENTRY_(tandem_scheduler_vtable, state_size), TANDEM_ENTRY_(tandem_scheduler_vtable, state_save),
    TANDEM_ENTRY_(tandem_scheduler_vtable, state_load)};
inline constexpr VtableEntry kCommEntries_1_0[] = {
    TANDEM_ENTRY_(tandem_comm_vtable, world_size),     TANDEM_ENTRY_(tandem_comm_vtable, local_rank_count),
    TANDEM_ENTRY_(tandem_comm_vtable, first_rank),     TANDEM_ENTRY_(tandem_comm_vtable, all_reduce),
    TANDEM_ENTRY_(tandem_comm_vtable, reduce_scatter), TANDEM_ENTRY_(tandem_comm_vtable, all_gather),
    TANDEM_ENTRY_(tandem_comm_vtable, broadcast),      TANDEM_ENTRY_(tandem_comm_vtable, barrier),
    TANDEM_ENTRY_(tandem_comm_vtable, abort)};
inline constexpr VtableEntry kModelEntries_1_0[] = {
    TANDEM_ENTRY_(tandem_model_vtable, param_count),  TANDEM_ENTRY_(tandem_model_vtable, param_info),
    TANDEM_ENTRY_(tandem_model_vtable, layer_count),  TANDEM_ENTRY_(tandem_model_vtable, hidden_size),
    TANDEM_ENTRY_(tandem_model_vtable, vocab_size),   TANDEM_ENTRY_(tandem_model_vtable, max_sequence),
    TANDEM_ENTRY_(tandem_model_vtable, init_param),   TANDEM_ENTRY_(tandem_model_vtable, forward),
    TANDEM_ENTRY_(tandem_model_vtable, backward)};
#undef TANDEM_ENTRY_
#undef TANDEM_END_OF_

// Every 1.0 table is struct_size followed by function pointers and nothing else, and each entry
// list above names all of them: a table's size is the end of its last entry.
static_assert(kStageVtableSize_1_0 == 8 + std::size(kStageEntries_1_0) * sizeof(void*));
static_assert(kOptimizerVtableSize_1_0 == 8 + std::size(kOptimizerEntries_1_0) * sizeof(void*));
static_assert(kSchedulerVtableSize_1_0 == 8 + std::size(kSchedulerEntries_1_0) * sizeof(void*));
static_assert(kCommVtableSize_1_0 == 8 + std::size(kCommEntries_1_0) * sizeof(void*));
static_assert(kModelVtableSize_1_0 == 8 + std::size(kModelEntries_1_0) * sizeof(void*));

// A kind's ABI 1.0 function table: its size and its entries, each of which a module must set.
struct VtableLayout {
  uint32_t size;
  std::span<const VtableEntry> entries;
};

// nullopt for a kind whose table this SDK does not define (a module of that kind cannot be used, so
// it is refused); a later SDK minor that adds a kind adds its line here.
constexpr std::optional<VtableLayout> vtable_layout_1_0(ModuleKind kind) {
  switch (kind) {
    case ModuleKind::Stage: return VtableLayout{kStageVtableSize_1_0, kStageEntries_1_0};
    case ModuleKind::Optimizer: return VtableLayout{kOptimizerVtableSize_1_0, kOptimizerEntries_1_0};
    case ModuleKind::Scheduler: return VtableLayout{kSchedulerVtableSize_1_0, kSchedulerEntries_1_0};
    case ModuleKind::Comm: return VtableLayout{kCommVtableSize_1_0, kCommEntries_1_0};
    case ModuleKind::Model: return VtableLayout{kModelVtableSize_1_0, kModelEntries_1_0};
  }
  return std::nullopt;
}

}  // namespace tandem::loader
