// Every op on the GPU against the CPU: each gradcheck case (tests/cpp/gradcheck_cases.h; every
// differentiable op has one) runs on both devices in float64, float32, float16 and bfloat16,
// forward and backward, and the results must agree (float64 within 1e-12 relative, float32 within
// 1e-5, the 16-bit formats within 8 units of their epsilon, all against the larger of the value
// and 1). On a machine without a GPU the cases are skipped with a message.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

bool has_gpu() { return device_count(DeviceType::cuda) > 0; }

// Largest |a - b| / max(|b|, 1) over the elements (both moved to the CPU as float64), with the
// first offending index; NaN where one side is NaN and the other is not.
std::pair<double, int64_t> worst_difference(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = cast(a.to(Device{}), DType::float64).to_vector<double>();
  const std::vector<double> y = cast(b.to(Device{}), DType::float64).to_vector<double>();
  double worst = 0.0;
  int64_t at = -1;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    const double d = std::isnan(x[i]) != std::isnan(y[i]) ? INFINITY : std::fabs(x[i] - y[i]) / std::max(std::fabs(y[i]), 1.0);
    if (d > worst || (std::isnan(d) && !std::isnan(worst))) {
      worst = d;
      at = static_cast<int64_t>(i);
    }
  }
  return {worst, at};
}

struct Run {
  Tensor out;
  std::vector<Tensor> grads;  // per input (undefined for integer inputs)
};

// Runs a case on `device` with floating inputs cast to `dtype`: forward, then backward of
// sum(out * w) for a fixed weighting w (so every output element's gradient path counts).
Run run_case(const pitfall::testing::GradcheckCase& c, const std::vector<Tensor>& inputs, DType dtype, Device device) {
  std::vector<Tensor> placed;
  for (const Tensor& t : inputs) {
    Tensor v = is_floating(t.dtype()) ? cast(t, dtype) : t;
    v = v.to(device);
    if (is_floating(v.dtype())) v.set_requires_grad(true);
    placed.push_back(v);
  }
  Run run;
  run.out = c.fn(placed);
  if (is_floating(run.out.dtype()) && run.out.requires_grad()) {
    const Tensor w = cast(random_uniform(run.out.shape(), 0.5, 1.5, DType::float64, RandomKey{91, 3}), run.out.dtype())
                         .to(device);
    sum(multiply(run.out, w)).backward();
  }
  for (const Tensor& v : placed) run.grads.push_back(v.requires_grad() ? v.grad() : Tensor());
  return run;
}

// The GPU run's output and gradients against the CPU run's, each within `tolerance` (relative to
// the larger of the value and 1).
void check_parity(const Run& cpu, const Run& gpu_run, const std::string& what, double tolerance) {
  REQUIRE(gpu_run.out.device() == Device{DeviceType::cuda, 0});
  REQUIRE(gpu_run.out.dtype() == cpu.out.dtype());
  REQUIRE(gpu_run.out.shape() == cpu.out.shape());
  const auto [forward, at] = worst_difference(gpu_run.out, cpu.out);
  INFO(what << ": forward differs by " << forward << " (relative) at element " << at);
  CHECK(forward <= tolerance);
  for (size_t i = 0; i < cpu.grads.size(); ++i) {
    if (!cpu.grads[i].defined()) continue;
    REQUIRE(gpu_run.grads[i].defined());
    CHECK(gpu_run.grads[i].device() == gpu_run.out.device());
    const auto [backward, bat] = worst_difference(gpu_run.grads[i], cpu.grads[i]);
    INFO("gradient of input " << i << " differs by " << backward << " at element " << bat);
    CHECK(backward <= tolerance);
  }
}

std::string case_name(const pitfall::testing::GradcheckCase& c, DType dtype) {
  return c.op + " [" + c.label + "] " + std::string(dtype_name(dtype));
}

}  // namespace

TEST_SUITE("gpu parity") {
  TEST_CASE("every op's forward and backward on the GPU match the CPU in float64 and float32") {
    if (!has_gpu()) {
      MESSAGE("no GPU on this machine (device_count(cuda) == 0): GPU parity cases skipped");
      return;
    }
    const Device gpu{DeviceType::cuda, 0};
    for (const auto& c : gradcheck_cases()) {
      for (DType dtype : {DType::float64, DType::float32}) {
        const double tolerance = dtype == DType::float64 ? 1e-12 : 1e-5;
        SUBCASE((c.op + " / " + c.label + " / " + std::string(dtype_name(dtype))).c_str()) {
          const std::vector<Tensor> inputs = c.inputs();
          check_parity(run_case(c, inputs, dtype, Device{}), run_case(c, inputs, dtype, gpu), case_name(c, dtype),
                       tolerance);
        }
      }
    }
  }

  TEST_CASE("every op's forward and backward on the GPU match the CPU in float16 and bfloat16, within the format") {
    if (!has_gpu()) {
      MESSAGE("no GPU on this machine (device_count(cuda) == 0): GPU half-precision parity cases skipped");
      return;
    }
    // Both devices compute the 16-bit formats in float and round each op's result once, at the same
    // points; a float result that differs in its last bits (a transcendental function) can round to
    // the neighbouring 16-bit value, and later ops carry that on. 8 units of the format's epsilon
    // (float16 2^-10, bfloat16 2^-7) relative to max(|value|, 1) allows that and nothing coarser.
    const Device gpu{DeviceType::cuda, 0};
    for (const auto& c : gradcheck_cases()) {
      for (DType dtype : {DType::float16, DType::bfloat16}) {
        const double tolerance = 8.0 * (dtype == DType::float16 ? 0x1p-10 : 0x1p-7);
        SUBCASE((c.op + " / " + c.label + " / " + std::string(dtype_name(dtype))).c_str()) {
          const std::vector<Tensor> inputs = c.inputs();
          Run cpu;
          try {
            cpu = run_case(c, inputs, dtype, Device{});
          } catch (const Error& e) {
            // Not defined for this format on the CPU: the GPU must refuse it too, with the same kind.
            INFO(case_name(c, dtype) << " raised on the CPU: " << e.what());
            try {
              run_case(c, inputs, dtype, gpu);
              FAIL("the GPU accepted what the CPU refused");
            } catch (const Error& g) {
              CHECK(g.kind() == e.kind());
            }
            continue;
          }
          check_parity(cpu, run_case(c, inputs, dtype, gpu), case_name(c, dtype), tolerance);
        }
      }
    }
  }

  TEST_CASE("deterministic mode makes GPU results bitwise-stable run to run") {
    if (!has_gpu()) {
      MESSAGE("no GPU on this machine: skipped");
      return;
    }
    set_op_determinism(true);
    const Device gpu{DeviceType::cuda, 0};
    for (const auto& c : gradcheck_cases()) {
      SUBCASE((c.op + " / " + c.label).c_str()) {
        const std::vector<Tensor> inputs = c.inputs();
        const Run a = run_case(c, inputs, DType::float32, gpu);
        const Run b = run_case(c, inputs, DType::float32, gpu);
        CHECK(pitfall::testing::bitwise_equal(a.out.to(Device{}), b.out.to(Device{})));
        for (size_t i = 0; i < a.grads.size(); ++i) {
          if (a.grads[i].defined()) CHECK(pitfall::testing::bitwise_equal(a.grads[i].to(Device{}), b.grads[i].to(Device{})));
        }
      }
    }
    set_op_determinism(false);
  }
}
