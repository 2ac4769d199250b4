#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include <pitfall/pitfall.h>

using namespace pitfall;

TEST_CASE("tensor: creation, metadata and host round trip") {
  const Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.ndim() == 2);
  CHECK(t.numel() == 6);
  CHECK(t.dtype() == DType::float32);
  CHECK(t.device() == Device{});
  CHECK(t.is_contiguous());
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(t.value_at(4) == 5.0);
  CHECK(Tensor::full({2, 2}, 7.5, DType::float64).to_vector<double>() == std::vector<double>(4, 7.5));
  CHECK(Tensor::zeros({3}, DType::int32).to_vector<int32_t>() == std::vector<int32_t>(3, 0));
  CHECK(Tensor::scalar(3, DType::int64).item() == 3.0);
  CHECK_THROWS_AS(t.to_vector<double>(), DTypeError);
  CHECK_THROWS_AS(t.item(), ValueError);
  CHECK_THROWS_AS(Tensor::from_vector<float>({1, 2, 3}, {2, 2}), ShapeError);
  CHECK_THROWS_AS(Tensor().shape(), ValueError);
}

TEST_CASE("tensor: dtype names parse and sizes match the formats") {
  for (DType d : {DType::float16, DType::bfloat16, DType::float32, DType::float64, DType::int32, DType::int64,
                  DType::uint8, DType::bool_}) {
    CHECK(parse_dtype(dtype_name(d)) == d);
  }
  CHECK(dtype_size(DType::bfloat16) == 2);
  CHECK(dtype_size(DType::int64) == 8);
  CHECK_THROWS_WITH_AS(parse_dtype("float8"), doctest::Contains("float32"), DTypeError);
}

TEST_CASE("tensor: float16 and bfloat16 storage rounds like the real formats") {
  // 65504 is the largest float16; 65520 and above round to inf.
  CHECK(Tensor::full({}, 65504, DType::float16).item() == 65504.0);
  CHECK(std::isinf(Tensor::full({}, 65520, DType::float16).item()));
  // bfloat16 keeps 8 significand bits: 1 - 6e-4 rounds back to 1.
  CHECK(Tensor::full({}, 1.0 - 6e-4, DType::bfloat16).item() == 1.0);
  CHECK(Tensor::full({}, 1.0 - 6e-4, DType::float32).item() != 1.0);
  // 2^-24 is the smallest float16 subnormal; half of it flushes to 0.
  CHECK(Tensor::full({}, std::ldexp(1.0, -24), DType::float16).item() == std::ldexp(1.0, -24));
  CHECK(Tensor::full({}, std::ldexp(1.0, -26), DType::float16).item() == 0.0);
}

TEST_CASE("tensor: views share storage - contiguous() packs - assign writes through") {
  const Tensor t = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  const Tensor r = reshape(t, {3, 2});
  CHECK(r.data_ptr() == t.data_ptr());
  const Tensor tt = transpose(t);
  CHECK_FALSE(tt.is_contiguous());
  CHECK(tt.shape() == Shape{3, 2});
  const Tensor packed = tt.contiguous();
  CHECK(packed.is_contiguous());
  CHECK(packed.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  // A column view: writing through it changes the base tensor.
  const Tensor column = strided_slice(t, {0, 1}, {2, 2}, {1, 1});
  column.assign(Tensor::from_vector<float>({10, 40}, {2, 1}));
  CHECK(t.to_vector<float>() == std::vector<float>{0, 10, 2, 3, 40, 5});
  CHECK_THROWS_AS(column.assign(Tensor::from_vector<float>({1, 2, 3}, {3, 1})), ShapeError);
  // clone() is independent.
  const Tensor c = t.clone();
  t.assign(Tensor::zeros({2, 3}));
  CHECK(c.to_vector<float>() == std::vector<float>{0, 10, 2, 3, 40, 5});
}

TEST_CASE("tensor: requires_grad only on floating tensors - CUDA absent is a clear error") {
  Tensor i = Tensor::zeros({2}, DType::int32);
  CHECK_THROWS_WITH_AS(i.set_requires_grad(true), doctest::Contains("int32"), DTypeError);
  if (!OpRegistry::instance().has_kernel("add", DeviceType::cuda)) {
    CHECK_THROWS_WITH_AS(Tensor::zeros({2}, DType::float32, parse_device("cuda")), doctest::Contains("cpu"),
                         RuntimeError);
  }
  CHECK_THROWS_AS(parse_device("tpu"), ValueError);
}

TEST_CASE("tensor: str() prints nested rows and elides long axes") {
  const Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.str() == "tensor([[1, 2, 3], [4, 5, 6]], shape=(2, 3), dtype=float32)");
  CHECK(Tensor::scalar(2.5).str() == "tensor(2.5, shape=(), dtype=float32)");
  const std::string long_str = Tensor::zeros({2000}, DType::int32).str();
  CHECK(long_str == "tensor([0, 0, 0, ..., 0, 0, 0], shape=(2000,), dtype=int32)");
}

TEST_CASE("tensor: error messages name the op once") {
  try {
    add(Tensor::zeros({2}), Tensor::zeros({3}));
    FAIL("expected ShapeError");
  } catch (const ShapeError& e) {
    const std::string what = e.what();
    CHECK(what.rfind("add: ", 0) == 0);
    CHECK(e.op() == "add");
  }
}
