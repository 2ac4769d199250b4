// CUDA kernels for the reductions (sum, max, min, argmax), the normalizing activations (softmax,
// log_softmax) and the fused sparse softmax cross-entropy with its gradient. Semantics are the CPU's
// (core/cpu/reduction_kernels.cpp): float sums accumulate in double and integer sums in int64,
// max/min/argmax keep the first NaN and the first of equal values, softmax shifts by the maximum.
//
// Geometry (core/shape.h reduce_geometry): the reduced axes are one adjacent run, so the input is
// (outer, R, inner). A long reduced run with few outputs is cut into `chunks` segments whose number
// depends only on the shape (never on the GPU model or timing); each segment is reduced in a fixed
// order (a thread walking it, or one block tree of a shape-fixed size) and the segments are then
// combined in segment order. Every output is therefore bitwise reproducible run to run. Only when
// op determinism is off do floating sums add their segments with atomicAdd instead: faster, and
// the order of the additions (so the last bits) changes run to run.
#include <cmath>
#include <cstdint>
#include <string>

#include "cuda_common.cuh"
#include "pitfall/core/device.h"
#include "pitfall/core/tensor.h"

namespace pitfall::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// Scalar helpers with the CPU's rounding points.

template <class C>
__device__ __forceinline__ bool is_nan(C v) {
  if constexpr (std::is_floating_point_v<C>) {
    return isnan(v);
  } else {
    return false;
  }
}

template <class C>
__device__ __forceinline__ C exp_of(C v) {
  if constexpr (std::is_same_v<C, float>) {
    return expf(v);
  } else {
    return exp(v);
  }
}

// double -> integer as the CPU's static_cast does on x86-64: a value outside the target's range
// (and NaN) becomes the "integer indefinite" minimum; uint8 goes through a 32-bit conversion and
// keeps the low byte. Integer sums finish through double on the CPU, so the GPU does the same.
template <class T>
__device__ __forceinline__ T integer_from_double(double d) {
  if constexpr (std::is_same_v<T, int64_t>) {
    return (d >= -9223372036854775808.0 && d < 9223372036854775808.0) ? static_cast<int64_t>(d) : INT64_MIN;
  } else {
    const int32_t wide = (d > -2147483649.0 && d < 2147483648.0) ? static_cast<int32_t>(d) : INT32_MIN;
    return static_cast<T>(wide);
  }
}

// double -> element with one rounding (core/cpu/scalar.h round_to_reduced): the half formats round
// to float with round-to-odd first, so the final round-to-nearest-even cannot round twice.
template <class T>
__device__ __forceinline__ T from_double(double d) {
  if constexpr (is_half_v<T>) {
    float f = static_cast<float>(d);
    if (isfinite(d) && static_cast<double>(f) != d) {
      f = __double2float_rz(d);
      f = __int_as_float(__float_as_int(f) | 1);
    }
    return narrow<T>(f);
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(d);
  } else {
    return integer_from_double<T>(d);
  }
}

// ---------------------------------------------------------------------------------------------
// Reducers: identity, the accumulator of one element, an associative combine, and the output.

// Floating sums in double, integer sums in int64 (the CPU's accumulators).
template <class T>
struct SumReducer {
  using Acc = std::conditional_t<is_floating_v<T>, double, int64_t>;
  using Out = T;
  static constexpr bool kAtomicCapable = is_floating_v<T>;
  __device__ static Acc identity() { return 0; }
  __device__ static Acc element(T v, int64_t) { return static_cast<Acc>(widen(v)); }
  __device__ static Acc combine(Acc earlier, Acc later) { return earlier + later; }
  __device__ static Out finish(Acc acc) {
    if constexpr (is_floating_v<T>) {
      return from_double<T>(acc);
    } else {
      return from_double<T>(static_cast<double>(acc));
    }
  }
};

// The winner of max / min / argmax with its index, so that combining partial results in any tree
// gives what the CPU's left-to-right scan gives: the first NaN if there is one, else the extreme
// value at its first occurrence (equal values, +0 and -0 included, keep the earlier index).
template <class C>
struct Extreme {
  C value;
  int64_t index;  // -1: nothing seen yet
  bool nan;
};

template <class C, bool IsMax>
__device__ __forceinline__ Extreme<C> combine_extreme(const Extreme<C>& a, const Extreme<C>& b) {
  if (a.index < 0) return b;
  if (b.index < 0) return a;
  const Extreme<C>& first = a.index < b.index ? a : b;
  const Extreme<C>& second = a.index < b.index ? b : a;
  if (first.nan) return first;
  if (second.nan) return second;
  return (IsMax ? second.value > first.value : second.value < first.value) ? second : first;
}

template <class T, bool IsMax, bool WantIndex>
struct ExtremeReducer {
  using C = compute_t<T>;
  using Acc = Extreme<C>;
  using Out = std::conditional_t<WantIndex, int64_t, T>;
  static constexpr bool kAtomicCapable = false;
  __device__ static Acc identity() { return Acc{C{}, -1, false}; }
  __device__ static Acc element(T v, int64_t r) {
    const C c = widen(v);
    return Acc{c, r, is_nan(c)};
  }
  __device__ static Acc combine(const Acc& a, const Acc& b) { return combine_extreme<C, IsMax>(a, b); }
  __device__ static Out finish(const Acc& acc) {
    if constexpr (WantIndex) {
      return acc.index < 0 ? 0 : acc.index;
    } else {
      return narrow<T>(acc.value);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Block tree over blockDim.x (a power of two) threads: a fixed shape for a given block size, so the
// combination order never changes. Returns the result in every thread.
template <class Acc, class Combine>
__device__ Acc block_reduce(Acc value, Acc* shared, Combine combine) {
  const unsigned t = threadIdx.x;
  shared[t] = value;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) shared[t] = combine(shared[t], shared[t + s]);
    __syncthreads();
  }
  const Acc result = shared[0];
  __syncthreads();  // the buffer may be reused right after
  return result;
}

// Threads per block for a run of `length` elements: a power of two from 32 to 256.
unsigned tree_threads(int64_t length) {
  unsigned threads = 32;
  while (threads < 256 && threads < length) threads *= 2;
  return threads;
}

// Grid for a grid-stride loop over `items` blocks.
unsigned grid_for(int64_t items) {
  return static_cast<unsigned>(items < 1 ? 1 : (items > (1 << 20) ? (1 << 20) : items));
}

constexpr int kMaxTreeThreads = 256;

// ---------------------------------------------------------------------------------------------
// The reduction kernels. Segment c of reduced run (o, i) covers r in [c*seg, min(R, (c+1)*seg)).
// Where a result goes:
//   chunks == 1            : finish -> out[o*inner + i]
//   chunks > 1, partials   : partial[c*outputs + (o*inner + i)], combined in order by finish_partials
//   chunks > 1, atomic     : atomicAdd into atomic_acc[o*inner + i], converted by finish_atomic

enum class Sink { direct, partials, atomic };

// inner == 1: one block per segment; threads stride over it, then the block tree.
template <class T, class Reducer, Sink S>
__global__ void reduce_rows_kernel(const T* __restrict__ x, typename Reducer::Out* __restrict__ out,
                                   typename Reducer::Acc* __restrict__ partial, double* __restrict__ atomic_acc,
                                   int64_t outer, int64_t reduced, int64_t chunks, int64_t seg) {
  using Acc = typename Reducer::Acc;
  __shared__ Acc shared[kMaxTreeThreads];
  const int64_t segments = outer * chunks;
  for (int64_t s = blockIdx.x; s < segments; s += gridDim.x) {
    const int64_t o = s / chunks, c = s % chunks;
    const int64_t begin = c * seg, end = begin + seg < reduced ? begin + seg : reduced;
    const T* row = x + o * reduced;
    Acc acc = Reducer::identity();
    for (int64_t r = begin + threadIdx.x; r < end; r += blockDim.x) {
      acc = Reducer::combine(acc, Reducer::element(row[r], r));
    }
    acc = block_reduce(acc, shared, [](const Acc& a, const Acc& b) { return Reducer::combine(a, b); });
    if (threadIdx.x == 0) {
      if constexpr (S == Sink::direct) {
        out[o] = Reducer::finish(acc);
      } else if constexpr (S == Sink::partials) {
        partial[c * outer + o] = acc;
      } else {
        atomicAdd(atomic_acc + o, static_cast<double>(acc));
      }
    }
  }
}

// inner > 1: one thread per (o, c, i) walking its segment in index order (with chunks == 1 this is
// exactly the CPU's order); consecutive threads read consecutive i.
template <class T, class Reducer, Sink S>
__global__ void reduce_columns_kernel(const T* __restrict__ x, typename Reducer::Out* __restrict__ out,
                                      typename Reducer::Acc* __restrict__ partial, double* __restrict__ atomic_acc,
                                      int64_t outer, int64_t reduced, int64_t inner, int64_t chunks, int64_t seg) {
  using Acc = typename Reducer::Acc;
  const int64_t outputs = outer * inner;
  const int64_t total = outputs * chunks;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = t % inner;
    const int64_t c = (t / inner) % chunks;
    const int64_t o = t / (inner * chunks);
    const int64_t begin = c * seg, end = begin + seg < reduced ? begin + seg : reduced;
    const T* column = x + o * reduced * inner + i;
    Acc acc = Reducer::identity();
    for (int64_t r = begin; r < end; ++r) acc = Reducer::combine(acc, Reducer::element(column[r * inner], r));
    const int64_t slot = o * inner + i;
    if constexpr (S == Sink::direct) {
      out[slot] = Reducer::finish(acc);
    } else if constexpr (S == Sink::partials) {
      partial[c * outputs + slot] = acc;
    } else {
      atomicAdd(atomic_acc + slot, static_cast<double>(acc));
    }
  }
}

// Combines each output's segments in segment order.
template <class Reducer>
__global__ void finish_partials_kernel(const typename Reducer::Acc* __restrict__ partial,
                                       typename Reducer::Out* __restrict__ out, int64_t outputs, int64_t chunks) {
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < outputs;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    typename Reducer::Acc acc = partial[t];
    for (int64_t c = 1; c < chunks; ++c) acc = Reducer::combine(acc, partial[c * outputs + t]);
    out[t] = Reducer::finish(acc);
  }
}

template <class Reducer>
__global__ void finish_atomic_kernel(const double* __restrict__ acc, typename Reducer::Out* __restrict__ out,
                                     int64_t outputs) {
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < outputs;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[t] = Reducer::finish(acc[t]);
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Segments per reduced run: enough parallel work for a GPU when the outputs alone are too few,
// never segments shorter than a block's worth of elements (rows) or 64 rows (columns). A function
// of the shape only, so the combination order is the same on every run and every GPU.
int64_t choose_chunks(const ReduceGeometry& g) {
  if (g.reduced <= 1) return 1;
  int64_t chunks;
  if (g.inner == 1) {
    chunks = std::min(ceil_div(g.reduced, 2048), ceil_div(512, g.outer));
  } else {
    chunks = std::min(ceil_div(g.reduced, 64), ceil_div(65536, g.outer * g.inner));
  }
  return std::max<int64_t>(1, chunks);
}

// Runs `Reducer` over x (outer, R, inner) into out (outer, inner).
template <class T, class Reducer>
void run_reduction(const Tensor& x, Tensor& out, const ReduceGeometry& g) {
  using Acc = typename Reducer::Acc;
  using Out = typename Reducer::Out;
  const int64_t outputs = g.outer * g.inner;
  if (outputs == 0) return;
  const T* src = static_cast<const T*>(x.data_ptr());
  Out* dst = static_cast<Out*>(out.data_ptr());
  const int64_t chunks = g.reduced == 0 ? 1 : choose_chunks(g);
  const int64_t seg = chunks == 1 ? g.reduced : ceil_div(g.reduced, chunks);
  const bool rows = g.inner == 1;
  auto launch = [&](auto sink, Acc* partial, double* atomic_acc) {
    constexpr Sink S = decltype(sink)::value;
    if (rows) {
      const unsigned threads = tree_threads(seg);
      reduce_rows_kernel<T, Reducer, S><<<grid_for(g.outer * chunks), threads, 0, stream()>>>(
          src, dst, partial, atomic_acc, g.outer, g.reduced, chunks, seg);
    } else {
      reduce_columns_kernel<T, Reducer, S><<<blocks_for(outputs * chunks), kThreads, 0, stream()>>>(
          src, dst, partial, atomic_acc, g.outer, g.reduced, g.inner, chunks, seg);
    }
    check_launch("reduction");
  };
  if (chunks == 1) {
    launch(std::integral_constant<Sink, Sink::direct>{}, nullptr, nullptr);
    return;
  }
  if constexpr (Reducer::kAtomicCapable) {
    if (!op_determinism_enabled()) {
      Tensor scratch = Tensor::empty({outputs}, DType::float64, out.device());
      double* acc = static_cast<double*>(scratch.data_ptr());
      check(cudaMemsetAsync(acc, 0, static_cast<size_t>(outputs) * sizeof(double), stream()), "cudaMemsetAsync");
      launch(std::integral_constant<Sink, Sink::atomic>{}, nullptr, acc);
      finish_atomic_kernel<Reducer><<<blocks_for(outputs), kThreads, 0, stream()>>>(acc, dst, outputs);
      check_launch("reduction finish");
      return;
    }
  }
  const int64_t bytes = outputs * chunks * static_cast<int64_t>(sizeof(Acc));
  Tensor scratch = Tensor::empty({bytes}, DType::uint8, out.device());
  Acc* partial = static_cast<Acc*>(scratch.data_ptr());
  launch(std::integral_constant<Sink, Sink::partials>{}, partial, nullptr);
  finish_partials_kernel<Reducer><<<blocks_for(outputs), kThreads, 0, stream()>>>(partial, dst, outputs, chunks);
  check_launch("reduction finish");
}

void sum_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_dtype(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError("sum of a bool tensor; cast it to int32 or float32 first");
    } else {
      run_reduction<T, SumReducer<T>>(in[0], out, reduce_geometry(in[0].shape(), attrs.axes));
    }
  });
}

template <bool IsMax>
void extreme_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_dtype(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError(std::string(IsMax ? "max" : "min") + " of a bool tensor; cast it to a numeric dtype first");
    } else {
      run_reduction<T, ExtremeReducer<T, IsMax, false>>(in[0], out, reduce_geometry(in[0].shape(), attrs.axes));
    }
  });
}

void argmax_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_dtype(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    run_reduction<T, ExtremeReducer<T, true, true>>(in[0], out, reduce_geometry(in[0].shape(), attrs.axes));
  });
}

// ---------------------------------------------------------------------------------------------
// softmax / log_softmax along attrs.axes[0], x viewed as (outer, R, inner). Per (o, i) run: the
// maximum (first NaN wins, as the CPU's scan), sum(exp(x - max)) in double, then each output
// rounded once from double.

template <class T, bool Log>
__device__ __forceinline__ T softmax_value(compute_t<T> shifted, double total) {
  if constexpr (Log) {
    return from_double<T>(static_cast<double>(shifted) - log(total));
  } else {
    return from_double<T>(static_cast<double>(exp_of(shifted)) / total);
  }
}

// inner == 1: one block per row, block trees of a size fixed by R.
template <class T, bool Log>
__global__ void softmax_rows_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int64_t reduced) {
  using C = compute_t<T>;
  using Max = Extreme<C>;
  __shared__ Max max_shared[kMaxTreeThreads];
  __shared__ double sum_shared[kMaxTreeThreads];
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * reduced;
    T* out = y + o * reduced;
    Max m{C{}, -1, false};
    for (int64_t r = threadIdx.x; r < reduced; r += blockDim.x) {
      const C v = widen(row[r]);
      m = combine_extreme<C, true>(m, Max{v, r, is_nan(v)});
    }
    m = block_reduce(m, max_shared, [](const Max& a, const Max& b) { return combine_extreme<C, true>(a, b); });
    double total = 0.0;
    for (int64_t r = threadIdx.x; r < reduced; r += blockDim.x) {
      total += static_cast<double>(exp_of(static_cast<C>(widen(row[r]) - m.value)));
    }
    total = block_reduce(total, sum_shared, [](double a, double b) { return a + b; });
    for (int64_t r = threadIdx.x; r < reduced; r += blockDim.x) {
      out[r] = softmax_value<T, Log>(static_cast<C>(widen(row[r]) - m.value), total);
    }
  }
}

// inner > 1: one thread per (o, i) column, scanning R in the CPU's order.
template <class T, bool Log>
__global__ void softmax_columns_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int64_t reduced,
                                       int64_t inner) {
  using C = compute_t<T>;
  const int64_t columns = outer * inner;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < columns;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = t / inner, i = t % inner;
    const T* column = x + o * reduced * inner + i;
    T* out = y + o * reduced * inner + i;
    C m = widen(column[0]);
    for (int64_t r = 1; r < reduced; ++r) {
      const C v = widen(column[r * inner]);
      if (v > m || is_nan(v)) m = is_nan(m) ? m : v;
    }
    double total = 0.0;
    for (int64_t r = 0; r < reduced; ++r) total += static_cast<double>(exp_of(static_cast<C>(widen(column[r * inner]) - m)));
    for (int64_t r = 0; r < reduced; ++r) {
      out[r * inner] = softmax_value<T, Log>(static_cast<C>(widen(column[r * inner]) - m), total);
    }
  }
}

template <bool Log>
void softmax_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_floating(in[0].dtype(), Log ? "log_softmax" : "softmax", [&](auto zero) {
    using T = decltype(zero);
    if (in[0].numel() == 0) return;
    const ReduceGeometry g = reduce_geometry(in[0].shape(), attrs.axes);
    const T* src = static_cast<const T*>(in[0].data_ptr());
    T* dst = static_cast<T*>(out.data_ptr());
    if (g.inner == 1) {
      softmax_rows_kernel<T, Log><<<grid_for(g.outer), tree_threads(g.reduced), 0, stream()>>>(src, dst, g.outer,
                                                                                               g.reduced);
    } else {
      softmax_columns_kernel<T, Log><<<blocks_for(g.outer * g.inner), kThreads, 0, stream()>>>(src, dst, g.outer,
                                                                                               g.reduced, g.inner);
    }
    check_launch(Log ? "log_softmax" : "softmax");
  });
}

// ---------------------------------------------------------------------------------------------
// sparse_softmax_cross_entropy over (rows, classes) logits and int32/int64 labels, and its gradient.
// Labels are checked on the device before any output is written; the first bad row (lowest index,
// whatever order the threads ran in) comes back to the host and is raised as the CPU raises it.

template <class Label>
__global__ void first_bad_label_kernel(const Label* __restrict__ labels, int64_t rows, int64_t classes,
                                       unsigned long long* __restrict__ first_bad) {
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t label = static_cast<int64_t>(labels[r]);
    if (label < 0 || label >= classes) atomicMin(first_bad, static_cast<unsigned long long>(r));
  }
}

template <class Label>
void check_labels(const Tensor& labels, int64_t rows, int64_t classes, const Device& device) {
  if (rows == 0) return;
  const Label* y = static_cast<const Label*>(labels.data_ptr());
  Tensor scratch = Tensor::empty({1}, DType::int64, device);
  auto* first_bad = static_cast<unsigned long long*>(scratch.data_ptr());
  check(cudaMemsetAsync(first_bad, 0xFF, sizeof(unsigned long long), stream()), "cudaMemsetAsync");
  first_bad_label_kernel<Label><<<blocks_for(rows), kThreads, 0, stream()>>>(y, rows, classes, first_bad);
  check_launch("sparse_softmax_cross_entropy label check");
  unsigned long long bad_row = 0;
  check(cudaMemcpyAsync(&bad_row, first_bad, sizeof bad_row, cudaMemcpyDeviceToHost, stream()), "cudaMemcpyAsync");
  synchronize();
  if (bad_row == ~0ULL) return;
  Label label = 0;
  check(cudaMemcpyAsync(&label, y + bad_row, sizeof label, cudaMemcpyDeviceToHost, stream()), "cudaMemcpyAsync");
  synchronize();
  throw IndexError("sparse_softmax_cross_entropy: label " + std::to_string(static_cast<int64_t>(label)) + " of row " +
                   std::to_string(bad_row) + " is outside the classes [0, " + std::to_string(classes) +
                   "); labels must be class indices 0.." + std::to_string(classes - 1));
}

// Maximum (first NaN wins) and sum(exp(x - max)) in double of one row, by the block.
template <class T>
struct RowNormalizer {
  compute_t<T> max;
  double total;
};

template <class T>
__device__ RowNormalizer<T> row_normalizer(const T* row, int64_t classes, Extreme<compute_t<T>>* max_shared,
                                           double* sum_shared) {
  using C = compute_t<T>;
  using Max = Extreme<C>;
  Max m{C{}, -1, false};
  for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) {
    const C v = widen(row[j]);
    m = combine_extreme<C, true>(m, Max{v, j, is_nan(v)});
  }
  m = block_reduce(m, max_shared, [](const Max& a, const Max& b) { return combine_extreme<C, true>(a, b); });
  double total = 0.0;
  for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) {
    total += static_cast<double>(exp_of(static_cast<C>(widen(row[j]) - m.value)));
  }
  total = block_reduce(total, sum_shared, [](double a, double b) { return a + b; });
  return {m.value, total};
}

template <class T, class Label>
__global__ void sparse_xent_kernel(const T* __restrict__ x, const Label* __restrict__ labels, T* __restrict__ loss,
                                   int64_t rows, int64_t classes) {
  using C = compute_t<T>;
  __shared__ Extreme<C> max_shared[kMaxTreeThreads];
  __shared__ double sum_shared[kMaxTreeThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * classes;
    const RowNormalizer<T> n = row_normalizer(row, classes, max_shared, sum_shared);
    if (threadIdx.x == 0) {
      const C shifted = static_cast<C>(widen(row[static_cast<int64_t>(labels[r])]) - n.max);
      loss[r] = from_double<T>(log(n.total) - static_cast<double>(shifted));
    }
  }
}

template <class T, class Label>
__global__ void sparse_xent_grad_kernel(const T* __restrict__ x, const Label* __restrict__ labels,
                                        const T* __restrict__ g, T* __restrict__ dx, int64_t rows, int64_t classes) {
  using C = compute_t<T>;
  __shared__ Extreme<C> max_shared[kMaxTreeThreads];
  __shared__ double sum_shared[kMaxTreeThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * classes;
    T* drow = dx + r * classes;
    const RowNormalizer<T> n = row_normalizer(row, classes, max_shared, sum_shared);
    const int64_t label = static_cast<int64_t>(labels[r]);
    const double scale = static_cast<double>(widen(g[r]));
    for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) {
      const double p = static_cast<double>(exp_of(static_cast<C>(widen(row[j]) - n.max))) / n.total;
      drow[j] = from_double<T>((p - (j == label ? 1.0 : 0.0)) * scale);
    }
  }
}

// Calls fn(Label{}, rows, classes) after the labels passed the check.
template <class Fn>
void with_checked_labels(const Tensor& logits, const Tensor& labels, const Device& device, Fn&& fn) {
  const int64_t classes = logits.shape().back();
  const int64_t rows = classes == 0 ? 0 : logits.numel() / classes;
  if (labels.dtype() == DType::int32) {
    check_labels<int32_t>(labels, rows, classes, device);
    fn(int32_t{}, rows, classes);
  } else if (labels.dtype() == DType::int64) {
    check_labels<int64_t>(labels, rows, classes, device);
    fn(int64_t{}, rows, classes);
  } else {
    throw DTypeError("sparse_softmax_cross_entropy: labels must be int32 or int64 class indices, got " +
                     std::string(dtype_name(labels.dtype())));
  }
}

void sparse_softmax_cross_entropy_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  visit_floating(in[0].dtype(), "sparse_softmax_cross_entropy", [&](auto zero) {
    using T = decltype(zero);
    with_checked_labels(in[0], in[1], out.device(), [&](auto label_zero, int64_t rows, int64_t classes) {
      using Label = decltype(label_zero);
      if (rows == 0) return;
      sparse_xent_kernel<T, Label><<<grid_for(rows), tree_threads(classes), 0, stream()>>>(
          static_cast<const T*>(in[0].data_ptr()), static_cast<const Label*>(in[1].data_ptr()),
          static_cast<T*>(out.data_ptr()), rows, classes);
      check_launch("sparse_softmax_cross_entropy");
    });
  });
}

void sparse_softmax_cross_entropy_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  visit_floating(in[0].dtype(), "sparse_softmax_cross_entropy_grad", [&](auto zero) {
    using T = decltype(zero);
    with_checked_labels(in[0], in[1], out.device(), [&](auto label_zero, int64_t rows, int64_t classes) {
      using Label = decltype(label_zero);
      if (rows == 0) return;
      sparse_xent_grad_kernel<T, Label><<<grid_for(rows), tree_threads(classes), 0, stream()>>>(
          static_cast<const T*>(in[0].data_ptr()), static_cast<const Label*>(in[1].data_ptr()),
          static_cast<const T*>(in[2].data_ptr()), static_cast<T*>(out.data_ptr()), rows, classes);
      check_launch("sparse_softmax_cross_entropy_grad");
    });
  });
}

const bool registered = register_when_present([](OpRegistry& r) {
  r.add_kernel("sum", DeviceType::cuda, sum_kernel);
  r.add_kernel("max", DeviceType::cuda, extreme_kernel<true>);
  r.add_kernel("min", DeviceType::cuda, extreme_kernel<false>);
  r.add_kernel("argmax", DeviceType::cuda, argmax_kernel);
  r.add_kernel("softmax", DeviceType::cuda, softmax_kernel<false>);
  r.add_kernel("log_softmax", DeviceType::cuda, softmax_kernel<true>);
  r.add_kernel("sparse_softmax_cross_entropy", DeviceType::cuda, sparse_softmax_cross_entropy_kernel);
  r.add_kernel("sparse_softmax_cross_entropy_grad", DeviceType::cuda, sparse_softmax_cross_entropy_grad_kernel);
});

}  // namespace
}  // namespace pitfall::cuda
