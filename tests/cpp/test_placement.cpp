// Device placement: device names, the default-device scope, to_device and its gradient, layer
// weights built under a scope, fit moving batches to the weights' device, the GPU settings, and the
// errors on a machine or build without a GPU. The GPU halves run only where a GPU exists.
#include <doctest/doctest.h>

#include <pitfall/pitfall.h>

#include "stand_in_device.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

bool has_gpu() { return device_count(DeviceType::cuda) > 0; }

}  // namespace

TEST_SUITE("placement") {
  TEST_CASE("device names in pitfall's, PyTorch's and TensorFlow's spellings") {
    CHECK(parse_device("cpu") == Device{});
    CHECK(parse_device("/CPU:0") == Device{});
    CHECK(parse_device("/job:localhost/replica:0/task:0/device:CPU:0") == Device{});
    CHECK(parse_device("gpu") == Device{DeviceType::cuda, 0});
    CHECK(parse_device("GPU:1") == Device{DeviceType::cuda, 1});
    CHECK(parse_device("/device:GPU:0") == Device{DeviceType::cuda, 0});
    CHECK(parse_device("/physical_device:GPU:2") == Device{DeviceType::cuda, 2});
    CHECK(parse_device("cuda:3").str() == "cuda:3");
    CHECK_THROWS_WITH_AS(parse_device("tpu"), doctest::Contains("expected 'cpu', 'gpu'"), ValueError);
    CHECK_THROWS_AS(parse_device("cpu:1"), ValueError);
  }

  TEST_CASE("the default device is the CPU, and scopes nest and restore it") {
    CHECK(default_device() == Device{});
    CHECK(device_count(DeviceType::cpu) == 1);
    {
      DeviceScope outer(Device{});
      CHECK(default_device() == Device{});
      if (has_gpu()) {
        DeviceScope inner(Device{DeviceType::cuda, 0});
        CHECK(default_device() == Device{DeviceType::cuda, 0});
      }
      CHECK(default_device() == Device{});
    }
    CHECK(default_device() == Device{});
  }

  TEST_CASE("asking for a GPU that is not there says so and what to do") {
    const int gpus = device_count(DeviceType::cuda);
    const Device missing{DeviceType::cuda, gpus};  // one past the last (cuda:0 without a GPU)
    const std::string message = message_of([&] { DeviceScope scope(missing); });
    CHECK(message.find("'" + missing.str() + "' is not available") != std::string::npos);
    CHECK(message.find("list_physical_devices('GPU')") != std::string::npos);
    CHECK(message.find("use 'cpu' instead") != std::string::npos);
    CHECK(default_device() == Device{});  // a failed scope changes nothing
    const Tensor x = Tensor::ones({2, 2});
    CHECK_THROWS_AS(to_device(x, missing), RuntimeError);
    CHECK(message_of([&] { to_device(x, missing); }).find("to_device: device '" + missing.str() + "'") !=
          std::string::npos);
    CHECK_THROWS_AS(DeviceScope(Device{DeviceType::cuda, -1}), ValueError);
  }

  TEST_CASE("a second GPU is refused with the CUDA_VISIBLE_DEVICES fix, never silently mislabelled") {
    if (has_gpu()) return;  // the stand-in would replace the real device
    pitfall::testing::StandInScope scope;
    scope.device.count = 2;  // two visible GPUs
    const Device second{DeviceType::cuda, 1};
    for (const std::string& message : {message_of([&] { check_device_available(second, "pf.device('gpu:1')"); }),
                                       message_of([&] { DeviceScope s(second); }),
                                       message_of([&] { Tensor::zeros({2}, DType::float32, second); }),
                                       message_of([&] { to_device(Tensor::zeros({2}), second); })}) {
      CHECK(pitfall::testing::contains(message, "one GPU per process"));
      CHECK(pitfall::testing::contains(message, "CUDA_VISIBLE_DEVICES=1"));
    }
    // The first GPU is fine, and so is a tensor on it.
    check_device_available(Device{DeviceType::cuda, 0}, "test");
    const Tensor on_first = to_device(Tensor::from_vector(std::vector<float>{1.5f, -2.0f}, {2}), Device{DeviceType::cuda, 0});
    CHECK(on_first.device() == Device{DeviceType::cuda, 0});
    CHECK(bitwise_equal(on_first.to(Device{}), Tensor::from_vector(std::vector<float>{1.5f, -2.0f}, {2})));
  }

  TEST_CASE("to_device to the device a tensor is on is the tensor itself") {
    const Tensor x = Tensor::ones({3});
    CHECK(to_device(x, Device{}).same_as(x));
  }

  TEST_CASE("op determinism and TensorFloat-32 are off until asked for") {
    CHECK_FALSE(op_determinism_enabled());
    CHECK_FALSE(tensor_float_32_enabled());
    set_op_determinism(true);
    set_tensor_float_32(true);
    CHECK(op_determinism_enabled());
    CHECK(tensor_float_32_enabled());
    set_op_determinism(false);
    set_tensor_float_32(false);
    CHECK_FALSE(op_determinism_enabled());
  }

  TEST_CASE("GPU: values and gradients cross devices, layers built in a scope live there") {
    if (!has_gpu()) {
      MESSAGE("no GPU on this machine: the GPU half of the placement tests is skipped");
      return;
    }
    const Device gpu{DeviceType::cuda, 0};
    Tensor x = random_normal({4, 5}, 0, 1, DType::float32, RandomKey{3, 1});
    x.set_requires_grad(true);
    const Tensor on_gpu = to_device(x, gpu);
    CHECK(on_gpu.device() == gpu);
    CHECK(bitwise_equal(on_gpu.to(Device{}), x.detach()));
    sum(multiply(to_device(on_gpu, Device{}), Tensor::scalar(3.0))).backward();
    REQUIRE(x.grad().defined());
    CHECK(x.grad().device() == Device{});
    CHECK(bitwise_equal(x.grad(), Tensor::full({4, 5}, 3.0)));

    // A CPU number joins a GPU op (as in PyTorch) and the result stays on the GPU.
    const Tensor doubled = multiply(on_gpu, Tensor::scalar(2.0));
    CHECK(doubled.device() == gpu);
    CHECK(bitwise_equal(doubled.to(Device{}), multiply(x.detach(), Tensor::scalar(2.0))));

    DeviceScope scope(gpu);
    Dense dense(3, "relu");
    dense.build({{-1, 5}});
    for (const Tensor& w : dense.trainable_weights()) CHECK(w.device() == gpu);
    // A CPU value meeting a GPU weight is an error naming both devices and the op.
    const std::string message = message_of([&] { matmul(x.detach(), dense.trainable_weights()[0]); });
    CHECK(message.find("cpu") != std::string::npos);
    CHECK(message.find("cuda:0") != std::string::npos);
    CHECK(message.find("matmul") != std::string::npos);
  }
}
