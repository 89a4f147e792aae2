// DeepSpeed's batch triple (DeepSpeedConfig._set_batch_related_parameters and _batch_assertion):
// what is missing is derived with floor division, then the triple is checked. Given values are
// checked to be positive first, so the divisions below never divide by zero and floor division is
// plain integer division.
#include <stdexcept>
#include <string>

#include "findings.hpp"
#include "tandem/config_batch.hpp"
#include "tandem/config_error.hpp"

namespace tandem {

namespace {

constexpr const char* kTrain = "train_batch_size";
constexpr const char* kMicro = "train_micro_batch_size_per_gpu";
constexpr const char* kGas = "gradient_accumulation_steps";

std::string s(int64_t v) { return std::to_string(v); }

bool multiply(int64_t a, int64_t b, int64_t c, int64_t& out) {
  int64_t ab = 0;
  return !__builtin_mul_overflow(a, b, &ab) && !__builtin_mul_overflow(ab, c, &out);
}

}  // namespace

BatchDerivation derive_batch_triple(const BatchKeys& keys, int64_t world, const std::string& source) {
  if (world < 1) throw std::invalid_argument("world size must be >= 1, got " + s(world));
  config_detail::Findings f{source, {}, {}};

  struct Given {
    const char* name;
    const std::optional<int64_t>& value;
    json::Position position;
  };
  for (const Given& g : {Given{kTrain, keys.train_batch_size, keys.train_position},
                         Given{kMicro, keys.micro_batch_per_gpu, keys.micro_position},
                         Given{kGas, keys.gradient_accumulation_steps, keys.gas_position}})
    if (g.value && *g.value <= 0) f.error(g.position, g.name, "has to be greater than 0, got " + s(*g.value));
  if (!keys.train_batch_size && !keys.micro_batch_per_gpu)
    f.error(keys.root_position, "",
            std::string("either ") + kTrain + " or " + kMicro + " must be given (DeepSpeed derives the rest" +
                (keys.gradient_accumulation_steps ? "; " + std::string(kGas) + " alone is not enough)" : ")"));
  f.throw_if_errors();

  BatchDerivation d;
  BatchTriple& t = d.triple;
  t.world_size = world;
  const auto train = keys.train_batch_size, micro = keys.micro_batch_per_gpu, gas = keys.gradient_accumulation_steps;
  const std::string w = s(world);
  json::Position derived_from = keys.train_position;  // where a derived value's inputs were written

  if (train && micro && gas) {
    t = {*train, *micro, *gas, world};
  } else if (train && micro) {
    t = {*train, *micro, *train / *micro / world, world};
    d.gas_how = std::string(kTrain) + " // " + kMicro + " // world_size = " + s(*train) + " // " + s(*micro) + " // " +
                w + " = " + s(t.gradient_accumulation_steps);
  } else if (train && gas) {
    t = {*train, *train / world / *gas, *gas, world};
    d.micro_how = std::string(kTrain) + " // world_size // " + kGas + " = " + s(*train) + " // " + w + " // " +
                  s(*gas) + " = " + s(t.micro_batch_per_gpu);
  } else if (micro && gas) {
    int64_t product = 0;
    if (!multiply(*micro, *gas, world, product))
      throw ConfigError(source, keys.micro_position, kMicro, "train_batch_size = " + s(*micro) + " * " + s(*gas) +
                                                                 " * " + w + " does not fit in 64 bits");
    t = {product, *micro, *gas, world};
    d.train_how = std::string(kMicro) + " * " + kGas + " * world_size = " + s(*micro) + " * " + s(*gas) + " * " + w +
                  " = " + s(product);
  } else if (train) {
    t = {*train, *train / world, 1, world};
    d.gas_how = std::string("1 when only ") + kTrain + " is given";
    d.micro_how = std::string(kTrain) + " // world_size = " + s(*train) + " // " + w + " = " + s(t.micro_batch_per_gpu);
  } else {
    int64_t product = 0;
    if (!multiply(*micro, 1, world, product))
      throw ConfigError(source, keys.micro_position, kMicro,
                        "train_batch_size = " + s(*micro) + " * " + w + " does not fit in 64 bits");
    t = {product, *micro, 1, world};
    d.gas_how = std::string("1 when only ") + kMicro + " is given";
    d.train_how = std::string(kMicro) + " * world_size = " + s(*micro) + " * " + w + " = " + s(product);
  }

  // A derived value can come out as 0 (train_batch_size smaller than micro * world).
  if (t.micro_batch_per_gpu <= 0)
    f.error(derived_from, kMicro, "derived as " + d.micro_how + ", which has to be greater than 0: " + kTrain +
                                      " must be at least world_size * " + kGas);
  if (t.gradient_accumulation_steps <= 0)
    f.error(derived_from, kGas, "derived as " + d.gas_how + ", which has to be greater than 0: " + kTrain +
                                    " must be at least " + kMicro + " * world_size = " +
                                    s(t.micro_batch_per_gpu * world));
  f.throw_if_errors();

  int64_t product = 0;
  if (!multiply(t.micro_batch_per_gpu, t.gradient_accumulation_steps, world, product) ||
      product != t.train_batch_size) {
    std::string notes;
    if (!d.micro_how.empty()) notes += "; " + std::string(kMicro) + " derived as " + d.micro_how;
    if (!d.gas_how.empty()) notes += "; " + std::string(kGas) + " derived as " + d.gas_how;
    f.error(keys.train_position, kTrain,
            std::string("must equal ") + kMicro + " * " + kGas + " * world_size: " + s(t.train_batch_size) +
                " != " + s(t.micro_batch_per_gpu) + " * " + s(t.gradient_accumulation_steps) + " * " + w + notes);
  }
  f.throw_if_errors();
  return d;
}

}  // namespace tandem
