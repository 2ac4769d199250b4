// CPU kernels for matmul.
//
// Determinism: the output of each matrix is cut into row blocks whose height depends only on the
// shapes (never on num_threads()), and each block is one single-threaded product. The product's
// blocking depends only on its sizes (and the block's address, itself fixed by the shapes), so every
// block is computed the same way whichever thread runs it: bitwise-identical results for 1 or N
// threads.
//
// float32/float64 blocks go to OpenBLAS (cblas_?gemm, its own threading switched off) when the build
// found it, else to Eigen's product (Eigen is built without OpenMP, so single-threaded).
// bench/README.md has the measurements behind that choice.
#include <Eigen/Core>
#include <algorithm>
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

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The output tiles. Row blocks of about 2^23 multiply-adds (at least 128 rows) keep the cost of
// packing B again for every block small; when that leaves fewer than 4 row blocks, columns are cut
// too (at least 128 wide) so a batch-sized product still spreads over the threads. Depends only on
// the shapes.
struct Tiling {
  int64_t row_block, col_block;
};

Tiling choose_tiling(int64_t rows, int64_t k, int64_t n) {
  const int64_t per_row = std::max<int64_t>(1, k * n);
  const int64_t row_block = std::min(std::max<int64_t>(128, (int64_t{1} << 23) / per_row), std::max<int64_t>(rows, 1));
  const int64_t row_blocks = (rows + row_block - 1) / row_block;
  int64_t col_block = std::max<int64_t>(n, 1);
  if (row_blocks < 4 && n >= 256) {
    const int64_t splits = (4 + row_blocks - 1) / row_blocks;
    col_block = std::max<int64_t>(128, ((n + splits - 1) / splits + 63) / 64 * 64);
  }
  return {row_block, col_block};
}

// out (rows, cols) = op(a) (rows, k) @ op(b) (k, cols), row-major with leading dimensions lda, ldb,
// ldc, on the calling thread. op(a) = a, or a stored as (k, rows) when trans_a; likewise b as (cols, k).
template <class C>
void block_product(const C* a, int64_t lda, bool trans_a, const C* b, int64_t ldb, bool trans_b, C* out, int64_t ldc,
                   int64_t rows, int64_t k, int64_t cols) {
  using Stride = Eigen::OuterStride<>;
  Eigen::Map<RowMatrix<C>, 0, Stride> result(out, rows, cols, Stride(ldc));
  if (k == 0) {
    result.setZero();
    return;
  }
#ifdef PITFALL_USE_OPENBLAS
  if constexpr (std::is_same_v<C, float> || std::is_same_v<C, double>) {
    // Parallelism comes from our fixed tiles; OpenBLAS's own pool would make the split depend on its
    // thread count.
    static std::once_flag single_threaded;
    std::call_once(single_threaded, [] { openblas_set_num_threads(1); });
    const auto m = static_cast<blasint>(rows), kk = static_cast<blasint>(k), nn = static_cast<blasint>(cols);
    const auto la = static_cast<blasint>(lda), lb = static_cast<blasint>(ldb), lc = static_cast<blasint>(ldc);
    const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
    if constexpr (std::is_same_v<C, float>) {
      cblas_sgemm(CblasRowMajor, ta, tb, m, nn, kk, 1.0f, a, la, b, lb, 0.0f, out, lc);
    } else {
      cblas_dgemm(CblasRowMajor, ta, tb, m, nn, kk, 1.0, a, la, b, lb, 0.0, out, lc);
    }
    return;
  }
#endif
  using ConstMap = Eigen::Map<const RowMatrix<C>, 0, Stride>;
  const ConstMap a_stored(a, trans_a ? k : rows, trans_a ? rows : k, Stride(lda));
  const ConstMap b_stored(b, trans_b ? cols : k, trans_b ? k : cols, Stride(ldb));
  if (trans_a && trans_b) {
    result.noalias() = a_stored.transpose() * b_stored.transpose();
  } else if (trans_a) {
    result.noalias() = a_stored.transpose() * b_stored;
  } else if (trans_b) {
    result.noalias() = a_stored * b_stored.transpose();
  } else {
    result.noalias() = a_stored * b_stored;
  }
}

// a (..., M, K) (stored (..., K, M) when trans_a), b (..., K, N) (stored (..., N, K) when trans_b),
// packed, batch dims broadcast against out (..., M, N). C is the type the product is computed in; a
// and b are already converted to C when T != C.
template <class C>
void batched_gemm(const C* a, const Shape& a_shape, bool trans_a, const C* b, const Shape& b_shape, bool trans_b,
                  C* out, const Shape& out_shape) {
  const MatmulGeometry geometry = matmul_geometry(a_shape, trans_a, b_shape, out_shape);
  const int64_t m = geometry.m, n = geometry.n, k = geometry.k;
  int64_t batches = geometry.batches;
  if (batches == 0 || m == 0 || n == 0) return;

  // b shared by every batch and a not broadcast: one (batches*M, K) @ (K, N) product.
  const bool b_shared = geometry.b_shared();
  const int64_t a_batches = shape_numel(Shape(a_shape.begin(), a_shape.end() - 2));
  int64_t rows = m;
  // Folding stacks the batches' rows, which only lines up when a is stored untransposed.
  const bool folded = b_shared && a_batches == batches && !trans_a;
  if (folded) {
    rows = batches * m;
    batches = 1;
  }
  const Tiling tiling = choose_tiling(rows, k, n);
  const int64_t row_tiles = (rows + tiling.row_block - 1) / tiling.row_block;
  const int64_t col_tiles = (n + tiling.col_block - 1) / tiling.col_block;
  const int64_t tiles_per_matrix = row_tiles * col_tiles;
  parallel_for(batches * tiles_per_matrix, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t batch = t / tiles_per_matrix;
      const int64_t r0 = (t % tiles_per_matrix) / col_tiles * tiling.row_block;
      const int64_t c0 = (t % tiles_per_matrix) % col_tiles * tiling.col_block;
      const int64_t r1 = std::min(rows, r0 + tiling.row_block), c1 = std::min(n, c0 + tiling.col_block);
      const auto [a_off, b_off] = folded ? std::pair<int64_t, int64_t>{0, 0} : geometry.offsets(batch);
      // Row r of op(a) starts at r*k (stored rows) or is column r (stored transposed, leading dim m);
      // column c of op(b) likewise.
      const C* a_block = a + a_off + (trans_a ? r0 : r0 * k);
      const C* b_block = b + b_off + (trans_b ? c0 * k : c0);
      block_product(a_block, trans_a ? m : k, trans_a, b_block, trans_b ? k : n, trans_b,
                    out + batch * rows * n + r0 * n + c0, n, r1 - r0, k, c1 - c0);
    }
  });
}

template <class C, class T>
std::vector<C> widen(const Tensor& t) {
  const T* src = static_cast<const T*>(t.data_ptr());
  std::vector<C> out(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<C>(src[i]);
  return out;
}

// float32 / float64 multiply natively. float16 / bfloat16 are widened to float32 and the result
// rounded once; int32 / int64 / uint8 accumulate in int64 and wrap to the output dtype (NumPy's
// behaviour for integer matmul).
void matmul_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError("matmul of bool tensors; cast them to a numeric dtype first");
    } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      batched_gemm<T>(static_cast<const T*>(in[0].data_ptr()), in[0].shape(), attrs.transpose_a,
                      static_cast<const T*>(in[1].data_ptr()), in[1].shape(), attrs.transpose_b,
                      static_cast<T*>(out.data_ptr()), out.shape());
    } else {
      using C = std::conditional_t<is_reduced_float_v<T>, float, int64_t>;
      const std::vector<C> a = widen<C, T>(in[0]), b = widen<C, T>(in[1]);
      std::vector<C> result(static_cast<size_t>(out.numel()));
      batched_gemm<C>(a.data(), in[0].shape(), attrs.transpose_a, b.data(), in[1].shape(), attrs.transpose_b,
                      result.data(), out.shape());
      T* dst = static_cast<T*>(out.data_ptr());
      for (size_t i = 0; i < result.size(); ++i) dst[i] = static_cast<T>(result[i]);
    }
  });
}

}  // namespace

void register_cpu_linalg_kernels(OpRegistry& r) { r.add_kernel("matmul", DeviceType::cpu, matmul_kernel); }

}  // namespace pitfall
