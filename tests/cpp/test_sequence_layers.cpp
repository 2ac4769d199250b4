// Conv1D, Conv2DTranspose, DepthwiseConv2D, GRU, Bidirectional and TimeDistributed beyond their
// generic case (tests/cpp/test_layer_cases.cpp): more argument combinations through the generic
// checks, and masks through the recurrent layers (a masked step keeps the states; padding does not
// change the final state) with their gradients.
#include <doctest/doctest.h>

#include "gradcheck_cases.h"
#include "layer_test_helper.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

std::shared_ptr<Layer> layer_of(const std::string& class_name, Json::Object config) {
  return layer_from_config(Json(Json::Object{{"class_name", class_name}, {"config", Json(std::move(config))}}));
}

Tensor mask_of(const std::vector<int64_t>& keep, const Shape& shape) {
  const Tensor values = Tensor::from_vector(keep, shape);
  return not_equal(values, scalar_like(0.0, values, "mask"));
}

Json layer_entry(const std::string& class_name, Json::Object config) {
  return Json(Json::Object{{"class_name", class_name}, {"config", Json(std::move(config))}});
}

}  // namespace

TEST_CASE("sequence layers: more argument combinations pass the generic layer checks") {
  check_layer([] { return layer_of("Conv1D", {{"filters", 3}, {"kernel_size", 2}, {"strides", 2}, {"padding", "same"}}); },
              {{2, 7, 4}}, {.trainable_weights = 2});
  check_layer([] { return layer_of("Conv2DTranspose", {{"filters", 2}, {"kernel_size", 2}, {"dilation_rate", 2}}); },
              {{2, 3, 3, 2}}, {.trainable_weights = 2});
  check_layer([] {
    return layer_of("Conv2DTranspose", {{"filters", 2}, {"kernel_size", 3}, {"strides", 2},
                                        {"output_padding", 1}, {"use_bias", false}});
  }, {{1, 3, 2, 2}}, {.trainable_weights = 1});
  check_layer([] { return layer_of("DepthwiseConv2D", {{"kernel_size", 2}, {"strides", 2}, {"dilation_rate", 1}}); },
              {{2, 5, 5, 2}}, {.trainable_weights = 2});
  check_layer([] { return layer_of("GRU", {{"units", 2}, {"reset_after", false}, {"return_state", true}}); },
              {{2, 3, 3}}, {.trainable_weights = 3});
  check_layer([] { return layer_of("GRU", {{"units", 2}, {"go_backwards", true}, {"use_bias", false}}); },
              {{2, 3, 3}}, {.trainable_weights = 2});
  check_layer([] {
    return layer_of("Bidirectional", {{"layer", layer_entry("GRU", {{"units", 2}, {"return_state", true}})},
                                      {"merge_mode", Json()}});
  }, {{2, 3, 2}}, {.trainable_weights = 6});
  check_layer([] {
    return layer_of("TimeDistributed", {{"layer", layer_entry("Conv1D", {{"filters", 2}, {"kernel_size", 2}})}});
  }, {{2, 3, 4, 2}}, {.trainable_weights = 2});
}

TEST_CASE("sequence layers: a masked step keeps the states, so padding leaves the final state as it was") {
  for (const std::string cls : {"SimpleRNN", "LSTM", "GRU"}) {
    INFO(cls);
    set_random_seed(3);
    auto layer = layer_of(cls, {{"units", 3}, {"return_state", true}, {"dtype", "float64"}});
    const Tensor x = uniform64({1, 5, 2}, -1, 1, 4);
    Tensor padded = concatenate({x, Tensor::zeros({1, 2, 2}, DType::float64)}, 1);
    padded.set_keras_mask(mask_of({1, 1, 1, 1, 1, 0, 0}, {1, 7}));
    const auto alone = (*layer)(std::vector<Tensor>{x});
    const auto masked = (*layer)(std::vector<Tensor>{padded});
    REQUIRE(alone.size() == masked.size());
    for (size_t i = 0; i < alone.size(); ++i) CHECK(bitwise_equal(alone[i], masked[i]));
  }
}

TEST_CASE("sequence layers: gradients flow through the kept steps only") {
  set_random_seed(8);
  auto layer = layer_of("GRU", {{"units", 2}, {"return_sequences", true}, {"dtype", "float64"}});
  Tensor x = uniform64({2, 4, 3}, -1, 1, 5).set_requires_grad(true);
  Tensor input = multiply(x, 1.0);
  input.set_keras_mask(mask_of({1, 1, 0, 1, 1, 0, 0, 0}, {2, 4}));
  sum((*layer)(input)).backward();
  const std::vector<double> grad = x.grad().to_vector<double>();
  for (int64_t f = 0; f < 3; ++f) {
    CHECK(grad[static_cast<size_t>((0 * 4 + 2) * 3 + f)] == 0.0);  // sample 0, step 2 is masked
    CHECK(grad[static_cast<size_t>((1 * 4 + 3) * 3 + f)] == 0.0);  // sample 1, step 3 is masked
    CHECK(grad[static_cast<size_t>((0 * 4 + 3) * 3 + f)] != 0.0);
  }
}
