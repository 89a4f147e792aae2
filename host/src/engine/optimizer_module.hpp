// The optimizer module a config's "optimizer.type" names. DeepSpeed runs "Adam" and "AdamW" through
// one Adam implementation whose adam_w_mode decides between L2 and decoupled decay (true by
// default), so both select tandem's `adamw` module, which does both the same way; every other type
// is the module of its canonical name. Used by the engine and by `tandem config check`, so that what
// one accepts the other does.
#pragma once

#include <string>
#include <string_view>

namespace tandem {

std::string optimizer_module_name(std::string_view config_type);

}  // namespace tandem
