// CPU kernels for conv2d, its two adjoints, and pooling. Shapes (NHWC):
//   conv2d                 x (N, H, W, C), kernel (KH, KW, C, O)   -> out (N, OH, OW, O)
//   conv2d_backprop_input  grad (N, OH, OW, O), kernel             -> dx (N, H, W, C)
//   conv2d_backprop_filter x, grad (N, OH, OW, O)                  -> dkernel (KH, KW, C, O)
//   avg_pool2d             x (N, H, W, C)                          -> out (N, OH, OW, C)
//   avg_pool2d_grad        grad (N, OH, OW, C)                     -> dx (N, H, W, C)
//   max_pool2d             x (N, H, W, C)                          -> out (N, OH, OW, C)
//   max_pool2d_grad        grad (N, OH, OW, C), x                  -> dx (N, H, W, C)
//   max_pool2d_argmax      x (N, H, W, C)                          -> int64 flat index (N, OH, OW, C)
// Attrs::axes = {KH, KW, stride_h, stride_w, pad_top, pad_left}.
//
// Convolution is im2col + GEMM: the output positions (N*OH*OW rows) are cut into row chunks whose
// size depends only on the shapes; a chunk's patches are unrolled into a (rows, KH*KW*C) buffer and
// multiplied by the kernel viewed as a (KH*KW*C, O) matrix, one single-threaded GEMM per chunk.
// Determinism for any thread count (threadpool.h): every element is computed by one fixed sequence
// of operations whichever thread runs its block.
//  - backprop_input scatters each chunk's patch gradients back (col2im); tasks own whole images, so
//    no two threads write the same element, and within an image rows scatter in increasing order.
//  - backprop_filter reduces over all rows: a fixed number of groups (kFilterGroups, not the thread
//    count) each accumulate an even share of consecutive chunks into a partial kernel gradient, and
//    the partials are added in group order.
// Scratch buffers (im2col columns, partial sums) are per-thread and reused across calls, so the
// steady state of a training loop allocates none.
// float16 / bfloat16 are widened to float32, computed there, and rounded once.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>
#ifdef PITFALL_USE_OPENBLAS
#include <cblas.h>
#endif

#include "pitfall/core/cpu/kernels.h"
#include "pitfall/core/cpu/scalar.h"
#include "pitfall/core/threadpool.h"

namespace pitfall {
namespace {

// Geometry of one sliding-window op, read from the operands' shapes and the attrs.
using Geometry = WindowGeometry;

Geometry geometry(const Shape& input, const Shape& output, const Attrs& attrs) {
  return window_geometry(input, output, attrs.window);
}

// Rows per im2col chunk: about 2^16 buffer elements (256 KiB of float32, fits L2; 2^18 measured no
// faster, bench/README.md "Conv2D"), at least 16 rows.
int64_t chunk_rows(const Geometry& g) {
  return std::max<int64_t>(16, (int64_t{1} << 16) / std::max<int64_t>(1, g.patch()));
}

template <class C>
using RowMatrix = Eigen::Matrix<C, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// out (m, n) = beta * out + op(a) (m, k) @ op(b) (k, n), row-major, on the calling thread.
// op(a) = a^T when trans_a (a stored (k, m)), op(b) = b^T when trans_b (b stored (n, k)).
template <class C>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const C* a, int64_t lda, const C* b,
          int64_t ldb, C beta, C* out, int64_t ldc) {
  if (m == 0 || n == 0) return;
#ifdef PITFALL_USE_OPENBLAS
  {
    // Parallelism comes from our fixed chunks; OpenBLAS's own pool would make the split depend on
    // its thread count.
    static std::once_flag single_threaded;
    std::call_once(single_threaded, [] { openblas_set_num_threads(1); });
    const auto ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
    const auto bm = static_cast<blasint>(m), bn = static_cast<blasint>(n), bk = static_cast<blasint>(k);
    const auto la = static_cast<blasint>(lda), lb = static_cast<blasint>(ldb), lc = static_cast<blasint>(ldc);
    if constexpr (std::is_same_v<C, float>) {
      cblas_sgemm(CblasRowMajor, ta, tb, bm, bn, bk, 1.0f, a, la, b, lb, beta, out, lc);
    } else {
      cblas_dgemm(CblasRowMajor, ta, tb, bm, bn, bk, 1.0, a, la, b, lb, beta, out, lc);
    }
    return;
  }
#endif
  using Stride = Eigen::OuterStride<>;
  using ConstMap = Eigen::Map<const RowMatrix<C>, 0, Stride>;
  Eigen::Map<RowMatrix<C>, 0, Stride> result(out, m, n, Stride(ldc));
  if (beta == C(0)) result.setZero();
  if (k == 0) return;
  if (trans_a && trans_b) {
    result.noalias() += ConstMap(a, k, m, Stride(lda)).transpose() * ConstMap(b, n, k, Stride(ldb)).transpose();
  } else if (trans_a) {
    result.noalias() += ConstMap(a, k, m, Stride(lda)).transpose() * ConstMap(b, k, n, Stride(ldb));
  } else if (trans_b) {
    result.noalias() += ConstMap(a, m, k, Stride(lda)) * ConstMap(b, n, k, Stride(ldb)).transpose();
  } else {
    result.noalias() += ConstMap(a, m, k, Stride(lda)) * ConstMap(b, k, n, Stride(ldb));
  }
}

// Unrolls the patches of output rows [r0, r1) into col (r1 - r0, patch), zeros where the window
// hangs over the padding. In NHWC one window row is kw * c consecutive inputs, so a row wholly in
// bounds is one copy.
template <class C>
void im2col(const C* x, const Geometry& g, int64_t r0, int64_t r1, C* col) {
  const int64_t patch = g.patch(), span = g.kw * g.c;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t n = r / (g.oh * g.ow), oy = r / g.ow % g.oh, ox = r % g.ow;
    const int64_t ix0 = ox * g.sw - g.pad_left;
    C* dst = col + (r - r0) * patch;
    for (int64_t ky = 0; ky < g.kh; ++ky, dst += span) {
      const int64_t iy = oy * g.sh - g.pad_top + ky;
      if (iy < 0 || iy >= g.h) {
        std::fill(dst, dst + span, C(0));
        continue;
      }
      const C* src_row = x + (n * g.h + iy) * g.w * g.c;
      if (ix0 >= 0 && ix0 + g.kw <= g.w) {
        std::copy(src_row + ix0 * g.c, src_row + ix0 * g.c + span, dst);
        continue;
      }
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const int64_t ix = ix0 + kx;
        C* to = dst + kx * g.c;
        if (ix < 0 || ix >= g.w) std::fill(to, to + g.c, C(0));
        else std::copy(src_row + ix * g.c, src_row + (ix + 1) * g.c, to);
      }
    }
  }
}

// Adds the patch gradients of output rows [r0, r1) (dcol, (r1 - r0, patch)) into dx, rows in
// increasing order (the fixed summation order for overlapping windows); the adjoint of im2col.
template <class C>
void col2im_add(const C* dcol, const Geometry& g, int64_t r0, int64_t r1, C* dx) {
  const int64_t patch = g.patch(), span = g.kw * g.c;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t n = r / (g.oh * g.ow), oy = r / g.ow % g.oh, ox = r % g.ow;
    const int64_t ix0 = ox * g.sw - g.pad_left;
    const C* src = dcol + (r - r0) * patch;
    for (int64_t ky = 0; ky < g.kh; ++ky, src += span) {
      const int64_t iy = oy * g.sh - g.pad_top + ky;
      if (iy < 0 || iy >= g.h) continue;
      C* dst_row = dx + (n * g.h + iy) * g.w * g.c;
      if (ix0 >= 0 && ix0 + g.kw <= g.w) {
        C* to = dst_row + ix0 * g.c;
        for (int64_t i = 0; i < span; ++i) to[i] += src[i];
        continue;
      }
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const int64_t ix = ix0 + kx;
        if (ix < 0 || ix >= g.w) continue;
        C* to = dst_row + ix * g.c;
        const C* from = src + kx * g.c;
        for (int64_t ch = 0; ch < g.c; ++ch) to[ch] += from[ch];
      }
    }
  }
}

// A per-thread scratch buffer reused across calls (its contents are scratch, never results).
template <class C>
C* scratch(size_t size, int slot = 0) {
  thread_local std::vector<C> buffers[2];
  std::vector<C>& buffer = buffers[slot];
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}

// A 1x1 window with stride 1 and no padding reads x itself as the im2col matrix.
bool is_pointwise(const Geometry& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pad_top == 0 && g.pad_left == 0 && g.oh == g.h &&
         g.ow == g.w;
}

// Operands as the compute type: a pointer to the data when T == C, else a widened copy.
template <class C, class T>
struct Widened {
  std::vector<C> storage;
  const C* data;
  explicit Widened(const Tensor& t) {
    const T* src = static_cast<const T*>(t.data_ptr());
    if constexpr (std::is_same_v<C, T>) {
      data = src;
    } else {
      storage.resize(static_cast<size_t>(t.numel()));
      for (size_t i = 0; i < storage.size(); ++i) storage[i] = static_cast<C>(src[i]);
      data = storage.data();
    }
  }
};

// Runs fn(C* out) writing the result in C, then stores it into `out` (rounding once when T != C).
template <class C, class T, class Fn>
void with_output(Tensor& out, Fn&& fn) {
  T* dst = static_cast<T*>(out.data_ptr());
  if constexpr (std::is_same_v<C, T>) {
    fn(dst);
  } else {
    std::vector<C> buffer(static_cast<size_t>(out.numel()));
    fn(buffer.data());
    for (size_t i = 0; i < buffer.size(); ++i) dst[i] = static_cast<T>(buffer[i]);
  }
}

template <class Fn>
void visit_conv_dtype(DType dtype, Fn&& fn) {
  visit_floating(dtype, [&](auto zero) {
    using T = decltype(zero);
    fn(T{}, compute_t<T>{});
  });
}

// ---- conv2d

template <class C>
void conv2d_forward(const C* x, const C* kernel, C* out, const Geometry& g, int64_t out_channels) {
  const int64_t rows = g.rows(), patch = g.patch();
  if (rows == 0 || out_channels == 0) return;
  const int64_t chunk = chunk_rows(g);
  const int64_t chunks = (rows + chunk - 1) / chunk;
  const bool pointwise = is_pointwise(g);
  parallel_for(chunks, 1, [&](int64_t begin, int64_t end) {
    C* col = pointwise ? nullptr : scratch<C>(static_cast<size_t>(chunk * patch));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t r0 = t * chunk, r1 = std::min(rows, r0 + chunk);
      const C* a = x + r0 * patch;
      if (!pointwise) {
        im2col(x, g, r0, r1, col);
        a = col;
      }
      gemm<C>(false, false, r1 - r0, out_channels, patch, a, patch, kernel, out_channels, C(0),
              out + r0 * out_channels, out_channels);
    }
  });
}

void conv2d_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Geometry g = geometry(in[0].shape(), out.shape(), attrs);
  visit_conv_dtype(out.dtype(), [&](auto t_zero, auto c_zero) {
    using T = decltype(t_zero);
    using C = decltype(c_zero);
    const Widened<C, T> x(in[0]), kernel(in[1]);
    with_output<C, T>(out, [&](C* dst) {
      if (g.patch() == 0) std::fill(dst, dst + out.numel(), C(0));
      else conv2d_forward<C>(x.data, kernel.data, dst, g, out.dim(3));
    });
  });
}

// ---- conv2d_backprop_input: dcol = grad @ kernel^T per chunk, then col2im.

template <class C>
void conv2d_input_grad(const C* grad, const C* kernel, C* dx, const Geometry& g, int64_t out_channels) {
  const int64_t patch = g.patch(), per_image = g.oh * g.ow, image = g.h * g.w * g.c;
  if (per_image == 0 || patch == 0) {
    std::fill(dx, dx + g.n * image, C(0));
    return;
  }
  const int64_t chunk = chunk_rows(g);
  // Tasks own whole images, about one chunk of rows each.
  const int64_t images_per_task = std::max<int64_t>(1, chunk / per_image);
  const int64_t tasks = (g.n + images_per_task - 1) / images_per_task;
  const int64_t dcol_rows = std::min(chunk, images_per_task * per_image);
  parallel_for(tasks, 1, [&](int64_t begin, int64_t end) {
    C* dcol = scratch<C>(static_cast<size_t>(dcol_rows * patch));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t image_end = std::min(g.n, (t + 1) * images_per_task);
      std::fill(dx + t * images_per_task * image, dx + image_end * image, C(0));
      const int64_t row_end = image_end * per_image;
      for (int64_t r0 = t * images_per_task * per_image; r0 < row_end; r0 += dcol_rows) {
        const int64_t r1 = std::min(row_end, r0 + dcol_rows);
        gemm<C>(false, true, r1 - r0, patch, out_channels, grad + r0 * out_channels, out_channels, kernel,
                out_channels, C(0), dcol, patch);
        col2im_add(dcol, g, r0, r1, dx);
      }
    }
  });
}

void conv2d_backprop_input_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Geometry g = geometry(out.shape(), in[0].shape(), attrs);
  visit_conv_dtype(out.dtype(), [&](auto t_zero, auto c_zero) {
    using T = decltype(t_zero);
    using C = decltype(c_zero);
    const Widened<C, T> grad(in[0]), kernel(in[1]);
    with_output<C, T>(out, [&](C* dst) { conv2d_input_grad<C>(grad.data, kernel.data, dst, g, in[0].dim(3)); });
  });
}

// ---- conv2d_backprop_filter: dkernel = sum over chunks of col^T @ grad, in fixed groups.

constexpr int64_t kFilterGroups = 16;

template <class C>
void conv2d_filter_grad(const C* x, const C* grad, C* dkernel, const Geometry& g, int64_t out_channels) {
  const int64_t rows = g.rows(), patch = g.patch(), size = patch * out_channels;
  std::fill(dkernel, dkernel + size, C(0));
  if (rows == 0 || size == 0) return;
  const int64_t chunk = chunk_rows(g);
  const int64_t chunks = (rows + chunk - 1) / chunk;
  const int64_t groups = std::min(chunks, kFilterGroups);
  const bool pointwise = is_pointwise(g);
  // Group grp sums chunks [first_chunk(grp), first_chunk(grp + 1)): an even split, so that threads
  // taking runs of groups get equal work.
  auto first_chunk = [&](int64_t grp) { return grp * chunks / groups; };
  C* partial = scratch<C>(static_cast<size_t>(groups * size), 1);
  parallel_for(groups, 1, [&](int64_t begin, int64_t end) {
    C* col = pointwise ? nullptr : scratch<C>(static_cast<size_t>(chunk * patch));
    for (int64_t grp = begin; grp < end; ++grp) {
      C* acc = partial + grp * size;
      const int64_t first = first_chunk(grp), last = first_chunk(grp + 1);
      for (int64_t t = first; t < last; ++t) {
        const int64_t r0 = t * chunk, r1 = std::min(rows, r0 + chunk);
        const C* a = x + r0 * patch;
        if (!pointwise) {
          im2col(x, g, r0, r1, col);
          a = col;
        }
        gemm<C>(true, false, patch, out_channels, r1 - r0, a, patch, grad + r0 * out_channels, out_channels,
                t == first ? C(0) : C(1), acc, out_channels);
      }
    }
  });
  // Every group holds at least one chunk (groups <= chunks); add in group order.
  for (int64_t grp = 0; grp < groups; ++grp) {
    const C* p = partial + grp * size;
    for (int64_t i = 0; i < size; ++i) dkernel[i] += p[i];
  }
}

void conv2d_backprop_filter_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Geometry g = geometry(in[0].shape(), in[1].shape(), attrs);
  visit_conv_dtype(out.dtype(), [&](auto t_zero, auto c_zero) {
    using T = decltype(t_zero);
    using C = decltype(c_zero);
    const Widened<C, T> x(in[0]), grad(in[1]);
    with_output<C, T>(out, [&](C* dst) { conv2d_filter_grad<C>(x.data, grad.data, dst, g, out.dim(3)); });
  });
}

// ---- pooling. Work is split by (image, output row) for the forward ops and (image, input row) for
// the gradient, so each task writes disjoint rows.

// The in-bounds part [lo, hi) of the window starting at `start` of size k over [0, size).
inline void clamp_window(int64_t start, int64_t k, int64_t size, int64_t& lo, int64_t& hi) {
  lo = std::max<int64_t>(start, 0);
  hi = std::min<int64_t>(start + k, size);
}

// The in-bounds rows [y0, y1) and columns [x0, x1) of one pooling window.
struct WindowBounds {
  int64_t y0, y1, x0, x1;
};

// Calls fn(n, oy, ox, window) for every output position of output rows [begin, end), where
// row = image * OH + oy, in increasing order.
template <class Fn>
void for_each_window(const Geometry& g, int64_t begin, int64_t end, Fn fn) {
  for (int64_t row = begin; row < end; ++row) {
    const int64_t n = row / g.oh, oy = row % g.oh;
    WindowBounds w{};
    clamp_window(oy * g.sh - g.pad_top, g.kh, g.h, w.y0, w.y1);
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      clamp_window(ox * g.sw - g.pad_left, g.kw, g.w, w.x0, w.x1);
      fn(n, oy, ox, w);
    }
  }
}

// Rows per parallel block: about 2^14 elements of work.
int64_t pool_block(int64_t work_per_row) { return std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, work_per_row)); }

void avg_pool2d_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Geometry g = geometry(in[0].shape(), out.shape(), attrs);
  visit_floating(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    using C = compute_t<T>;
    const T* x = static_cast<const T*>(in[0].data_ptr());
    T* y = static_cast<T*>(out.data_ptr());
    parallel_for(g.n * g.oh, pool_block(g.ow * g.c * g.kh * g.kw), [&](int64_t begin, int64_t end) {
      std::vector<C> sum(static_cast<size_t>(g.c));
      for_each_window(g, begin, end, [&](int64_t n, int64_t oy, int64_t ox, const WindowBounds& w) {
        std::fill(sum.begin(), sum.end(), C(0));
        for (int64_t iy = w.y0; iy < w.y1; ++iy) {
          for (int64_t ix = w.x0; ix < w.x1; ++ix) {
            const T* src = x + ((n * g.h + iy) * g.w + ix) * g.c;
            for (int64_t ch = 0; ch < g.c; ++ch) sum[ch] += static_cast<C>(src[ch]);
          }
        }
        const C count = static_cast<C>((w.y1 - w.y0) * (w.x1 - w.x0));
        T* dst = y + ((n * g.oh + oy) * g.ow + ox) * g.c;
        for (int64_t ch = 0; ch < g.c; ++ch) dst[ch] = static_cast<T>(sum[ch] / count);
      });
    });
  });
}

// The output positions [lo, hi] along one axis whose windows contain input position i.
inline void covering_outputs(int64_t i, int64_t pad, int64_t k, int64_t s, int64_t out_size, int64_t& lo,
                             int64_t& hi) {
  // o * s - pad <= i <= o * s - pad + k - 1
  const int64_t num = i + pad - k + 1;
  lo = num <= 0 ? 0 : (num + s - 1) / s;
  hi = std::min<int64_t>((i + pad) / s, out_size - 1);
}

// Gathers, for every input element, the gradients of the windows that cover it (in increasing
// output order), each divided by its window's in-bounds count: the exact adjoint of avg_pool2d.
void avg_pool2d_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Geometry g = geometry(out.shape(), in[0].shape(), attrs);
  visit_floating(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    using C = compute_t<T>;
    const T* grad = static_cast<const T*>(in[0].data_ptr());
    T* dx = static_cast<T*>(out.data_ptr());
    std::vector<int64_t> count_y(static_cast<size_t>(g.oh)), count_x(static_cast<size_t>(g.ow));
    for (int64_t o = 0; o < g.oh; ++o) {
      int64_t lo, hi;
      clamp_window(o * g.sh - g.pad_top, g.kh, g.h, lo, hi);
      count_y[o] = hi - lo;
    }
    for (int64_t o = 0; o < g.ow; ++o) {
      int64_t lo, hi;
      clamp_window(o * g.sw - g.pad_left, g.kw, g.w, lo, hi);
      count_x[o] = hi - lo;
    }
    parallel_for(g.n * g.h, pool_block(g.w * g.c * g.kh * g.kw), [&](int64_t begin, int64_t end) {
      std::vector<C> sum(static_cast<size_t>(g.c));
      for (int64_t row = begin; row < end; ++row) {
        const int64_t n = row / g.h, iy = row % g.h;
        int64_t oy0, oy1;
        covering_outputs(iy, g.pad_top, g.kh, g.sh, g.oh, oy0, oy1);
        for (int64_t ix = 0; ix < g.w; ++ix) {
          int64_t ox0, ox1;
          covering_outputs(ix, g.pad_left, g.kw, g.sw, g.ow, ox0, ox1);
          std::fill(sum.begin(), sum.end(), C(0));
          for (int64_t oy = oy0; oy <= oy1; ++oy) {
            for (int64_t ox = ox0; ox <= ox1; ++ox) {
              const C count = static_cast<C>(count_y[oy] * count_x[ox]);
              const T* src = grad + ((n * g.oh + oy) * g.ow + ox) * g.c;
              for (int64_t ch = 0; ch < g.c; ++ch) sum[ch] += static_cast<C>(src[ch]) / count;
            }
          }
          T* dst = dx + ((n * g.h + iy) * g.w + ix) * g.c;
          for (int64_t ch = 0; ch < g.c; ++ch) dst[ch] = static_cast<T>(sum[ch]);
        }
      }
    });
  });
}

// Scans one window row by row and leaves, per channel, the FIRST maximum's value in best and, when
// kTrackPixel, its pixel (iy * w + ix within the image) in pixel. Strictly greater replaces, so ties
// keep the first maximum; a NaN replaces any number once, so NaNs propagate (and the first NaN
// wins). Written as selects so that the channel loop vectorizes. Windows always hold at least one
// input (TF's padding never exceeds the window).
template <bool kTrackPixel, class T, class C>
inline void window_max(const T* image, const Geometry& g, int64_t y0, int64_t y1, int64_t x0, int64_t x1, C* best,
                       int32_t* pixel) {
  const int64_t c = g.c;
  {
    const T* src = image + (y0 * g.w + x0) * c;
    for (int64_t ch = 0; ch < c; ++ch) best[ch] = static_cast<C>(src[ch]);
    if constexpr (kTrackPixel) std::fill(pixel, pixel + c, static_cast<int32_t>(y0 * g.w + x0));
  }
  for (int64_t iy = y0; iy < y1; ++iy) {
    for (int64_t ix = iy == y0 ? x0 + 1 : x0; ix < x1; ++ix) {
      const int32_t p = static_cast<int32_t>(iy * g.w + ix);  // images hold < 2^31 pixels
      const T* src = image + int64_t{p} * c;
      for (int64_t ch = 0; ch < c; ++ch) {
        const C v = static_cast<C>(src[ch]), b = best[ch];
        const bool take = (v > b) | ((v != v) & (b == b));
        best[ch] = take ? v : b;
        if constexpr (kTrackPixel) pixel[ch] = take ? p : pixel[ch];
      }
    }
  }
}

// Finds the maximum of every window in output rows [begin, end) (row = image * OH + oy) and calls
// emit(n, oy, ox) after each, with best (and pixel, when kTrackPixel) holding that window's result.
template <bool kTrackPixel, class T, class C, class Emit>
void scan_windows(const T* x, const Geometry& g, int64_t begin, int64_t end, C* best, int32_t* pixel, Emit emit) {
  for_each_window(g, begin, end, [&](int64_t n, int64_t oy, int64_t ox, const WindowBounds& w) {
    window_max<kTrackPixel>(x + n * g.h * g.w * g.c, g, w.y0, w.y1, w.x0, w.x1, best, pixel);
    emit(n, oy, ox);
  });
}

// max_pool2d  x (N, H, W, C) -> out (N, OH, OW, C): each window's maximum, in one pass.
void max_pool2d_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Geometry g = geometry(in[0].shape(), out.shape(), attrs);
  visit_floating(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    using C = compute_t<T>;
    const T* x = static_cast<const T*>(in[0].data_ptr());
    T* y = static_cast<T*>(out.data_ptr());
    parallel_for(g.n * g.oh, pool_block(g.ow * g.c * g.kh * g.kw), [&](int64_t begin, int64_t end) {
      C* best = scratch<C>(static_cast<size_t>(g.c));
      scan_windows<false>(x, g, begin, end, best, nullptr, [&](int64_t n, int64_t oy, int64_t ox) {
        T* dst = y + ((n * g.oh + oy) * g.ow + ox) * g.c;
        for (int64_t ch = 0; ch < g.c; ++ch) dst[ch] = static_cast<T>(best[ch]);
      });
    });
  });
}

// max_pool2d_grad  grad (N, OH, OW, C), x (N, H, W, C) -> dx (N, H, W, C): zeros with each output
// gradient added at its window's first maximum (found again from x). Tasks own whole images and add
// in increasing output order, so overlapping windows that pick the same input sum in one fixed order
// for any thread count. float16 / bfloat16 accumulate in float32 and round once.
void max_pool2d_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Geometry g = geometry(out.shape(), in[0].shape(), attrs);
  visit_floating(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    using C = compute_t<T>;
    const T* grad = static_cast<const T*>(in[0].data_ptr());
    const T* x = static_cast<const T*>(in[1].data_ptr());
    T* dx = static_cast<T*>(out.data_ptr());
    const int64_t image = g.h * g.w * g.c;
    parallel_for(g.n, pool_block(std::max<int64_t>(image, g.oh * g.ow * g.c * g.kh * g.kw)),
                 [&](int64_t begin, int64_t end) {
      C* best = scratch<C>(static_cast<size_t>(g.c));
      int32_t* pixel = scratch<int32_t>(static_cast<size_t>(g.c));
      for (int64_t n = begin; n < end; ++n) {
        C* acc;
        if constexpr (std::is_same_v<C, T>) acc = dx + n * image;
        else acc = scratch<C>(static_cast<size_t>(image), 1);
        std::fill(acc, acc + image, C(0));
        scan_windows<true>(x, g, n * g.oh, (n + 1) * g.oh, best, pixel, [&](int64_t, int64_t oy, int64_t ox) {
          const T* from = grad + ((n * g.oh + oy) * g.ow + ox) * g.c;
          for (int64_t ch = 0; ch < g.c; ++ch) {
            C& to = acc[int64_t{pixel[ch]} * g.c + ch];
            to = static_cast<C>(to + static_cast<C>(from[ch]));
          }
        });
        if constexpr (!std::is_same_v<C, T>) {
          for (int64_t i = 0; i < image; ++i) dx[n * image + i] = static_cast<T>(acc[i]);
        }
      }
    });
  });
}

// max_pool2d_argmax  x (N, H, W, C) -> int64 flat index into x of each window's first maximum.
void max_pool2d_argmax_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Geometry g = geometry(in[0].shape(), out.shape(), attrs);
  visit_floating(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    using C = compute_t<T>;
    const T* x = static_cast<const T*>(in[0].data_ptr());
    int64_t* index = static_cast<int64_t*>(out.data_ptr());
    parallel_for(g.n * g.oh, pool_block(g.ow * g.c * g.kh * g.kw), [&](int64_t begin, int64_t end) {
      C* best = scratch<C>(static_cast<size_t>(g.c));
      int32_t* pixel = scratch<int32_t>(static_cast<size_t>(g.c));
      scan_windows<true>(x, g, begin, end, best, pixel, [&](int64_t n, int64_t oy, int64_t ox) {
        int64_t* dst = index + ((n * g.oh + oy) * g.ow + ox) * g.c;
        for (int64_t ch = 0; ch < g.c; ++ch) dst[ch] = (n * g.h * g.w + int64_t{pixel[ch]}) * g.c + ch;
      });
    });
  });
}

}  // namespace

void register_cpu_conv_kernels(OpRegistry& r) {
  r.add_kernel("conv2d", DeviceType::cpu, conv2d_kernel);
  r.add_kernel("conv2d_backprop_input", DeviceType::cpu, conv2d_backprop_input_kernel);
  r.add_kernel("conv2d_backprop_filter", DeviceType::cpu, conv2d_backprop_filter_kernel);
  r.add_kernel("avg_pool2d", DeviceType::cpu, avg_pool2d_kernel);
  r.add_kernel("avg_pool2d_grad", DeviceType::cpu, avg_pool2d_grad_kernel);
  r.add_kernel("max_pool2d", DeviceType::cpu, max_pool2d_kernel);
  r.add_kernel("max_pool2d_grad", DeviceType::cpu, max_pool2d_grad_kernel);
  r.add_kernel("max_pool2d_argmax", DeviceType::cpu, max_pool2d_argmax_kernel);
}

}  // namespace pitfall
