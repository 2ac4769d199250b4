// GPU versions of the fused optimizer updates (optim/fused_update.h): one grid-stride kernel per
// update, float32 and float64, registered into the op registry as in-place kernels ("adam_update",
// "sgd_update", "sgd_velocity_update", "sgd_buffer_update") when a GPU is present. Each element goes through exactly the rounded operations of the CPU loop and of the op
// path (which runs one kernel per op, so each of its results is rounded to the dtype in memory), in
// the same order, so all three agree bitwise; tests/cpp/test_gpu_fused_update.cpp checks it.
//
// No FMA: nvcc contracts a*b + c into one fused multiply-add by default (-fmad=true), rounding once
// where the CPU (built with -ffp-contract=off) and the op path round twice. Every operation here is
// therefore an explicitly rounded intrinsic (__fmul_rn, __dadd_rn, ...), which the compiler never
// merges, whatever the flags. Division and square root use the IEEE round-to-nearest intrinsics too
// (__fdiv_rn, __fsqrt_rn, ...), so -prec-div/-prec-sqrt or fast-math could not change them either,
// and they equal the correctly rounded '/' and std::sqrt of the CPU. Marking the file -fmad=false
// would work as well, but would leave correctness to a build setting far from the code.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "cuda_common.cuh"
#include "rounded_math.cuh"

namespace pitfall::cuda {
namespace {

// state <- avg(state, x) in the form the convention writes it (core/cpu/update_kernels.cpp `average`).
template <bool Keras, class T>
__device__ __forceinline__ T average(T state, T x, T decay, T one_minus_decay) {
  if constexpr (Keras) return add_rn(state, mul_rn(sub_rn(x, state), one_minus_decay));
  else return add_rn(mul_rn(state, decay), mul_rn(x, one_minus_decay));
}

// The scalars rounded to T on the host exactly as the CPU loop rounds them (double -> T once; the
// complements 1 - beta and 1 - dampening computed in double first).
template <class T>
struct AdamScalars {
  T b1, c1, b2, c2;
  T a, eps;         // Keras: alpha, epsilon
  T sc2, size;      // PyTorch: sqrt_correction_2, step_size (eps shared)
};

template <bool Keras, bool TorchEpsilon, class T>
__global__ void adam_kernel(T* __restrict__ w, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v,
                            int64_t n, AdamScalars<T> s) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const T gi = g[i];
    const T mi = average<Keras>(m[i], gi, s.b1, s.c1);
    const T vi = average<Keras>(v[i], mul_rn(gi, gi), s.b2, s.c2);
    m[i] = mi;
    v[i] = vi;
    if constexpr (TorchEpsilon) {
      // w - (m / (sqrt(v)/sc2 + eps)) * size
      w[i] = sub_rn(w[i], mul_rn(div_rn(mi, add_rn(div_rn(sqrt_rn(vi), s.sc2), s.eps)), s.size));
    } else {
      // w - (m*a) / (sqrt(v) + eps)
      w[i] = sub_rn(w[i], div_rn(mul_rn(mi, s.a), add_rn(sqrt_rn(vi), s.eps)));
    }
  }
}

template <class T>
__global__ void sgd_kernel(T* __restrict__ w, const T* __restrict__ g, int64_t n, T rate) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    w[i] = sub_rn(w[i], mul_rn(g[i], rate));
  }
}

template <class T>
__global__ void sgd_velocity_kernel(T* __restrict__ w, const T* __restrict__ g, T* __restrict__ u, int64_t n,
                                    T rate, T mu, bool nesterov) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const T step = mul_rn(g[i], rate);
    const T ui = sub_rn(mul_rn(u[i], mu), step);
    u[i] = ui;
    w[i] = add_rn(w[i], nesterov ? sub_rn(mul_rn(ui, mu), step) : ui);
  }
}

template <class T>
__global__ void sgd_buffer_kernel(T* __restrict__ w, const T* __restrict__ g, T* __restrict__ b, int64_t n,
                                  bool first, T rate, T mu, T keep, bool nesterov) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const T gi = g[i];
    const T bi = first ? gi : add_rn(mul_rn(b[i], mu), mul_rn(gi, keep));
    b[i] = bi;
    const T direction = nesterov ? add_rn(gi, mul_rn(bi, mu)) : bi;
    w[i] = sub_rn(w[i], mul_rn(direction, rate));
  }
}

// ---- host side: typed pointers, scalars rounded to T, launch on pitfall's stream

template <class T>
T* data(const Tensor& t) {
  return static_cast<T*>(t.data_ptr());
}

// Calls fn(T{}) for the variable's dtype (fused::applies() admitted float32 and float64 only).
template <class Fn>
void with_type(const Tensor& w, const char* update, Fn&& fn) {
  if (w.dtype() == DType::float64) fn(double{});
  else if (w.dtype() == DType::float32) fn(float{});
  else throw DTypeError(std::string(update) + " on the GPU needs float32 or float64, got " +
                        std::string(dtype_name(w.dtype())) + "; reduced floats take the op-by-op update");
}

// inputs: g; outputs (in place): w, m, v.
void adam_update(const std::vector<Tensor>& in, std::vector<Tensor>& out, const Attrs& attrs) {
  const Attrs::Update& u = attrs.update;
  with_type(out[0], "adam_update", [&](auto zero) {
    using T = decltype(zero);
    const int64_t n = out[0].numel();
    if (n == 0) return;
    AdamScalars<T> s{};
    s.b1 = static_cast<T>(u.beta_1);
    s.c1 = static_cast<T>(1.0 - u.beta_1);
    s.b2 = static_cast<T>(u.beta_2);
    s.c2 = static_cast<T>(1.0 - u.beta_2);
    s.a = static_cast<T>(u.alpha);
    s.eps = static_cast<T>(u.epsilon);
    s.sc2 = static_cast<T>(u.sqrt_correction_2);
    s.size = static_cast<T>(u.step_size);
    const auto launch = [&](auto kernel) {
      kernel<<<blocks_for(n), kThreads, 0, stream()>>>(data<T>(out[0]), data<T>(in[0]), data<T>(out[1]),
                                                       data<T>(out[2]), n, s);
    };
    if (u.keras_arithmetic) {
      if (u.torch_epsilon) launch(adam_kernel<true, true, T>);
      else launch(adam_kernel<true, false, T>);
    } else {
      if (u.torch_epsilon) launch(adam_kernel<false, true, T>);
      else launch(adam_kernel<false, false, T>);
    }
    check_launch("adam_update kernel");
  });
}

// inputs: g; outputs (in place): w.
void sgd_update(const std::vector<Tensor>& in, std::vector<Tensor>& out, const Attrs& attrs) {
  with_type(out[0], "sgd_update", [&](auto zero) {
    using T = decltype(zero);
    const int64_t n = out[0].numel();
    if (n == 0) return;
    sgd_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(data<T>(out[0]), data<T>(in[0]), n,
                                                            static_cast<T>(attrs.update.learning_rate));
    check_launch("sgd_update kernel");
  });
}

// inputs: g; outputs (in place): w, velocity.
void sgd_velocity_update(const std::vector<Tensor>& in, std::vector<Tensor>& out, const Attrs& attrs) {
  const Attrs::Update& u = attrs.update;
  with_type(out[0], "sgd_velocity_update", [&](auto zero) {
    using T = decltype(zero);
    const int64_t n = out[0].numel();
    if (n == 0) return;
    sgd_velocity_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        data<T>(out[0]), data<T>(in[0]), data<T>(out[1]), n, static_cast<T>(u.learning_rate),
        static_cast<T>(u.momentum), u.nesterov);
    check_launch("sgd_velocity_update kernel");
  });
}

// inputs: g; outputs (in place): w, buffer.
void sgd_buffer_update(const std::vector<Tensor>& in, std::vector<Tensor>& out, const Attrs& attrs) {
  const Attrs::Update& u = attrs.update;
  with_type(out[0], "sgd_buffer_update", [&](auto zero) {
    using T = decltype(zero);
    const int64_t n = out[0].numel();
    if (n == 0) return;
    sgd_buffer_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        data<T>(out[0]), data<T>(in[0]), data<T>(out[1]), n, u.first, static_cast<T>(u.learning_rate),
        static_cast<T>(u.momentum), static_cast<T>(1.0 - u.dampening), u.nesterov);
    check_launch("sgd_buffer_update kernel");
  });
}

// Only with a GPU, as the op kernels: without one the tensors cannot be on the GPU anyway.
const bool registered = register_when_present([](OpRegistry& r) {
  r.add_kernel("adam_update", DeviceType::cuda, adam_update);
  r.add_kernel("sgd_update", DeviceType::cuda, sgd_update);
  r.add_kernel("sgd_velocity_update", DeviceType::cuda, sgd_velocity_update);
  r.add_kernel("sgd_buffer_update", DeviceType::cuda, sgd_buffer_update);
});

}  // namespace
}  // namespace pitfall::cuda
