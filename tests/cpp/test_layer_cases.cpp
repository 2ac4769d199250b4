// The generic layer test over every registered layer class (layers/README.md "Adding a layer"):
// each class built from its argument table's arguments goes through check_layer (shapes, weights,
// float64 gradients, a training step, the config and save/load round trips, thread determinism).
// A registered layer class without a case here fails the coverage test, as an op without a
// gradcheck case fails test_gradcheck.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <set>
#include <string>

#include "layer_test_helper.h"

namespace pitfall {
namespace {

using testing::check_layer;
using testing::LayerCheckOptions;

struct LayerCase {
  // Builds a fresh layer from a config, through the registry (what Python and load_model do).
  Json arguments;
  std::vector<Shape> input_shapes;
  LayerCheckOptions options;
  // Instead of check_layer, for a layer it does not fit (InputLayer: the entry of a graph).
  std::function<void()> custom;
};

std::shared_ptr<Layer> from_arguments(const std::string& class_name, const Json& arguments) {
  return layer_from_config(Json(Json::Object{{"class_name", class_name}, {"config", arguments}}));
}

Json args(Json::Object values) { return Json(std::move(values)); }
Json ints(std::vector<int64_t> values) { return Json::from_vector(values); }

const std::map<std::string, LayerCase>& layer_cases() {
  static const std::map<std::string, LayerCase> cases = [] {
    std::map<std::string, LayerCase> c;
    c["Dense"] = {args({{"units", 4}, {"activation", "tanh"}}), {{3, 5}}, {.trainable_weights = 2}, {}};
    c["Activation"] = {args({{"activation", "softmax"}}), {{2, 3, 4}}, {}, {}};
    c["Dropout"] = {args({{"rate", 0.3}, {"seed", 7}}), {{4, 5}}, {}, {}};
    c["Flatten"] = {args({}), {{2, 3, 4}}, {}, {}};
    c["Reshape"] = {args({{"target_shape", Json::from_vector(std::vector<int64_t>{4, 3})}}), {{2, 12}}, {}, {}};
    c["Add"] = {args({}), {{2, 3}, {2, 3}}, {}, {}};
    c["Subtract"] = {args({}), {{2, 3}, {2, 1}}, {}, {}};
    c["Multiply"] = {args({}), {{2, 3}, {2, 3}, {2, 3}}, {}, {}};
    c["Average"] = {args({}), {{2, 1, 4}, {2, 3, 4}}, {}, {}};
    c["Maximum"] = {args({}), {{3, 4}, {3, 4}}, {}, {}};
    c["Minimum"] = {args({}), {{3, 4}, {3, 4}}, {}, {}};
    c["Dot"] = {args({{"axes", Json::from_vector(std::vector<int64_t>{2, 1})}, {"normalize", true}}),
                {{2, 3, 4}, {2, 4, 5}}, {}, {}};
    c["Concatenate"] = {args({{"axis", 1}}), {{2, 1, 4}, {2, 3, 4}}, {}, {}};
    c["Embedding"] = {args({{"input_dim", 10}, {"output_dim", 3}}), {{2, 5}},
                      {.trainable_weights = 1, .input_dtypes = {DType::int64}, .int_input_high = 10}, {}};
    c["BatchNormalization"] = {args({}), {{5, 3}},
                               {.trainable_weights = 2, .non_trainable_weights = 2, .updates_non_trainable = true,
                                .gradcheck_training = true},
                               {}};
    c["LayerNormalization"] = {args({}), {{3, 5}}, {.trainable_weights = 2}, {}};
    c["Conv2D"] = {args({{"filters", 3}, {"kernel_size", 3}, {"padding", "same"}}), {{2, 6, 5, 2}},
                   {.trainable_weights = 2}, {}};
    c["MaxPooling2D"] = {args({}), {{2, 6, 5, 3}}, {}, {}};
    c["AveragePooling2D"] = {args({{"pool_size", 2}}), {{2, 6, 5, 3}}, {}, {}};
    c["GlobalAveragePooling2D"] = {args({}), {{3, 4, 5, 2}}, {}, {}};
    c["SimpleRNN"] = {args({{"units", 3}}), {{2, 4, 3}}, {.trainable_weights = 3}, {}};
    c["LSTM"] = {args({{"units", 2}}), {{2, 3, 3}}, {.trainable_weights = 3}, {}};
    // Activation layers.
    c["LeakyReLU"] = {args({{"negative_slope", 0.2}}), {{3, 4}}, {}, {}};
    c["PReLU"] = {args({{"alpha_initializer", "random_uniform"}, {"shared_axes", ints({1})}}), {{2, 3, 4}},
                  {.trainable_weights = 1}, {}};
    c["ReLU"] = {args({{"max_value", 1.5}, {"negative_slope", 0.1}, {"threshold", 0.2}}), {{3, 5}}, {}, {}};
    c["Softmax"] = {args({{"axis", ints({1, 2})}}), {{2, 3, 4}}, {}, {}};
    c["ELU"] = {args({{"alpha", 0.5}}), {{3, 4}}, {}, {}};
    // Reshaping layers.
    c["UpSampling1D"] = {args({{"size", 3}}), {{2, 4, 3}}, {}, {}};
    c["UpSampling2D"] = {args({{"size", ints({2, 3})}, {"interpolation", "bilinear"}}), {{2, 3, 4, 2}}, {}, {}};
    c["ZeroPadding1D"] = {args({{"padding", ints({1, 2})}}), {{2, 3, 4}}, {}, {}};
    c["ZeroPadding2D"] = {args({{"padding", Json(Json::Array{ints({1, 0}), ints({2, 1})})}}), {{2, 3, 3, 2}}, {}, {}};
    c["Cropping1D"] = {args({{"cropping", ints({1, 2})}}), {{2, 6, 3}}, {}, {}};
    c["Cropping2D"] = {args({{"cropping", Json(Json::Array{ints({1, 0}), ints({0, 2})})}, {"data_format", "channels_first"}}),
                       {{2, 2, 5, 6}}, {}, {}};
    c["Permute"] = {args({{"dims", ints({3, 1, 2})}}), {{2, 3, 4, 5}}, {}, {}};
    c["RepeatVector"] = {args({{"n", 3}}), {{2, 4}}, {}, {}};
    // Regularization layers.
    c["SpatialDropout1D"] = {args({{"rate", 0.3}, {"seed", 7}}), {{2, 4, 5}}, {}, {}};
    c["SpatialDropout2D"] = {args({{"rate", 0.3}, {"seed", 7}}), {{2, 3, 4, 5}}, {}, {}};
    c["GaussianNoise"] = {args({{"stddev", 0.1}, {"seed", 3}}), {{3, 4}}, {}, {}};
    c["GaussianDropout"] = {args({{"rate", 0.2}, {"seed", 3}}), {{3, 4}}, {}, {}};
    c["ActivityRegularization"] = {args({{"l1", 0.01}, {"l2", 0.02}}), {{3, 4}}, {}, {}};
    c["UnitNormalization"] = {args({{"axis", ints({1, 2})}}), {{2, 3, 4}}, {}, {}};
    // Preprocessing layers.
    c["Rescaling"] = {args({{"scale", Json(Json::Array{Json(0.5), Json(2.0), Json(-1.0)})}, {"offset", 0.1}}),
                      {{2, 4, 3}}, {}, {}};
    c["Normalization"] = {args({}), {{3, 4}}, {.non_trainable_weights = 3}, {}};
    c["CategoryEncoding"] = {args({{"num_tokens", 6}, {"output_mode", "count"}}), {{3, 4}},
                             {.input_dtypes = {DType::int64}, .int_input_high = 6, .gradcheck = false}, {}};
    c["GRU"] = {args({{"units", 3}, {"return_sequences", true}}), {{2, 4, 3}}, {.trainable_weights = 3}, {}};
    c["Conv1D"] = {args({{"filters", 4}, {"kernel_size", 3}, {"padding", "causal"}, {"dilation_rate", 2}, {"groups", 2}}),
                   {{2, 7, 2}}, {.trainable_weights = 2}, {}};
    c["Conv2DTranspose"] = {args({{"filters", 3}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"}}),
                            {{2, 3, 4, 2}}, {.trainable_weights = 2}, {}};
    c["DepthwiseConv2D"] = {args({{"kernel_size", 3}, {"depth_multiplier", 2}, {"padding", "same"}}), {{2, 5, 4, 3}},
                            {.trainable_weights = 2}, {}};
    c["SeparableConv2D"] = {args({{"filters", 4}, {"kernel_size", 3}, {"depth_multiplier", 2}}), {{2, 5, 6, 3}},
                            {.trainable_weights = 3}, {}};
    c["MaxPooling1D"] = {args({}), {{2, 7, 3}}, {}, {}};
    c["AveragePooling1D"] = {args({{"pool_size", 3}, {"strides", 2}, {"padding", "same"}}), {{2, 7, 3}}, {}, {}};
    c["GlobalMaxPooling1D"] = {args({}), {{2, 5, 3}}, {}, {}};
    c["GlobalAveragePooling1D"] = {args({{"keepdims", true}}), {{2, 5, 3}}, {}, {}};
    c["GlobalMaxPooling2D"] = {args({}), {{2, 4, 5, 3}}, {}, {}};
    c["Masking"] = {args({{"mask_value", 0.5}}), {{2, 4, 3}}, {}, {}};
    c["Bidirectional"] = {
        args({{"layer", args({{"class_name", "LSTM"}, {"config", args({{"units", 2}, {"return_sequences", true}})}})},
              {"merge_mode", "concat"}}),
        {{2, 3, 3}}, {.trainable_weights = 6}, {}};
    c["TimeDistributed"] = {args({{"layer", args({{"class_name", "Dense"}, {"config", args({{"units", 3}})}})}}),
                            {{2, 4, 5}}, {.trainable_weights = 2}, {}};
    c["InputLayer"] = {args({}), {}, {}, [] {
      const auto layer = from_arguments("InputLayer", args({{"shape", Json::from_vector(std::vector<int64_t>{4})},
                                                            {"dtype", "int32"}}));
      const Json config = layer->get_config();
      CHECK(config.at("batch_shape").dump() == "[null,4]");
      CHECK(config.at("dtype").as_string() == "int32");
      CHECK(layer_from_config(Json(Json::Object{{"class_name", "InputLayer"}, {"config", config}}))->get_config() ==
            config);
    }};
    return c;
  }();
  return cases;
}

}  // namespace

TEST_CASE("layer cases: every registered layer class with an argument table has a case") {
  std::vector<std::string> missing;
  for (const ArgumentTable* table : argument_tables()) {
    if (table->family == "layers" && !layer_cases().count(table->class_name)) missing.push_back(table->class_name);
  }
  std::string list;
  for (const auto& name : missing) list += name + " ";
  INFO("layer classes without a case in tests/cpp/test_layer_cases.cpp: " << list);
  CHECK(missing.empty());
  // Cases must name registered classes (a typo would check nothing).
  const std::vector<std::string> registered = registered_layer_classes();
  for (const auto& [name, c] : layer_cases()) {
    INFO(name);
    CHECK(std::find(registered.begin(), registered.end(), name) != registered.end());
    CHECK(find_argument_table("layers", name) != nullptr);
  }
}

TEST_CASE("layer cases: every registered layer class passes the generic layer checks") {
  for (const auto& [name, c] : layer_cases()) {
    CAPTURE(name);
    if (c.custom) {
      c.custom();
      continue;
    }
    check_layer([name = name, arguments = c.arguments] { return from_arguments(name, arguments); }, c.input_shapes,
                c.options);
  }
}

}  // namespace pitfall
