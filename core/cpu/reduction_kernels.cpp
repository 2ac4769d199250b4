// CPU kernels for reductions (sum, max, min, argmax, argmin, any, all) and the normalizing activations (softmax,
// log_softmax). Reduced axes arrive as one adjacent run (the front-end arranges that).
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "pitfall/core/cpu/kernels.h"
#include "pitfall/core/cpu/reduce.h"

namespace pitfall {
namespace {

// Floating sums accumulate in double (integers in int64) in index order: deterministic, and
// accurate enough that float32 results do not depend on the reduction length's rounding drift.
template <class T>
struct SumReducer {
  using Acc = std::conditional_t<is_float_v<T>, double, int64_t>;
  Acc init() const { return 0; }
  void step(Acc& acc, compute_t<T> v, int64_t) const { acc += static_cast<Acc>(v); }
  T finish(Acc acc, int64_t) const { return scalar_cast<T>(acc); }
};

void sum_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_dtype(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError("sum of a bool tensor; cast it to int32 or float32 first");
    } else {
      cpu::reduce_run<T, T>(in[0], out, reduce_geometry(in[0].shape(), attrs.axes), SumReducer<T>{});
    }
  });
}

// max / min: the first value seeds the accumulator; NaN propagates (once the accumulator is NaN no
// comparison replaces it, and a NaN value always replaces a number), as in NumPy.
template <class T, bool IsMax>
struct ExtremeReducer {
  using C = compute_t<T>;
  using Acc = C;
  Acc init() const { return C{}; }
  void step(Acc& acc, C v, int64_t r) const {
    if (r == 0) {
      acc = v;
      return;
    }
    if constexpr (is_float_v<T>) {
      if (std::isnan(static_cast<double>(acc))) return;
      if (std::isnan(static_cast<double>(v))) {
        acc = v;
        return;
      }
    }
    if (IsMax ? v > acc : v < acc) acc = v;
  }
  T finish(Acc acc, int64_t) const { return scalar_cast<T>(acc); }
};

template <bool IsMax>
void extreme_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_dtype(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError(std::string(IsMax ? "max" : "min") + " of a bool tensor; cast it to a numeric dtype first");
    } else {
      cpu::reduce_run<T, T>(in[0], out, reduce_geometry(in[0].shape(), attrs.axes), ExtremeReducer<T, IsMax>{});
    }
  });
}

// Index of the first maximum (IsMax) or minimum; the first NaN wins (NumPy's rule).
template <class T, bool IsMax>
struct ArgExtremeReducer {
  using C = compute_t<T>;
  struct Acc {
    C best{};
    int64_t index = 0;
    bool nan = false;
  };
  Acc init() const { return Acc{}; }
  void step(Acc& acc, C v, int64_t r) const {
    if (acc.nan) return;
    bool v_nan = false;
    if constexpr (is_float_v<T>) v_nan = std::isnan(static_cast<double>(v));
    if (r == 0 || v_nan || (IsMax ? v > acc.best : v < acc.best)) {
      acc.best = v;
      acc.index = r;
      acc.nan = v_nan;
    }
  }
  int64_t finish(Acc acc, int64_t) const { return acc.index; }
};

template <bool IsMax>
void arg_extreme_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_dtype(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    cpu::reduce_run<T, int64_t>(in[0], out, reduce_geometry(in[0].shape(), attrs.axes), ArgExtremeReducer<T, IsMax>{});
  });
}

// any / all over a bool input (the front-end casts other dtypes: nonzero is true). An empty
// reduction gives the identity: false for any, true for all.
template <bool IsAny>
struct LogicalReducer {
  using Acc = uint8_t;  // not bool: reduce_run keeps a std::vector<Acc>
  Acc init() const { return IsAny ? 0 : 1; }
  void step(Acc& acc, bool v, int64_t) const { acc = IsAny ? (acc || v) : (acc && v); }
  bool finish(Acc acc, int64_t) const { return acc != 0; }
};

template <bool IsAny>
void logical_reduce_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  if (in[0].dtype() != DType::bool_) throw DTypeError(std::string(IsAny ? "any" : "all") + ": the kernel takes bool input");
  cpu::reduce_run<bool, bool>(in[0], out, reduce_geometry(in[0].shape(), attrs.axes), LogicalReducer<IsAny>{});
}

// softmax / log_softmax along attrs.axes[0]. x viewed as (outer, R, inner); every (o, i) column is
// shifted by its maximum before exp, so any finite input gives finite output. Sums of exp
// accumulate in double in index order; each outer slice is computed the same way whatever thread
// runs it.
template <bool Log>
void softmax_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_floating(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    using C = compute_t<T>;
    if (in[0].numel() == 0) return;
    const ReduceGeometry g = reduce_geometry(in[0].shape(), attrs.axes);
    const T* src = static_cast<const T*>(in[0].data_ptr());
    T* dst = static_cast<T*>(out.data_ptr());
    const int64_t slice = std::max<int64_t>(1, g.reduced * g.inner);
    const int64_t block = std::max<int64_t>(1, 65536 / slice);
    parallel_for(g.outer, block, [&](int64_t begin, int64_t end) {
      std::vector<C> maxes(static_cast<size_t>(g.inner));
      std::vector<double> sums(static_cast<size_t>(g.inner));
      for (int64_t o = begin; o < end; ++o) {
        const T* x = src + o * slice;
        T* y = dst + o * slice;
        for (int64_t i = 0; i < g.inner; ++i) maxes[i] = static_cast<C>(x[i]);
        for (int64_t r = 1; r < g.reduced; ++r) {
          for (int64_t i = 0; i < g.inner; ++i) {
            const C v = static_cast<C>(x[r * g.inner + i]);
            if (v > maxes[i] || std::isnan(v)) maxes[i] = std::isnan(maxes[i]) ? maxes[i] : v;
          }
        }
        std::fill(sums.begin(), sums.end(), 0.0);
        for (int64_t r = 0; r < g.reduced; ++r) {
          for (int64_t i = 0; i < g.inner; ++i) {
            sums[i] += static_cast<double>(std::exp(static_cast<C>(x[r * g.inner + i]) - maxes[i]));
          }
        }
        for (int64_t r = 0; r < g.reduced; ++r) {
          for (int64_t i = 0; i < g.inner; ++i) {
            const C shifted = static_cast<C>(x[r * g.inner + i]) - maxes[i];
            if constexpr (Log) {
              y[r * g.inner + i] = scalar_cast<T>(static_cast<double>(shifted) - std::log(sums[i]));
            } else {
              y[r * g.inner + i] = scalar_cast<T>(static_cast<double>(std::exp(shifted)) / sums[i]);
            }
          }
        }
      }
    });
  });
}

}  // namespace

// sparse_softmax_cross_entropy over (rows, classes) logits and int32/int64 labels, and its gradient.
// Per row, as softmax_kernel: the maximum, then sum(exp(x - max)) accumulated in double in class
// order; loss = log(sum) - (x[label] - max). The gradient recomputes both and writes
// (exp(x - max) / sum - [j == label]) * g. Rows are independent: any thread split gives the same bits.
template <class Label>
int64_t checked_label(const Label* labels, int64_t row, int64_t classes) {
  const int64_t label = static_cast<int64_t>(labels[row]);
  if (label < 0 || label >= classes) {
    throw IndexError("sparse_softmax_cross_entropy: label " + std::to_string(label) + " of row " +
                     std::to_string(row) + " is outside the classes [0, " + std::to_string(classes) +
                     "); labels must be class indices 0.." + std::to_string(classes - 1));
  }
  return label;
}

template <class Fn>
void for_each_row_with_label(const Tensor& logits, const Tensor& labels, Fn&& fn) {
  const int64_t classes = logits.shape().back();
  const int64_t rows = classes == 0 ? 0 : logits.numel() / classes;
  auto run = [&](auto label_zero) {
    using Label = decltype(label_zero);
    const Label* y = static_cast<const Label*>(labels.data_ptr());
    for (int64_t r = 0; r < rows; ++r) checked_label(y, r, classes);  // before any output is written
    parallel_for(rows, std::max<int64_t>(1, 65536 / classes), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) fn(r, static_cast<int64_t>(y[r]), classes);
    });
  };
  if (labels.dtype() == DType::int32) {
    run(int32_t{});
  } else {
    run(int64_t{});
  }
}

// max and sum(exp(x - max)) of one row, as softmax_kernel computes them.
template <class T, class C = compute_t<T>>
std::pair<C, double> row_normalizer(const T* x, int64_t classes) {
  C m = static_cast<C>(x[0]);
  for (int64_t j = 1; j < classes; ++j) {
    const C v = static_cast<C>(x[j]);
    if (v > m || std::isnan(v)) m = std::isnan(m) ? m : v;
  }
  double total = 0.0;
  for (int64_t j = 0; j < classes; ++j) total += static_cast<double>(std::exp(static_cast<C>(x[j]) - m));
  return {m, total};
}

void sparse_softmax_cross_entropy_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  visit_floating(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    using C = compute_t<T>;
    const T* x = static_cast<const T*>(in[0].data_ptr());
    T* loss = static_cast<T*>(out.data_ptr());
    for_each_row_with_label(in[0], in[1], [&](int64_t r, int64_t label, int64_t classes) {
      const T* row = x + r * classes;
      const auto [m, total] = row_normalizer<T>(row, classes);
      const C shifted = static_cast<C>(row[label]) - m;
      loss[r] = scalar_cast<T>(std::log(total) - static_cast<double>(shifted));
    });
  });
}

void sparse_softmax_cross_entropy_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  visit_floating(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    using C = compute_t<T>;
    const T* x = static_cast<const T*>(in[0].data_ptr());
    const T* g = static_cast<const T*>(in[2].data_ptr());
    T* dx = static_cast<T*>(out.data_ptr());
    for_each_row_with_label(in[0], in[1], [&](int64_t r, int64_t label, int64_t classes) {
      const T* row = x + r * classes;
      T* drow = dx + r * classes;
      const auto [m, total] = row_normalizer<T>(row, classes);
      const double scale = static_cast<double>(static_cast<C>(g[r]));
      for (int64_t j = 0; j < classes; ++j) {
        const double p = static_cast<double>(std::exp(static_cast<C>(row[j]) - m)) / total;
        drow[j] = scalar_cast<T>((p - (j == label ? 1.0 : 0.0)) * scale);
      }
    });
  });
}

void register_cpu_reduction_kernels(OpRegistry& r) {
  r.add_kernel("sparse_softmax_cross_entropy", DeviceType::cpu, sparse_softmax_cross_entropy_kernel);
  r.add_kernel("sparse_softmax_cross_entropy_grad", DeviceType::cpu, sparse_softmax_cross_entropy_grad_kernel);
  r.add_kernel("sum", DeviceType::cpu, sum_kernel);
  r.add_kernel("max", DeviceType::cpu, extreme_kernel<true>);
  r.add_kernel("min", DeviceType::cpu, extreme_kernel<false>);
  r.add_kernel("argmax", DeviceType::cpu, arg_extreme_kernel<true>);
  r.add_kernel("argmin", DeviceType::cpu, arg_extreme_kernel<false>);
  r.add_kernel("any", DeviceType::cpu, logical_reduce_kernel<true>);
  r.add_kernel("all", DeviceType::cpu, logical_reduce_kernel<false>);
  r.add_kernel("softmax", DeviceType::cpu, softmax_kernel<false>);
  r.add_kernel("log_softmax", DeviceType::cpu, softmax_kernel<true>);
}

}  // namespace pitfall
