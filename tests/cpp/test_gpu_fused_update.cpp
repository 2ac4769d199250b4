// The GPU's fused optimizer loops (cuda/fused_update.cu) against the GPU's op-by-op update and
// against the CPU's fused loops: bitwise equal over several steps, for every update form (Adam in
// both conventions and both averaging forms, AdamW, SGD plain, Keras momentum, PyTorch momentum with
// its first step, dampening and nesterov), float32 and float64, and odd sizes (1 element; 1000003,
// which leaves a partial block and makes every thread of the grid-stride loop take several
// elements). Driven through the optimizers' apply path as tests/cpp/test_fused_update.cpp does for
// the CPU, and directly through fused:: with the same scalars on both devices. On a machine without
// a GPU the cases are skipped with a message.
#include <doctest/doctest.h>

#include <pitfall/optim/fused_update.h>
#include <pitfall/pitfall.h>

#include <string>
#include <vector>

#include "optimizer_test_util.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

const Device kCpu{};
const Device kGpu{DeviceType::cuda, 0};

bool has_gpu() { return device_count(DeviceType::cuda) > 0; }

struct FusedScope {
  explicit FusedScope(bool enabled) : saved(fused::enabled()) { fused::set_enabled(enabled); }
  ~FusedScope() { fused::set_enabled(saved); }
  bool saved;
};

// Same shape, dtype and bytes, wherever the two tensors live.
bool same_bits(const Tensor& a, const Tensor& b) {
  return pitfall::testing::bitwise_equal(a.to(kCpu), b.to(kCpu));
}

const std::vector<Shape> kShapes = {{1}, {1000003}, {37, 29}};
constexpr int kSteps = 5;

// Starting values and per-step gradients, drawn once on the CPU so every run starts from the same
// bits on either device.
struct Problem {
  std::vector<Tensor> variables;
  std::vector<std::vector<Tensor>> grads;  // [step][variable]
};

Problem make_problem(DType dtype) {
  Problem p;
  for (size_t i = 0; i < kShapes.size(); ++i) p.variables.push_back(random_normal(kShapes[i], 0, 1, dtype, RandomKey{17, i}));
  for (int t = 0; t < kSteps; ++t) {
    std::vector<Tensor> step;
    for (size_t i = 0; i < kShapes.size(); ++i) {
      // Gradients spanning several orders of magnitude, both signs, and exact zeros.
      Tensor g = random_normal(kShapes[i], 0, 1, dtype, RandomKey{static_cast<uint64_t>(300 + t), i});
      g = multiply(g, exp(random_uniform(kShapes[i], -8, 3, dtype, RandomKey{static_cast<uint64_t>(400 + t), i})));
      step.push_back(where(greater(g, Tensor::full({}, 2.0, dtype)), Tensor::full({}, 0.0, dtype), g));
    }
    p.grads.push_back(step);
  }
  return p;
}

// Copies of the problem's tensors on `device` (never aliases of them: the updates write in place).
std::vector<Tensor> placed(const std::vector<Tensor>& tensors, const Device& device) {
  std::vector<Tensor> out;
  for (const Tensor& t : tensors) out.push_back(t.clone().to(device));
  return out;
}

// Trains the problem's variables on `device` with the fused loops on or off; returns the variables
// and every slot, on the CPU.
std::vector<Tensor> train(const std::string& name, const Json& arguments, Convention convention, const Problem& p,
                          const Device& device, bool fused_on) {
  FusedScope scope(fused_on);
  auto optimizer = make_optimizer(name, arguments, convention);
  const std::vector<Tensor> variables = placed(p.variables, device);
  if (fused_on) REQUIRE(fused::applies({variables[1], variables[1], variables[1], variables[1]}));
  for (const auto& grads : p.grads) optimizer->apply_gradients(placed(grads, device), variables);
  std::vector<Tensor> out;
  for (const Tensor& v : variables) out.push_back(v.to(kCpu));
  for (const auto& [key, tensor] : optimizer->state_tensors()) {
    CHECK(tensor.device() == device);
    out.push_back(tensor.to(kCpu));
  }
  return out;
}

// The optimizers compute their scalars (learning rate, Keras's Adam step size) on the CPU for every
// device, so the GPU's updates must equal the CPU's bit for bit.
void check_gpu_fused(const std::string& name, const Json& arguments, Convention convention) {
  for (DType dtype : {DType::float32, DType::float64}) {
    CAPTURE(dtype_name(dtype));
    const Problem p = make_problem(dtype);
    const std::vector<Tensor> gpu_fused = train(name, arguments, convention, p, kGpu, true);
    const std::vector<Tensor> gpu_ops = train(name, arguments, convention, p, kGpu, false);
    const std::vector<Tensor> cpu_fused = train(name, arguments, convention, p, kCpu, true);
    REQUIRE(gpu_fused.size() == gpu_ops.size());
    REQUIRE(gpu_fused.size() == cpu_fused.size());
    REQUIRE(gpu_fused.size() >= kShapes.size());
    for (size_t i = 0; i < gpu_fused.size(); ++i) {
      CAPTURE(i);
      CHECK(same_bits(gpu_fused[i], gpu_ops[i]));
      CHECK(same_bits(gpu_fused[i], cpu_fused[i]));
    }
    // The updates really happened: every variable moved.
    for (size_t i = 0; i < kShapes.size(); ++i) CHECK_FALSE(same_bits(gpu_fused[i], p.variables[i]));
  }
}

// ---- direct calls: the same scalars on both devices, so the kernels alone decide the bits

// Runs `update(tensors)` kSteps times on each device on copies of `start` (tensor 1 is the
// gradient, replaced each step), and requires the GPU's tensors to equal the CPU's bitwise after
// every step.
template <class Update>
void check_direct(const std::vector<Tensor>& start, const std::vector<std::vector<Tensor>>& grads, Update update) {
  std::vector<Tensor> cpu = placed(start, kCpu), gpu = placed(start, kGpu);
  REQUIRE(fused::applies(gpu));
  REQUIRE_FALSE(fused::applies({cpu[0], gpu[1]}));  // one device per update
  for (int t = 0; t < kSteps; ++t) {
    CAPTURE(t);
    cpu[1] = grads[t][0].clone();
    gpu[1] = grads[t][0].to(kGpu);
    update(cpu, t);
    update(gpu, t);
    for (size_t i = 0; i < cpu.size(); ++i) {
      CAPTURE(i);
      CHECK(same_bits(gpu[i], cpu[i]));
    }
  }
}

void check_direct_all_forms(DType dtype, const Shape& shape) {
  const Tensor w = random_normal(shape, 0, 1, dtype, RandomKey{23, 1});
  // Slots start away from zero so the first step already exercises every term.
  const Tensor m = multiply(random_normal(shape, 0, 1, dtype, RandomKey{23, 2}), 0.1);
  const Tensor v = abs(multiply(random_normal(shape, 0, 1, dtype, RandomKey{23, 3}), 0.01));
  std::vector<std::vector<Tensor>> grads;
  for (int t = 0; t < kSteps; ++t) {
    Tensor g = random_normal(shape, 0, 1, dtype, RandomKey{static_cast<uint64_t>(500 + t), 0});
    grads.push_back({multiply(g, exp(random_uniform(shape, -8, 3, dtype, RandomKey{static_cast<uint64_t>(600 + t), 0})))});
  }
  for (bool keras_arithmetic : {true, false}) {
    CAPTURE(keras_arithmetic);
    {
      INFO("adam_keras");
      check_direct({w, w, m, v}, grads, [&](std::vector<Tensor>& x, int t) {
        fused::adam_keras(x[0], x[1], {x[2], x[3], keras_arithmetic, 0.9, 0.999}, 1e-3 * (t + 1), 1e-7);
      });
    }
    {
      INFO("adam_torch");
      check_direct({w, w, m, v}, grads, [&](std::vector<Tensor>& x, int t) {
        fused::adam_torch(x[0], x[1], {x[2], x[3], keras_arithmetic, 0.8, 0.99}, 0.3 + 0.1 * t, 1e-8, 1e-2 / (t + 1));
      });
    }
  }
  {
    INFO("sgd");
    check_direct({w, w}, grads, [](std::vector<Tensor>& x, int t) { fused::sgd(x[0], x[1], 0.1 / (t + 1)); });
  }
  for (bool nesterov : {false, true}) {
    CAPTURE(nesterov);
    {
      INFO("sgd_velocity");
      check_direct({w, w, m}, grads, [&](std::vector<Tensor>& x, int t) {
        fused::sgd_velocity(x[0], x[1], x[2], 0.05 * (t + 1), 0.9, nesterov);
      });
    }
    {
      // The first step copies the gradient into the buffer; dampening only without nesterov (as SGD requires).
      INFO("sgd_buffer");
      check_direct({w, w, m}, grads, [&](std::vector<Tensor>& x, int t) {
        fused::sgd_buffer(x[0], x[1], x[2], t == 0, 0.1, 0.9, nesterov ? 0.0 : 0.3, nesterov);
      });
    }
  }
}

}  // namespace

TEST_SUITE("gpu fused_update") {
  TEST_CASE("GPU fused Adam equals the GPU op path and the CPU, Keras convention") {
    if (!has_gpu()) {
      MESSAGE("no GPU on this machine (device_count(cuda) == 0): GPU fused update cases skipped");
      return;
    }
    check_gpu_fused("adam", object(), Convention::keras);
    check_gpu_fused("adam", object({{"learning_rate", 0.05}, {"beta_1", 0.5}, {"epsilon", 1e-3}}), Convention::keras);
    check_gpu_fused("adamw", object(), Convention::keras);
  }

  TEST_CASE("GPU fused Adam equals the GPU op path and the CPU, PyTorch convention and AdamW") {
    if (!has_gpu()) {
      MESSAGE("no GPU on this machine (device_count(cuda) == 0): GPU fused update cases skipped");
      return;
    }
    check_gpu_fused("adam", object(), Convention::torch);
    check_gpu_fused("adamw", object({{"weight_decay", 0.1}}), Convention::torch);
  }

  TEST_CASE("GPU fused SGD equals the GPU op path and the CPU: plain, momentum, nesterov, dampening") {
    if (!has_gpu()) {
      MESSAGE("no GPU on this machine (device_count(cuda) == 0): GPU fused update cases skipped");
      return;
    }
    for (Convention convention : {Convention::keras, Convention::torch}) {
      CAPTURE(convention_name(convention));
      check_gpu_fused("sgd", object({{"learning_rate", 0.1}}), convention);
      check_gpu_fused("sgd", object({{"learning_rate", 0.1}, {"momentum", 0.9}}), convention);
      check_gpu_fused("sgd", object({{"learning_rate", 0.1}, {"momentum", 0.9}, {"nesterov", true}}), convention);
    }
    check_gpu_fused("sgd", object({{"learning_rate", 0.1}, {"momentum", 0.9}, {"dampening", 0.3}}),
                    Convention::torch);
  }

  TEST_CASE("the GPU fused kernels equal the CPU loops bitwise given the same scalars") {
    if (!has_gpu()) {
      MESSAGE("no GPU on this machine (device_count(cuda) == 0): GPU fused update cases skipped");
      return;
    }
    for (DType dtype : {DType::float32, DType::float64}) {
      for (const Shape& shape : kShapes) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(shape_str(shape));
        check_direct_all_forms(dtype, shape);
      }
    }
  }

  TEST_CASE("the fused loops take GPU tensors only when they share one device") {
    if (!has_gpu()) {
      MESSAGE("no GPU on this machine (device_count(cuda) == 0): GPU fused update cases skipped");
      return;
    }
    const Tensor w = Tensor::zeros({4, 3}, DType::float32, kGpu);
    CHECK(fused::applies({w, w}));
    CHECK_FALSE(fused::applies({w, Tensor::zeros({4, 3})}));                         // CPU and GPU mixed
    CHECK_FALSE(fused::applies({Tensor::zeros({4, 3}, DType::float16, kGpu)}));      // rounds after every op
    CHECK_FALSE(fused::applies({w, transpose(Tensor::zeros({3, 4}, DType::float32, kGpu), {1, 0})}));  // strided
    {
      CheckNumericsScope numerics(true);
      CHECK_FALSE(fused::applies({w, w}));
    }
    FusedScope off(false);
    CHECK_FALSE(fused::applies({w, w}));
  }
}
