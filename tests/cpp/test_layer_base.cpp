// The Layer base: names, lazy build, shape checks, error context, freezing, losses, symbolic calls,
// configs and the class registry.
#include <doctest/doctest.h>

#include <pitfall/layers/activation.h>
#include <pitfall/layers/dense.h>
#include <pitfall/layers/dropout.h>
#include <pitfall/layers/flatten.h>
#include <pitfall/layers/initializers.h>
#include <pitfall/layers/input_layer.h>
#include <pitfall/layers/regularizers.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

// A layer with a sublayer and an activity loss, as a Python subclass would write it.
class TwoDenseLayer : public Layer {
 public:
  TwoDenseLayer() : Layer("TwoDense", {}) {
    DenseOptions first;
    first.kernel_regularizer = l1_regularizer(0.5);
    inner_ = std::make_shared<Dense>(3, first);
    outer_ = std::make_shared<Dense>(2);
    track(inner_);
    track(outer_);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override {
    Tensor h = (*inner_)(inputs[0], training);
    add_loss(mean(square(h)));
    return {(*outer_)(h, training)};
  }
  bool takes_float_inputs() const override { return false; }  // a container: its first Dense decides
  std::shared_ptr<Dense> inner_, outer_;
};

// A layer whose call raises an op error.
class BadMatmul : public Layer {
 public:
  BadMatmul() : Layer("BadMatmul", {}) {}
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool) override {
    return {matmul(inputs[0], Tensor::ones({7, 2}))};
  }
};

}  // namespace

TEST_CASE("layer base: automatic names are snake_case per class and clear_session resets them") {
  clear_session();
  CHECK(to_snake_case("Dense") == "dense");
  CHECK(to_snake_case("BatchNormalization") == "batch_normalization");
  CHECK(to_snake_case("Conv2D") == "conv2d");
  CHECK(to_snake_case("MaxPooling2D") == "max_pooling2d");
  CHECK(to_snake_case("GlobalAveragePooling2D") == "global_average_pooling2d");
  CHECK(to_snake_case("InputLayer") == "input_layer");
  Dense a(1), b(1), c(1);
  Dropout d(0.1);
  CHECK(a.name() == "dense");
  CHECK(b.name() == "dense_1");
  CHECK(c.name() == "dense_2");
  CHECK(d.name() == "dropout");
  LayerOptions named;
  named.name = "classifier";
  CHECK(Dense(1, DenseOptions{}, named).name() == "classifier");
  clear_session();
  CHECK(Dense(1).name() == "dense");
}

TEST_CASE("layer base: lazy build on the first call, only the batch may change afterwards") {
  clear_session();
  auto dense = std::make_shared<Dense>(4);
  CHECK_FALSE(dense->built());
  CHECK(dense->weights().empty());
  (*dense)(Tensor::zeros({32, 784}));
  CHECK(dense->built());
  CHECK(dense->weights().size() == 2);
  CHECK(dense->built_input_shapes() == std::vector<Shape>{{-1, 784}});
  CHECK((*dense)(Tensor::zeros({5, 784})).shape() == Shape{5, 4});

  const std::string message = message_of([&] { (*dense)(Tensor::zeros({32, 10})); });
  CHECK(message.find("layer 'dense' (Dense) expected input shape (None, 784) but got (32, 10)") == 0);
  CHECK(message.find("batch") != std::string::npos);  // says what may change
  try {
    (*dense)(Tensor::zeros({32, 10}));
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::shape);
  }
}

TEST_CASE("layer base: the shape check fixes only what the weights depend on") {
  auto dense = std::make_shared<Dense>(2);
  (*dense)(Tensor::zeros({4, 3}));
  // Dense's kernel fixes the last axis only (Keras InputSpec axes={-1: 3})
  CHECK((*dense)(Tensor::zeros({4, 5, 3})).shape() == Shape{4, 5, 2});
  // a layer without weights takes any shape
  auto dropout = std::make_shared<Dropout>(0.5);
  (*dropout)(Tensor::zeros({4, 3}));
  CHECK((*dropout)(Tensor::zeros({7})).shape() == Shape{7});
}

TEST_CASE("layer base: an op error inside call names the layer, its class and the input") {
  clear_session();
  auto bad = std::make_shared<BadMatmul>();
  std::string message;
  ErrorKind kind = ErrorKind::runtime;
  try {
    (*bad)(Tensor::zeros({4, 3}));
  } catch (const Error& e) {
    message = e.what();
    kind = e.kind();
  }
  CHECK(kind == ErrorKind::shape);
  CHECK(message.rfind("layer 'bad_matmul' (BadMatmul) called on input (4, 3) float32: ", 0) == 0);
  CHECK(message.find("matmul") != std::string::npos);  // the op's own message is kept
  CHECK(message.find("(7, 2)") != std::string::npos);

  // float64 data into a float32 Dense: strict dtypes raise DTypeError naming the layer and both dtypes
  auto dense = std::make_shared<Dense>(2);
  (*dense)(Tensor::zeros({1, 3}));
  {
    DTypeModeScope strict(DTypeMode::strict);
    const std::string dtype_message = message_of([&] { (*dense)(Tensor::zeros({1, 3}, DType::float64)); });
    CHECK(dtype_message.rfind("layer 'dense' (Dense): float64 input where float32 is expected", 0) == 0);
    CHECK_THROWS_AS((*dense)(Tensor::zeros({1, 3}, DType::float64)), DTypeError);
  }
  // ... and by default the layer casts (Keras's autocast) and says so once.
  WarningCapture warnings;
  CHECK((*dense)(Tensor::zeros({1, 3}, DType::float64)).dtype() == DType::float32);
  (*dense)(Tensor::zeros({1, 3}, DType::float64));
  REQUIRE(warnings.messages.size() == 1);
  CHECK(contains(warnings.messages[0], "layer 'dense' (Dense): float64 input cast to float32"));
  CHECK(contains(warnings.messages[0], "precision"));
}

TEST_CASE("layer base: integer inputs cast with the range seen, or raise under strict dtypes") {
  clear_session();
  auto dense = std::make_shared<Dense>(2);
  const Tensor pixels = cast(Tensor::from_vector(std::vector<double>{0, 17, 255, 3, 9, 128}, {2, 3}), DType::uint8);
  WarningCapture warnings;
  const Tensor out = (*dense)(pixels);
  CHECK(out.dtype() == DType::float32);
  REQUIRE(warnings.messages.size() == 1);
  CHECK(contains(warnings.messages[0], "layer 'dense' (Dense): uint8 input with values in [0, 255] cast to float32"));
  CHECK(contains(warnings.messages[0], "did you mean to scale it"));
  // The cast is exact for these values: the same output as float data.
  CHECK(bitwise_equal(out, (*dense)(cast(pixels, DType::float32))));
  DTypeModeScope strict(DTypeMode::strict);
  const std::string message = message_of([&] { (*dense)(pixels); });
  CHECK(contains(message, "uint8 input with values in [0, 255] where float32 is expected"));
  CHECK(contains(message, "x.astype('float32') / 255"));
  // Layers that move data or take indices keep integers as they are.
  Flatten flatten;
  CHECK(flatten(pixels).dtype() == DType::uint8);
}

TEST_CASE("layer base: errors of a sublayer keep the innermost layer's name") {
  clear_session();
  auto model = std::make_shared<TwoDenseLayer>();
  (*model)(Tensor::zeros({2, 5}));
  // Integers pass through the model to its first Dense, which refuses them under strict dtypes.
  DTypeModeScope strict(DTypeMode::strict);
  const std::string message = message_of([&] { (*model)(Tensor::zeros({2, 5}, DType::int32)); });
  INFO(message);
  CHECK(message.find("layer 'dense' (Dense): int32 input with values in [0, 0] where float32 is expected") !=
        std::string::npos);  // the inner layer (auto-named "dense") says it, inside "two_dense"
  CHECK(message.find("two_dense") != std::string::npos);
}

TEST_CASE("layer base: the number of inputs is checked") {
  auto dense = std::make_shared<Dense>(2);
  const std::string message = message_of([&] { (*dense)(std::vector<Tensor>{Tensor::zeros({1, 2}), Tensor::zeros({1, 2})}); });
  CHECK(message.find("expects 1 input(s) but was called on 2") != std::string::npos);
}

TEST_CASE("layer base: trainable=false freezes every weight, also of tracked sublayers") {
  auto model = std::make_shared<TwoDenseLayer>();
  (*model)(Tensor::ones({2, 5}));
  CHECK(model->weights().size() == 4);
  CHECK(model->trainable_weights().size() == 4);
  model->set_trainable(false);
  CHECK(model->trainable_weights().empty());
  CHECK(model->non_trainable_weights().size() == 4);
  for (Weight* w : model->weights()) CHECK_FALSE(w->value.requires_grad());
  // a frozen layer's output does not require grad
  CHECK_FALSE((*model)(Tensor::ones({2, 5})).requires_grad());
  model->outer_->set_trainable(true);
  CHECK(model->trainable_weights().size() == 2);

  LayerOptions frozen;
  frozen.trainable = false;
  auto dense = std::make_shared<Dense>(2, DenseOptions{}, frozen);
  (*dense)(Tensor::ones({1, 3}));
  CHECK(dense->trainable_weights().empty());
  CHECK(dense->non_trainable_weights().size() == 2);
  CHECK(dense->get_config().at("trainable").as_bool() == false);
}

TEST_CASE("layer base: weights are leaves named layer/weight, drawn from the global generator at build") {
  set_random_seed(5);
  clear_session();
  auto first = std::make_shared<Dense>(3);
  (*first)(Tensor::ones({1, 4}));
  CHECK(first->kernel().name() == "dense/kernel");
  CHECK(first->bias().name() == "dense/bias");
  CHECK(first->kernel().is_leaf());
  CHECK(first->kernel().requires_grad());
  // same seed, same build order -> the same weights, whatever was constructed in between
  set_random_seed(5);
  auto unused = std::make_shared<Dense>(8);
  auto second = std::make_shared<Dense>(3);
  (*second)(Tensor::ones({7, 4}));
  CHECK(pitfall::testing::bitwise_equal(first->kernel(), second->kernel()));
  // a second build draws a new stream
  auto third = std::make_shared<Dense>(3);
  (*third)(Tensor::ones({1, 4}));
  CHECK_FALSE(pitfall::testing::bitwise_equal(first->kernel(), third->kernel()));
}

TEST_CASE("layer base: losses are the regularization penalties plus the last call's add_loss") {
  DenseOptions options;
  options.kernel_regularizer = l2_regularizer(0.01);
  auto dense = std::make_shared<Dense>(3, options);
  (*dense)(Tensor::ones({2, 4}));
  const auto losses = dense->losses();
  REQUIRE(losses.size() == 1);
  double expected = 0;
  for (float w : dense->kernel().to_vector<float>()) expected += 0.01 * static_cast<double>(w) * w;
  CHECK(losses[0].item() == doctest::Approx(expected).epsilon(1e-6));
  // differentiable with respect to the kernel: d/dw 0.01*w^2 = 0.02*w
  const auto g = gradients(losses[0], {dense->kernel()})[0].to_vector<float>();
  const auto w = dense->kernel().to_vector<float>();
  for (size_t i = 0; i < w.size(); ++i) CHECK(g[i] == doctest::Approx(0.02 * w[i]).epsilon(1e-5));

  auto model = std::make_shared<TwoDenseLayer>();
  const Tensor x = Tensor::from_vector<float>({1, -2, 3, 0.5f, 1, 2, 0, -1, 1, 1}, {2, 5});
  (*model)(x);
  auto model_losses = model->losses();
  REQUIRE(model_losses.size() == 2);  // inner kernel's L1, then the activity loss
  double l1 = 0;
  for (float v : model->inner_->kernel().to_vector<float>()) l1 += 0.5 * std::abs(v);
  CHECK(model_losses[0].item() == doctest::Approx(l1).epsilon(1e-6));
  const Tensor h = (*model->inner_)(x);
  CHECK(model_losses[1].item() == doctest::Approx(mean(square(h)).item()).epsilon(1e-6));
  // the next call replaces the call losses instead of accumulating them
  (*model)(x);
  CHECK(model->losses().size() == 2);
}

TEST_CASE("layer base: symbolic calls build from -1 batch shapes and return KerasTensors") {
  clear_session();
  const KerasTensor input{Shape{-1, 6}, DType::float32, nullptr, 0};
  auto dense = std::make_shared<Dense>(4);
  const KerasTensor h = (*dense)(input);
  CHECK(h.shape == Shape{-1, 4});
  CHECK(h.node->layer == dense);
  CHECK(h.node->output_shapes == std::vector<Shape>{{-1, 4}});
  CHECK(h.node->output_dtypes == std::vector<DType>{DType::float32});
  CHECK(h.str() == "<KerasTensor shape=(None, 4), dtype=float32, source=dense>");
  auto act = std::make_shared<Activation>("relu");
  const KerasTensor out = (*act)(h);
  CHECK(out.shape == Shape{-1, 4});
  CHECK(out.node->inputs[0].node == h.node);
  // the layer built from the symbolic shape then accepts any batch
  CHECK((*dense)(Tensor::ones({3, 6})).shape() == Shape{3, 4});
  // symbolic shape mismatch: the same error as for tensors
  const std::string message = message_of([&] { (*dense)(KerasTensor{Shape{-1, 5}, DType::float32, nullptr, 0}); });
  CHECK(message.rfind("layer 'dense' (Dense) expected input shape (None, 6) but got (None, 5)", 0) == 0);
}

TEST_CASE("layer base: the default compute_output_shape runs call on zeros") {
  auto bad = std::make_shared<BadMatmul>();
  CHECK(bad->compute_output_shape({{-1, 7}}) == std::vector<Shape>{{-1, 2}});
  CHECK(bad->compute_output_shape({{3, 7}}) == std::vector<Shape>{{3, 2}});
}

TEST_CASE("layer base: configs carry name, trainable, dtype and the declared input shape") {
  LayerOptions options;
  options.name = "hidden";
  options.input_shape = Shape{784};
  options.dtype = DType::float64;
  Dense dense(16, "relu", options);
  const Json config = dense.get_config();
  CHECK(config.at("name").as_string() == "hidden");
  CHECK(config.at("trainable").as_bool());
  CHECK(config.at("dtype").as_string() == "float64");
  CHECK(config.at("batch_input_shape").dump() == "[null,784]");
  CHECK(dense.declared_input_shape() == Shape{784});
  const LayerOptions back = layer_options_from_config(config);
  CHECK(back.name == "hidden");
  CHECK(back.input_shape == Shape{784});
  CHECK(back.dtype == DType::float64);
}

TEST_CASE("layer base: the class registry builds layers from configs and suggests names") {
  const auto names = registered_layer_classes();
  for (const char* name : {"Dense", "Activation", "Dropout", "Flatten", "Reshape", "InputLayer"}) {
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
  }
  auto layer = layer_from_config(Json::parse(R"({"class_name": "Dense", "config": {"units": 5, "activation": "relu"}})"));
  CHECK(layer->class_name() == "Dense");
  CHECK(std::static_pointer_cast<Dense>(layer)->units() == 5);
  const std::string message = message_of([] { layer_from_config(Json::parse(R"({"class_name": "Dens", "config": {}})")); });
  CHECK(message.find("unknown layer class 'Dens'") != std::string::npos);
  CHECK(message.find("did you mean 'Dense'") != std::string::npos);
  register_layer_class("MyIdentity", [](const Json&) -> std::shared_ptr<Layer> {
    return std::make_shared<Activation>("linear");
  });
  CHECK(layer_from_config(Json::parse(R"({"class_name": "MyIdentity"})"))->class_name() == "Activation");
}

TEST_CASE("layer base: did_you_mean and floatx") {
  CHECK(did_you_mean("rleu", {"relu", "elu", "selu", "tanh"}) == "did you mean 'relu'?");
  CHECK(did_you_mean("zzzzzzzz", {"relu", "tanh"}) == "known names: relu, tanh");
  CHECK(floatx() == DType::float32);
  set_floatx(DType::float64);
  CHECK(Dense(2).dtype() == DType::float64);
  set_floatx(DType::float32);
  CHECK(Dense(2).dtype() == DType::float32);
  CHECK(message_of([] { set_floatx(DType::int32); }).find("int32") != std::string::npos);
}

TEST_CASE("layer base: a layer's own random keys come from its seed, one stream per draw") {
  Dropout a(0.5, std::nullopt, 42), b(0.5, std::nullopt, 42);
  const RandomKey k1 = a.next_random_key();
  const RandomKey k2 = a.next_random_key();
  CHECK(k1.seed == 42);
  CHECK(k2.stream == k1.stream + 1);
  CHECK(b.next_random_key().stream == k1.stream);
  Dropout unseeded(0.5);
  set_random_seed(9);
  const RandomKey u = unseeded.next_random_key();
  Dropout unseeded2(0.5);
  set_random_seed(9);
  CHECK(unseeded2.next_random_key().seed == u.seed);
}
