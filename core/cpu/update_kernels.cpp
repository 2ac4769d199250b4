// The fused optimizer updates on the CPU (optim/fused_update.h has the contract and the formulas):
// kernels that update the variable and its slots in place in one pass, float32 and float64.
//
// Each loop performs, per element, exactly the operations of the op-by-op update, in the same order
// and in the variable's dtype (the scalars rounded to it once, as the op path's scalar tensors are),
// so the two paths agree bitwise (tests/cpp/test_fused_update.cpp). Elements are independent and
// the blocks fixed, so the result depends neither on the thread count nor on the split.
#include <cmath>
#include <type_traits>

#include "pitfall/core/cpu/kernels.h"
#include "pitfall/core/threadpool.h"

namespace pitfall {
namespace {

// Elements per parallel block: fixed, so the split never depends on the thread count.
constexpr int64_t kBlock = 16384;

// Calls body(T*[...], begin, end, T{}) over the packed data of `tensors`, typed by their dtype.
template <class Body>
void for_blocks(const std::vector<Tensor>& tensors, const char* op, Body body) {
  const DType dtype = tensors.at(0).dtype();
  if (dtype != DType::float32 && dtype != DType::float64) {
    throw DTypeError(std::string(op) + ": the fused update takes float32 or float64 tensors, got " +
                     std::string(dtype_name(dtype)) + "; reduced floats take the op-by-op update");
  }
  const int64_t n = tensors[0].numel();
  auto run = [&](auto zero) {
    using T = decltype(zero);
    std::vector<T*> data;
    for (const Tensor& t : tensors) data.push_back(static_cast<T*>(t.data_ptr()));
    parallel_for(n, kBlock, [&](int64_t begin, int64_t end) { body(data.data(), begin, end, zero); });
  };
  if (dtype == DType::float64) run(double{});
  else run(float{});
}

// state <- avg(state, x), as the op path computes it in T (optim/optimizer.h moving_average).
template <bool Keras, class T>
inline T average(T state, T x, T decay, T one_minus_decay) {
  if constexpr (Keras) return state + (x - state) * one_minus_decay;
  else return state * decay + x * one_minus_decay;
}

// Runs body(std::bool_constant<flag>) so a choice is made at compile time and the loop body has no
// branch (it vectorizes).
template <class Body>
void with_flag(bool flag, Body body) {
  if (flag) body(std::true_type{});
  else body(std::false_type{});
}

// inputs: g; outputs (in place): w, m, v.
void adam_update_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const Attrs& attrs) {
  const Attrs::Update& u = attrs.update;
  for_blocks({out[0], in[0], out[1], out[2]}, "adam_update", [&](auto* const* p, int64_t begin, int64_t end, auto zero) {
    using T = decltype(zero);
    const T b1 = static_cast<T>(u.beta_1), c1 = static_cast<T>(1.0 - u.beta_1);
    const T b2 = static_cast<T>(u.beta_2), c2 = static_cast<T>(1.0 - u.beta_2);
    const T eps = static_cast<T>(u.epsilon), a = static_cast<T>(u.alpha);
    const T sc2 = static_cast<T>(u.sqrt_correction_2), size = static_cast<T>(u.step_size);
    T *pw = p[0], *pg = p[1], *pm = p[2], *pv = p[3];
    with_flag(u.keras_arithmetic, [&](auto keras) {
      with_flag(u.torch_epsilon, [&](auto torch_epsilon) {
        for (int64_t i = begin; i < end; ++i) {
          const T gi = pg[i];
          const T mi = average<keras()>(pm[i], gi, b1, c1);
          const T vi = average<keras()>(pv[i], gi * gi, b2, c2);
          pm[i] = mi;
          pv[i] = vi;
          if constexpr (torch_epsilon()) {
            pw[i] = pw[i] - (mi / (std::sqrt(vi) / sc2 + eps)) * size;
          } else {
            pw[i] = pw[i] - (mi * a) / (std::sqrt(vi) + eps);
          }
        }
      });
    });
  });
}

// inputs: g; outputs (in place): w.
void sgd_update_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const Attrs& attrs) {
  for_blocks({out[0], in[0]}, "sgd_update", [&](auto* const* p, int64_t begin, int64_t end, auto zero) {
    using T = decltype(zero);
    const T rate = static_cast<T>(attrs.update.learning_rate);
    T *pw = p[0], *pg = p[1];
    for (int64_t i = begin; i < end; ++i) pw[i] = pw[i] - pg[i] * rate;
  });
}

// inputs: g; outputs (in place): w, velocity.
void sgd_velocity_update_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const Attrs& attrs) {
  const Attrs::Update& u = attrs.update;
  for_blocks({out[0], in[0], out[1]}, "sgd_velocity_update", [&](auto* const* p, int64_t begin, int64_t end, auto zero) {
    using T = decltype(zero);
    const T rate = static_cast<T>(u.learning_rate), mu = static_cast<T>(u.momentum);
    T *pw = p[0], *pg = p[1], *pu = p[2];
    for (int64_t i = begin; i < end; ++i) {
      const T step = pg[i] * rate;
      const T ui = pu[i] * mu - step;
      pu[i] = ui;
      pw[i] = pw[i] + (u.nesterov ? ui * mu - step : ui);
    }
  });
}

// inputs: g; outputs (in place): w, buffer.
void sgd_buffer_update_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const Attrs& attrs) {
  const Attrs::Update& u = attrs.update;
  for_blocks({out[0], in[0], out[1]}, "sgd_buffer_update", [&](auto* const* p, int64_t begin, int64_t end, auto zero) {
    using T = decltype(zero);
    const T rate = static_cast<T>(u.learning_rate), mu = static_cast<T>(u.momentum);
    const T keep = static_cast<T>(1.0 - u.dampening);
    T *pw = p[0], *pg = p[1], *pb = p[2];
    for (int64_t i = begin; i < end; ++i) {
      const T gi = pg[i];
      const T bi = u.first ? gi : pb[i] * mu + gi * keep;
      pb[i] = bi;
      const T direction = u.nesterov ? gi + bi * mu : bi;
      pw[i] = pw[i] - direction * rate;
    }
  });
}

}  // namespace

void register_cpu_update_kernels(OpRegistry& r) {
  r.add_kernel("adam_update", DeviceType::cpu, adam_update_kernel);
  r.add_kernel("sgd_update", DeviceType::cpu, sgd_update_kernel);
  r.add_kernel("sgd_velocity_update", DeviceType::cpu, sgd_velocity_update_kernel);
  r.add_kernel("sgd_buffer_update", DeviceType::cpu, sgd_buffer_update_kernel);
}

}  // namespace pitfall
