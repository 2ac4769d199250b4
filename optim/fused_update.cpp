#include "pitfall/optim/fused_update.h"

#include <atomic>
#include <cmath>
#include <type_traits>

#include "pitfall/core/registry.h"
#include "pitfall/core/threadpool.h"

namespace pitfall::fused {
namespace {

std::atomic<bool> fused_enabled{true};

// Elements per parallel block: fixed, so the split never depends on the thread count.
constexpr int64_t kBlock = 16384;

// Calls body(T*[...], begin, end) over the packed data of `tensors`, typed by their dtype.
template <class Body>
void for_blocks(const std::vector<Tensor>& tensors, Body body) {
  const int64_t n = tensors[0].numel();
  auto run = [&](auto zero) {
    using T = decltype(zero);
    std::vector<T*> data;
    for (const Tensor& t : tensors) data.push_back(static_cast<T*>(t.data_ptr()));
    parallel_for(n, kBlock, [&](int64_t begin, int64_t end) { body(data.data(), begin, end, zero); });
  };
  if (tensors[0].dtype() == DType::float64) run(double{});
  else run(float{});
}

// state <- avg(state, x), as the op path computes it in T.
template <bool Keras, class T>
inline T average(T state, T x, T decay, T one_minus_decay) {
  if constexpr (Keras) return state + (x - state) * one_minus_decay;
  else return state * decay + x * one_minus_decay;
}

// Runs body(std::bool_constant<keras>) so the averaging form is a compile-time choice and the loop
// body has no branch (it vectorizes).
template <class Body>
void with_form(bool keras, Body body) {
  if (keras) body(std::true_type{});
  else body(std::false_type{});
}

}  // namespace

void set_enabled(bool enabled) { fused_enabled.store(enabled); }
bool enabled() { return fused_enabled.load(); }

bool applies(const std::vector<Tensor>& tensors) {
  if (!enabled() || check_numerics_active() || tensors.empty()) return false;
  const DType dtype = tensors[0].dtype();
  if (dtype != DType::float32 && dtype != DType::float64) return false;
  for (const Tensor& t : tensors) {
    if (!t.defined() || t.dtype() != dtype || t.device().type != DeviceType::cpu || !t.is_contiguous() ||
        t.shape() != tensors[0].shape()) {
      return false;
    }
  }
  return true;
}

namespace {

// Adam's shared pass: the moments as the op path updates them, then w <- step(w, m, v) in T.
template <class Step>
void adam_pass(const Tensor& w, const Tensor& g, const AdamMoments& moments, Step step) {
  for_blocks({w, g, moments.m, moments.v}, [&](auto* const* p, int64_t begin, int64_t end, auto zero) {
    using T = decltype(zero);
    const T b1 = static_cast<T>(moments.beta_1), c1 = static_cast<T>(1.0 - moments.beta_1);
    const T b2 = static_cast<T>(moments.beta_2), c2 = static_cast<T>(1.0 - moments.beta_2);
    const auto update = step(zero);
    T *pw = p[0], *pg = p[1], *pm = p[2], *pv = p[3];
    with_form(moments.keras_arithmetic, [&](auto keras) {
      for (int64_t i = begin; i < end; ++i) {
        const T gi = pg[i];
        const T mi = average<keras()>(pm[i], gi, b1, c1);
        const T vi = average<keras()>(pv[i], gi * gi, b2, c2);
        pm[i] = mi;
        pv[i] = vi;
        pw[i] = update(pw[i], mi, vi);
      }
    });
  });
}

}  // namespace

void adam_keras(const Tensor& w, const Tensor& g, const AdamMoments& moments, double alpha, double epsilon) {
  adam_pass(w, g, moments, [&](auto zero) {
    using T = decltype(zero);
    const T a = static_cast<T>(alpha), eps = static_cast<T>(epsilon);
    return [a, eps](T wi, T mi, T vi) { return wi - (mi * a) / (std::sqrt(vi) + eps); };
  });
}

void adam_torch(const Tensor& w, const Tensor& g, const AdamMoments& moments, double sqrt_correction_2,
                double epsilon, double step_size) {
  adam_pass(w, g, moments, [&](auto zero) {
    using T = decltype(zero);
    const T sc2 = static_cast<T>(sqrt_correction_2), eps = static_cast<T>(epsilon), size = static_cast<T>(step_size);
    return [sc2, eps, size](T wi, T mi, T vi) { return wi - (mi / (std::sqrt(vi) / sc2 + eps)) * size; };
  });
}

void sgd(const Tensor& w, const Tensor& g, double lr) {
  for_blocks({w, g}, [&](auto* const* p, int64_t begin, int64_t end, auto zero) {
    using T = decltype(zero);
    const T rate = static_cast<T>(lr);
    T *pw = p[0], *pg = p[1];
    for (int64_t i = begin; i < end; ++i) pw[i] = pw[i] - pg[i] * rate;
  });
}

void sgd_velocity(const Tensor& w, const Tensor& g, const Tensor& u, double lr, double momentum, bool nesterov) {
  for_blocks({w, g, u}, [&](auto* const* p, int64_t begin, int64_t end, auto zero) {
    using T = decltype(zero);
    const T rate = static_cast<T>(lr), mu = static_cast<T>(momentum);
    T *pw = p[0], *pg = p[1], *pu = p[2];
    for (int64_t i = begin; i < end; ++i) {
      const T step = pg[i] * rate;
      const T ui = pu[i] * mu - step;
      pu[i] = ui;
      pw[i] = pw[i] + (nesterov ? ui * mu - step : ui);
    }
  });
}

void sgd_buffer(const Tensor& w, const Tensor& g, const Tensor& b, bool first, double lr, double momentum,
                double dampening, bool nesterov) {
  for_blocks({w, g, b}, [&](auto* const* p, int64_t begin, int64_t end, auto zero) {
    using T = decltype(zero);
    const T rate = static_cast<T>(lr), mu = static_cast<T>(momentum), keep = static_cast<T>(1.0 - dampening);
    T *pw = p[0], *pg = p[1], *pb = p[2];
    for (int64_t i = begin; i < end; ++i) {
      const T gi = pg[i];
      const T bi = first ? gi : pb[i] * mu + gi * keep;
      pb[i] = bi;
      const T direction = nesterov ? gi + bi * mu : bi;
      pw[i] = pw[i] - direction * rate;
    }
  });
}

}  // namespace pitfall::fused
