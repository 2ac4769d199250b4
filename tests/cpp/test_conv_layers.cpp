// Conv2D, MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D: the generic layer checks, Keras
// semantics (shapes, defaults, configs) and error messages.
#include <doctest/doctest.h>

#include <pitfall/layers/conv2d.h>
#include <pitfall/layers/pooling.h>

#include "layer_test_helper.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {
LayerCheckOptions trainable(int count) {
  LayerCheckOptions options;
  options.trainable_weights = count;
  return options;
}
}  // namespace

TEST_CASE("conv layers: a dilated or grouped Conv2D passes the generic layer checks") {
  check_layer([] {
    Conv2DOptions conv;
    conv.dilation_rate = {2, 1};
    conv.padding = "same";
    return std::make_shared<Conv2D>(3, std::vector<int64_t>{3, 2}, conv);
  }, {{2, 6, 5, 2}}, trainable(2));
  check_layer([] {
    return layer_from_config(Json(Json::Object{
        {"class_name", "Conv2D"}, {"config", Json(Json::Object{{"filters", 4}, {"kernel_size", 2}, {"groups", 2}})}}));
  }, {{2, 4, 5, 6}}, trainable(2));
}

TEST_CASE("conv layers: Conv2D passes the generic layer checks") {
  check_layer([] { return std::make_shared<Conv2D>(3, std::vector<int64_t>{3, 3}); }, {{2, 6, 5, 2}},
              trainable(2));
  check_layer(
      [] {
        Conv2DOptions conv;
        conv.strides = {2, 2};
        conv.padding = "same";
        conv.activation = "tanh";
        return std::make_shared<Conv2D>(4, std::vector<int64_t>{3, 2}, conv);
      },
      {{2, 7, 6, 3}}, trainable(2));
  check_layer(
      [] {
        Conv2DOptions conv;
        conv.use_bias = false;
        return std::make_shared<Conv2D>(2, std::vector<int64_t>{1}, conv);
      },
      {{3, 4, 4, 3}}, trainable(1));
}

TEST_CASE("conv layers: pooling layers pass the generic layer checks") {
  check_layer([] { return std::make_shared<MaxPooling2D>(); }, {{2, 6, 5, 3}});
  check_layer(
      [] {
        Pooling2DOptions pooling;
        pooling.strides = {2, 2};
        pooling.padding = "same";
        return std::make_shared<MaxPooling2D>(std::vector<int64_t>{3, 3}, pooling);
      },
      {{2, 7, 6, 2}});
  check_layer([] { return std::make_shared<AveragePooling2D>(std::vector<int64_t>{2, 2}); }, {{2, 6, 5, 3}});
  check_layer(
      [] {
        Pooling2DOptions pooling;
        pooling.strides = {1, 2};
        pooling.padding = "same";
        return std::make_shared<AveragePooling2D>(std::vector<int64_t>{3, 3}, pooling);
      },
      {{2, 5, 6, 2}});
  check_layer([] { return std::make_shared<GlobalAveragePooling2D>(); }, {{3, 4, 5, 2}});
  check_layer([] { return std::make_shared<GlobalAveragePooling2D>(true); }, {{3, 4, 5, 2}});
}

TEST_CASE("conv layers: Conv2D weights have Keras layouts, defaults and output shapes") {
  auto conv = std::make_shared<Conv2D>(8, std::vector<int64_t>{3});
  const Tensor y = (*conv)(Tensor::ones({2, 28, 28, 1}));
  CHECK(y.shape() == Shape{2, 26, 26, 8});
  CHECK(conv->kernel().shape() == Shape{3, 3, 1, 8});
  CHECK(conv->bias().shape() == Shape{8});
  CHECK(conv->bias().to_vector<float>() == std::vector<float>(8, 0.0f));
  // glorot_uniform: limit sqrt(6 / (fan_in + fan_out)) with receptive field 9: fan_in 9, fan_out 72.
  const double limit = std::sqrt(6.0 / (9 + 72));
  double max_abs = 0;
  for (float v : conv->kernel().to_vector<float>()) max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
  CHECK(max_abs <= limit);
  CHECK(max_abs > 0.5 * limit);
  CHECK(conv->count_params() == 3 * 3 * 1 * 8 + 8);

  const Json config = conv->get_config();
  CHECK(config.at("filters").as_int() == 8);
  CHECK(config.at("kernel_size").as_int_vector() == std::vector<int64_t>{3, 3});
  CHECK(config.at("strides").as_int_vector() == std::vector<int64_t>{1, 1});
  CHECK(config.at("padding").as_string() == "valid");
  CHECK(config.at("data_format").as_string() == "channels_last");
  CHECK(config.at("activation").as_string() == "linear");

  Conv2DOptions same;
  same.padding = "same";
  same.strides = {2};
  auto strided = std::make_shared<Conv2D>(4, std::vector<int64_t>{3, 3}, same);
  CHECK(strided->compute_output_shape({{-1, 7, 7, 3}}) == std::vector<Shape>{{-1, 4, 4, 4}});
  CHECK((*strided)(Tensor::zeros({1, 7, 7, 3})).shape() == Shape{1, 4, 4, 4});
}

TEST_CASE("conv layers: Conv2D computes activation(conv2d(x, kernel) + bias)") {
  auto conv = std::make_shared<Conv2D>(2, std::vector<int64_t>{2, 2}, "relu");
  const Tensor x = random_normal({1, 3, 3, 1}, 0, 1, DType::float32, RandomKey{9, 1});
  (*conv)(x);
  conv->bias().assign(Tensor::from_vector(std::vector<float>{0.5f, -0.25f}));
  const Tensor want = relu(add(conv2d(x, conv->kernel().detach()), Tensor::from_vector(std::vector<float>{0.5f, -0.25f})));
  CHECK(pitfall::testing::bitwise_equal((*conv)(x), want));
}

TEST_CASE("conv layers: pooling defaults follow Keras") {
  MaxPooling2D pool;
  CHECK(pool.pool_size() == std::vector<int64_t>{2, 2});
  CHECK(pool.strides() == std::vector<int64_t>{2, 2});  // strides=None -> pool_size
  CHECK(pool.padding() == "valid");
  CHECK(pool(Tensor::zeros({1, 5, 5, 3})).shape() == Shape{1, 2, 2, 3});
  AveragePooling2D avg({3});
  CHECK(avg.strides() == std::vector<int64_t>{3, 3});
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {1, 2, 2, 1});
  CHECK(AveragePooling2D(std::vector<int64_t>{2, 2})(x).item() == 2.5);
  CHECK(MaxPooling2D()(x).item() == 4.0);
  GlobalAveragePooling2D gap;
  CHECK(gap(x).shape() == Shape{1, 1});
  CHECK(gap(x).item() == 2.5);
  CHECK(GlobalAveragePooling2D(true)(x).shape() == Shape{1, 1, 1, 1});
  CHECK(gap.get_config().at("keepdims").as_bool() == false);
  CHECK(pool.get_config().at("pool_size").as_int_vector() == std::vector<int64_t>{2, 2});
}

TEST_CASE("conv layers: a small Sequential-style CNN stack trains end to end") {
  Conv2D conv(4, {3, 3}, "relu");
  MaxPooling2D pool;
  GlobalAveragePooling2D gap;
  const Tensor x = random_normal({4, 8, 8, 1}, 0, 1, DType::float32, RandomKey{4, 1});
  const Tensor y = gap(pool(conv(x)));
  CHECK(y.shape() == Shape{4, 4});
  const auto grads = gradients(sum(y), conv.trainable_weights());
  CHECK(grads[0].shape() == Shape{3, 3, 1, 4});
  CHECK(grads[1].shape() == Shape{4});
}

TEST_CASE("conv layers: errors name the layer, the argument and the fix") {
  std::string m = message_of([] { Conv2D(0, {3, 3}); });
  CHECK(m.find("filters") != std::string::npos);
  Conv2DOptions bad_padding;
  bad_padding.padding = "full";
  m = message_of([&] { Conv2D(4, {3, 3}, bad_padding); });
  CHECK(m.find("\"valid\"") != std::string::npos);
  CHECK(m.find("\"same\"") != std::string::npos);
  CHECK(m.find("full") != std::string::npos);
  CHECK_THROWS_AS(Conv2D(4, {3, 3}, bad_padding), ValueError);
  Conv2DOptions channels_first;
  channels_first.data_format = "channels_first";
  m = message_of([&] { Conv2D(4, {3, 3}, channels_first); });
  CHECK(m.find("channels_last") != std::string::npos);
  CHECK_THROWS_AS(Conv2D(4, {3, 3}, channels_first), NotImplementedError);
  Conv2DOptions strided_dilation;
  strided_dilation.dilation_rate = {2, 2};
  strided_dilation.strides = {2, 1};
  m = message_of([&] { Conv2D(4, {3, 3}, strided_dilation); });
  CHECK(m.find("strides=[2, 1] and dilation_rate=[2, 2]") != std::string::npos);
  CHECK_THROWS_AS(Conv2D(4, {3, 3}, strided_dilation), ValueError);
  CHECK_THROWS_AS(Conv2D(4, {3, 3, 3}), ValueError);
  CHECK_THROWS_AS(MaxPooling2D({0, 2}), ValueError);

  // A 3-D image without the batch axis names the layer, the shape and NHWC.
  LayerOptions named;
  named.name = "conv_a";
  Conv2D conv(4, {3, 3}, "linear", named);
  m = message_of([&] { conv(Tensor::zeros({28, 28, 1})); });
  CHECK(m.find("conv_a") != std::string::npos);
  CHECK(m.find("Conv2D") != std::string::npos);
  CHECK(m.find("(28, 28, 1)") != std::string::npos);
  CHECK(m.find("NHWC") != std::string::npos);
  // Built for 1 channel, called with 3.
  conv(Tensor::zeros({1, 5, 5, 1}));
  m = message_of([&] { conv(Tensor::zeros({1, 5, 5, 3})); });
  CHECK(m.find("conv_a") != std::string::npos);
  // Valid padding with a window larger than the image.
  Conv2D big(2, {5, 5});
  m = message_of([&] { big(Tensor::zeros({1, 3, 3, 1})); });
  CHECK(m.find("larger than the input") != std::string::npos);
  MaxPooling2D pool;
  m = message_of([&] { pool(Tensor::zeros({4, 4})); });
  CHECK(m.find("MaxPooling2D") != std::string::npos);
  CHECK(m.find("4-D") != std::string::npos);
}
