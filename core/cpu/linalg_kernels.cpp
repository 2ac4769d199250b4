// CPU kernels for matmul.
//
// Determinism: the output of each matrix is cut into row blocks whose height depends only on the
// shapes (never on num_threads()), and each block is one single-threaded Eigen product (Eigen is
// built without OpenMP). Eigen's blocking choices depend only on a product's sizes, so every block
// is computed the same way whichever thread runs it: bitwise-identical results for 1 or N threads.
#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "pitfall/core/cpu/kernels.h"
#include "pitfall/core/cpu/scalar.h"
#include "pitfall/core/threadpool.h"

namespace pitfall {
namespace {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Rows per block: about 2^21 multiply-adds, at least 64 rows so re-packing B per block stays a
// small fraction of the work.
int64_t rows_per_block(int64_t k, int64_t n) {
  const int64_t per_row = std::max<int64_t>(1, k * n);
  return std::max<int64_t>(64, (int64_t{1} << 21) / per_row);
}

// a (..., M, K), b (..., K, N) packed, batch dims broadcast against out (..., M, N). C is the type
// the product is computed in; a and b are already converted to C when T != C.
template <class C>
void batched_gemm(const C* a, const Shape& a_shape, const C* b, const Shape& b_shape, C* out, const Shape& out_shape) {
  const int64_t rank = static_cast<int64_t>(out_shape.size());
  const int64_t m = out_shape[rank - 2], n = out_shape[rank - 1];
  const int64_t k = a_shape[a_shape.size() - 1];
  const int64_t batch_rank = rank - 2;
  // Per-batch-axis element strides of a and b in the output's batch index space (0 = broadcast).
  std::vector<int64_t> a_stride(batch_rank, 0), b_stride(batch_rank, 0);
  auto fill_strides = [&](const Shape& s, std::vector<int64_t>& strides, int64_t matrix) {
    const int64_t lead = batch_rank - (static_cast<int64_t>(s.size()) - 2);
    int64_t stride = matrix;
    for (int64_t i = static_cast<int64_t>(s.size()) - 3; i >= 0; --i) {
      strides[lead + i] = s[i] == 1 ? 0 : stride;
      stride *= s[i];
    }
  };
  fill_strides(a_shape, a_stride, m * k);
  fill_strides(b_shape, b_stride, k * n);
  int64_t batches = 1;
  for (int64_t i = 0; i < batch_rank; ++i) batches *= out_shape[i];
  if (batches == 0 || m == 0 || n == 0) return;

  // b shared by every batch and a not broadcast: one (batches*M, K) @ (K, N) product.
  const bool b_shared = std::all_of(b_stride.begin(), b_stride.end(), [](int64_t s) { return s == 0; });
  const int64_t a_batches = shape_numel(Shape(a_shape.begin(), a_shape.end() - 2));
  int64_t rows = m;
  const bool folded = b_shared && a_batches == batches;
  if (folded) {
    rows = batches * m;
    batches = 1;
  }
  const int64_t block = rows_per_block(k, n);
  const int64_t blocks_per_matrix = (rows + block - 1) / block;
  parallel_for(batches * blocks_per_matrix, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t batch = t / blocks_per_matrix;
      const int64_t r0 = (t % blocks_per_matrix) * block;
      const int64_t r1 = std::min(rows, r0 + block);
      int64_t a_off = 0, b_off = 0, rest = batch;
      for (int64_t i = batch_rank - 1; i >= 0 && !folded; --i) {
        const int64_t coord = rest % out_shape[i];
        rest /= out_shape[i];
        a_off += coord * a_stride[i];
        b_off += coord * b_stride[i];
      }
      using ConstMap = Eigen::Map<const RowMatrix<C>>;
      Eigen::Map<RowMatrix<C>> result(out + batch * rows * n + r0 * n, r1 - r0, n);
      if (k == 0) {
        result.setZero();
        continue;
      }
      result.noalias() = ConstMap(a + a_off + r0 * k, r1 - r0, k) * ConstMap(b + b_off, k, n);
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
void matmul_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  visit_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError("matmul of bool tensors; cast them to a numeric dtype first");
    } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      batched_gemm<T>(static_cast<const T*>(in[0].data_ptr()), in[0].shape(), static_cast<const T*>(in[1].data_ptr()),
                      in[1].shape(), static_cast<T*>(out.data_ptr()), out.shape());
    } else {
      using C = std::conditional_t<is_reduced_float_v<T>, float, int64_t>;
      const std::vector<C> a = widen<C, T>(in[0]), b = widen<C, T>(in[1]);
      std::vector<C> result(static_cast<size_t>(out.numel()));
      batched_gemm<C>(a.data(), in[0].shape(), b.data(), in[1].shape(), result.data(), out.shape());
      T* dst = static_cast<T*>(out.data_ptr());
      for (size_t i = 0; i < result.size(); ++i) dst[i] = static_cast<T>(result[i]);
    }
  });
}

}  // namespace

void register_cpu_linalg_kernels(OpRegistry& r) { r.add_kernel("matmul", DeviceType::cpu, matmul_kernel); }

}  // namespace pitfall
