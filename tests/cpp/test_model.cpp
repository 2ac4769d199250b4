// Models: functional graphs, Sequential, subclassed models; layers, weights, summary, configs and
// the errors for wrong inputs.
#include <doctest/doctest.h>

#include <pitfall/layers/activation.h>
#include <pitfall/layers/dense.h>
#include <pitfall/layers/embedding.h>
#include <pitfall/layers/flatten.h>
#include <pitfall/layers/input_layer.h>
#include <pitfall/layers/merge.h>
#include <pitfall/training/model.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

Tensor ramp(const Shape& shape, double scale = 0.01) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(scale * static_cast<double>((i * 7) % 23) - 0.1);
  return Tensor::from_vector(v, shape);
}

// Reference Dense forward: x @ kernel + bias, computed element by element in double.
std::vector<double> dense_reference(const Tensor& x, const Tensor& kernel, const Tensor& bias, bool relu) {
  const int64_t n = x.dim(0), in = kernel.dim(0), out = kernel.dim(1);
  std::vector<double> y(static_cast<size_t>(n * out));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < out; ++j) {
      double s = bias.value_at(j);
      for (int64_t k = 0; k < in; ++k) s += x.value_at(r * in + k) * kernel.value_at(k * out + j);
      y[static_cast<size_t>(r * out + j)] = relu ? std::max(0.0, s) : s;
    }
  }
  return y;
}


}  // namespace

TEST_CASE("model: Input returns a symbolic tensor with an unknown batch") {
  clear_session();
  KerasTensor x = Input({784});
  CHECK(x.shape == Shape{-1, 784});
  CHECK(x.dtype == DType::float32);
  REQUIRE(x.node);
  CHECK(x.node->layer->class_name() == "InputLayer");
  CHECK(x.node->inputs.empty());
  CHECK(contains(message_of([] { Input({0, 3}); }), "invalid dimension"));
}

TEST_CASE("model: functional model computes the layers in order and matches a reference") {
  clear_session();
  set_random_seed(3);
  KerasTensor in = Input({5});
  auto d1 = std::make_shared<Dense>(4, "relu");
  auto d2 = std::make_shared<Dense>(2);
  KerasTensor h = (*d1)(in);
  KerasTensor out = (*d2)(h);
  Model model({in}, {out});
  CHECK(model.built());
  CHECK(model.class_name() == "Functional");
  CHECK(model.name() == "functional");
  const Tensor x = ramp({3, 5});
  const Tensor y = model(x);
  const auto hidden = dense_reference(x, d1->kernel(), d1->bias(), true);
  const Tensor hidden_t = Tensor::from_vector(std::vector<float>(hidden.begin(), hidden.end()), {3, 4});
  const auto expected = dense_reference(hidden_t, d2->kernel(), d2->bias(), false);
  REQUIRE(y.shape() == Shape{3, 2});
  for (int64_t i = 0; i < 6; ++i) CHECK(y.value_at(i) == doctest::Approx(expected[static_cast<size_t>(i)]).epsilon(1e-5));

  // layers(): the InputLayer first, then topological order; weights in Keras order.
  const auto layers = model.layers();
  REQUIRE(layers.size() == 3);
  CHECK(layers[0]->class_name() == "InputLayer");
  CHECK(layers[1] == d1);
  CHECK(layers[2] == d2);
  const auto ws = model.weights();
  REQUIRE(ws.size() == 4);
  CHECK(ws[0]->path == "dense/kernel");
  CHECK(ws[1]->path == "dense/bias");
  CHECK(ws[2]->path == "dense_1/kernel");
  CHECK(ws[3]->path == "dense_1/bias");
  CHECK(model.count_params() == 5 * 4 + 4 + 4 * 2 + 2);
  CHECK(model.get_layer("dense_1") == d2);
  const std::string missing = message_of([&] { model.get_layer("dense_7"); });
  CHECK(contains(missing, "no layer named 'dense_7'"));
  CHECK(contains(missing, "dense_1"));
}

TEST_CASE("model: functional DAG with two inputs, a shared layer and two outputs") {
  clear_session();
  set_random_seed(5);
  KerasTensor a = Input({3}, DType::float32, "a");
  KerasTensor b = Input({3}, DType::float32, "b");
  auto shared = std::make_shared<Dense>(2);
  KerasTensor sa = (*shared)(a);
  KerasTensor sb = (*shared)(b);
  auto add = std::make_shared<Add>();
  KerasTensor sum_ab = (*add)(std::vector<KerasTensor>{sa, sb}).at(0);
  auto head = std::make_shared<Dense>(1, "linear", named("head"));
  KerasTensor out2 = (*head)(sum_ab);
  Model model({a, b}, {sum_ab, out2});
  CHECK(model.num_inputs() == 2);
  // The shared layer's weights appear once.
  CHECK(model.weights().size() == 4);
  const Tensor xa = ramp({4, 3}), xb = ramp({4, 3}, 0.02);
  const auto outs = model(std::vector<Tensor>{xa, xb});
  REQUIRE(outs.size() == 2);
  const Tensor expected = pitfall::add((*shared)(xa), (*shared)(xb));
  CHECK(bitwise_equal(outs[0], expected));
  CHECK(outs[1].shape() == Shape{4, 1});
  const std::string text = model.summary();
  CHECK(contains(text, "Connected to"));
  CHECK(contains(text, "dense[0][0]"));
  CHECK(contains(text, "dense[1][0]"));
}

TEST_CASE("model: graph disconnected error names the tensor, the layer and the inputs") {
  clear_session();
  KerasTensor a = Input({3}, DType::float32, "a");
  KerasTensor b = Input({3}, DType::float32, "b");
  KerasTensor s = (*std::make_shared<Add>())(std::vector<KerasTensor>{a, b}).at(0);
  const std::string msg = message_of([&] { Model model({a}, {s}); });
  CHECK(contains(msg, "Graph disconnected"));
  CHECK(contains(msg, "source=b"));
  CHECK(contains(msg, "at layer 'add'"));
  CHECK(contains(msg, "The inputs given are [a]"));
}

TEST_CASE("model: a built model rejects a wrong input shape naming the model and both shapes") {
  clear_session();
  KerasTensor in = Input({784});
  Model model({in}, {(*std::make_shared<Dense>(10))(in)});
  const std::string msg = message_of([&] { model(Tensor::zeros({2, 10})); });
  CHECK(contains(msg, "functional"));
  CHECK(contains(msg, "(None, 784)"));
  CHECK(contains(msg, "(2, 10)"));

  Sequential seq({std::make_shared<Dense>(4, "relu", LayerOptions{"", true, DType::float32, Shape{8}})});
  const std::string seq_msg = message_of([&] { seq(Tensor::zeros({2, 5})); });
  CHECK(contains(seq_msg, "sequential"));
  CHECK(contains(seq_msg, "(None, 8)"));
  CHECK(contains(seq_msg, "(2, 5)"));
  // predict checks up front and names the input index.
  const std::string predict_msg = message_of([&] { seq.predict({Tensor::zeros({2, 5})}); });
  CHECK(contains(predict_msg, "input 0"));
  CHECK(contains(predict_msg, "(None, 8)"));
  CHECK(contains(predict_msg, "(2, 5)"));
}

TEST_CASE("model: Sequential builds eagerly from input_shape and lazily otherwise") {
  clear_session();
  LayerOptions with_shape;
  with_shape.input_shape = Shape{784};
  Sequential eager({std::make_shared<Dense>(128, "relu", with_shape), std::make_shared<Dense>(10, "softmax")});
  CHECK(eager.built());
  CHECK(eager.name() == "sequential");
  CHECK(eager.layers().size() == 2);  // the InputLayer is not listed
  CHECK(eager.count_params() == 784 * 128 + 128 + 128 * 10 + 10);
  CHECK(eager.inputs().at(0).shape == Shape{-1, 784});

  Sequential lazy({std::make_shared<Dense>(3), std::make_shared<Dense>(2)});
  CHECK_FALSE(lazy.built());
  CHECK(lazy.weights().empty());
  const Tensor y = lazy(ramp({4, 6}));
  CHECK(y.shape() == Shape{4, 2});
  CHECK(lazy.built());
  CHECK(lazy.weights().size() == 4);
  CHECK(lazy.inputs().at(0).shape == Shape{-1, 6});

  // add() errors and pop().
  CHECK(contains(message_of([&] { lazy.add(nullptr); }), "expects a Layer"));
  CHECK(contains(message_of([&] { lazy.add(std::make_shared<Dense>(2, "linear", named(lazy.layers()[0]->name()))); }), "unique names"));
  lazy.add(std::make_shared<Dense>(5));
  CHECK(lazy(ramp({2, 6})).shape() == Shape{2, 5});
  lazy.pop();
  CHECK(lazy.layers().size() == 2);
  CHECK(lazy.weights().size() == 4);
  CHECK(lazy(ramp({2, 6})).shape() == Shape{2, 2});
}

TEST_CASE("model: Sequential starting with an InputLayer") {
  clear_session();
  auto input = std::make_shared<InputLayer>(Shape{4});
  Sequential model({input, std::make_shared<Dense>(2)});
  CHECK(model.built());
  CHECK(model.layers().size() == 1);
  CHECK(model.input_layer() == input);
  CHECK(contains(message_of([&] { model.add(std::make_shared<InputLayer>(Shape{4})); }), "first layer"));
}

TEST_CASE("model: Sequential, functional and subclassed models give identical weights and outputs") {
  const Tensor x = ramp({5, 8});
  clear_session();
  set_random_seed(11);
  LayerOptions with_shape;
  with_shape.input_shape = Shape{8};
  Sequential seq({std::make_shared<Dense>(16, "relu", with_shape), std::make_shared<Dense>(3, "softmax")});

  clear_session();
  set_random_seed(11);
  KerasTensor in = Input({8});
  KerasTensor h = (*std::make_shared<Dense>(16, "relu"))(in);
  Model fn({in}, {(*std::make_shared<Dense>(3, "softmax"))(h)});

  clear_session();
  set_random_seed(11);
  TwoDense sub;
  CHECK_FALSE(sub.built());
  const Tensor y_sub = sub(x);  // builds on the first call

  const auto ws = seq.get_weights(), wf = fn.get_weights(), wsub = sub.get_weights();
  REQUIRE(ws.size() == 4);
  REQUIRE(wf.size() == 4);
  REQUIRE(wsub.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(bitwise_equal(ws[i], wf[i]));
    CHECK(bitwise_equal(ws[i], wsub[i]));
  }
  CHECK(bitwise_equal(seq(x), fn(x)));
  CHECK(bitwise_equal(seq(x), y_sub));
  CHECK(sub.name() == "two_dense");
}

TEST_CASE("model: summary lists rows, shapes and parameter totals") {
  clear_session();
  LayerOptions with_shape;
  with_shape.input_shape = Shape{784};
  Sequential model({std::make_shared<Dense>(128, "relu", with_shape), std::make_shared<Dense>(10, "softmax")});
  const std::string text = model.summary();
  CHECK(contains(text, "Model: \"sequential\""));
  CHECK(contains(text, "Layer (type)"));
  CHECK(contains(text, "Output Shape"));
  CHECK(contains(text, "Param #"));
  CHECK(contains(text, "dense (Dense)"));
  CHECK(contains(text, "(None, 128)"));
  CHECK(contains(text, "100,480"));
  CHECK(contains(text, "dense_1 (Dense)"));
  CHECK(contains(text, "(None, 10)"));
  CHECK(contains(text, "1,290"));
  CHECK(contains(text, "Total params: 101,770 (397.54 KB)"));
  CHECK(contains(text, "Trainable params: 101,770 (397.54 KB)"));
  CHECK(contains(text, "Non-trainable params: 0 (0.00 B)"));
  CHECK_FALSE(contains(text, "InputLayer"));

  model.layers()[1]->set_trainable(false);
  const std::string frozen = model.summary();
  CHECK(contains(frozen, "Trainable params: 100,480"));
  CHECK(contains(frozen, "Non-trainable params: 1,290"));

  // A functional model lists its InputLayer with 0 parameters.
  clear_session();
  KerasTensor in = Input({4});
  Model fn({in}, {(*std::make_shared<Dense>(2))(in)});
  const std::string fn_text = fn.summary();
  CHECK(contains(fn_text, "input_layer (InputLayer)"));
  CHECK(contains(fn_text, "Total params: 10 (40.00 B)"));
}

TEST_CASE("model: get_weights and set_weights round trip, mismatches name the weight and shapes") {
  clear_session();
  set_random_seed(2);
  LayerOptions with_shape;
  with_shape.input_shape = Shape{3};
  Sequential model({std::make_shared<Dense>(4, "relu", with_shape), std::make_shared<Dense>(2)});
  auto weights = model.get_weights();
  REQUIRE(weights.size() == 4);
  // get_weights returns copies.
  const Tensor before = weights[0].clone();
  weights[0] = Tensor::full({3, 4}, 0.5);
  model.set_weights(weights);
  CHECK(bitwise_equal(model.get_weights()[0], Tensor::full({3, 4}, 0.5)));
  CHECK_FALSE(bitwise_equal(model.get_weights()[0], before));

  auto wrong = model.get_weights();
  wrong[2] = Tensor::zeros({2, 4});
  const std::string msg = message_of([&] { model.set_weights(wrong); });
  CHECK(contains(msg, "dense_1/kernel"));
  CHECK(contains(msg, "(4, 2)"));
  CHECK(contains(msg, "(2, 4)"));
  wrong.pop_back();
  CHECK(contains(message_of([&] { model.set_weights(wrong); }), "got 3 arrays but the model has 4 weights"));
}

TEST_CASE("model: functional and Sequential configs rebuild the same model") {
  clear_session();
  set_random_seed(9);
  KerasTensor a = Input({3}, DType::float32, "a");
  KerasTensor b = Input({3}, DType::float32, "b");
  auto shared = std::make_shared<Dense>(2, "linear", named("shared"));
  KerasTensor s = (*std::make_shared<Add>(named("sum")))(
      std::vector<KerasTensor>{(*shared)(a), (*shared)(b)}).at(0);
  KerasTensor out = (*std::make_shared<Dense>(1, "linear", named("head")))(s);
  Model model({a, b}, {out}, named("pair"));
  const Json config = model.get_config();
  CHECK(config.at("name").as_string() == "pair");
  const auto& layers = config.at("layers").as_array();
  REQUIRE(layers.size() == 5);
  // The shared layer was called twice: two inbound nodes.
  bool found_shared = false;
  for (const auto& entry : layers) {
    if (entry.at("name").as_string() == "shared") {
      found_shared = true;
      CHECK(entry.at("inbound_nodes").as_array().size() == 2);
    }
    if (entry.at("name").as_string() == "sum") {
      CHECK(entry.at("inbound_nodes").dump() == R"([[["shared",0,0],["shared",1,0]]])");
    }
  }
  CHECK(found_shared);
  CHECK(config.at("output_layers").dump() == R"([["head",0,0]])");

  Json entry = Json::object();
  entry["class_name"] = "Functional";
  entry["config"] = config;
  auto rebuilt = std::dynamic_pointer_cast<Model>(layer_from_config(entry));
  REQUIRE(rebuilt);
  rebuilt->set_weights(model.get_weights());
  const Tensor xa = ramp({2, 3}), xb = ramp({2, 3}, 0.03);
  CHECK(bitwise_equal((*rebuilt)(std::vector<Tensor>{xa, xb})[0], model(std::vector<Tensor>{xa, xb})[0]));
  CHECK(rebuilt->get_config() == config);

  clear_session();
  LayerOptions with_shape;
  with_shape.input_shape = Shape{4};
  Sequential seq({std::make_shared<Dense>(3, "relu", with_shape), std::make_shared<Dense>(2)});
  const Json seq_config = seq.get_config();
  CHECK(seq_config.at("layers").as_array().size() == 3);
  CHECK(seq_config.at("layers").as_array()[0].at("class_name").as_string() == "InputLayer");
  Json seq_entry = Json::object();
  seq_entry["class_name"] = "Sequential";
  seq_entry["config"] = seq_config;
  clear_session();
  auto seq2 = std::dynamic_pointer_cast<Sequential>(layer_from_config(seq_entry));
  REQUIRE(seq2);
  CHECK(seq2->built());
  CHECK(seq2->layers().size() == 2);
  seq2->set_weights(seq.get_weights());
  const Tensor x = ramp({3, 4});
  CHECK(bitwise_equal((*seq2)(x), seq(x)));
}

TEST_CASE("model: a model can be used as a layer of another model") {
  clear_session();
  set_random_seed(4);
  KerasTensor in = Input({3});
  auto inner = std::make_shared<Model>(std::vector<KerasTensor>{in},
                                       std::vector<KerasTensor>{(*std::make_shared<Dense>(2))(in)});
  KerasTensor outer_in = Input({3});
  KerasTensor out = (*std::make_shared<Dense>(1))((*inner)(outer_in));
  Model outer({outer_in}, {out});
  CHECK(outer.weights().size() == 4);
  const Tensor x = ramp({2, 3});
  CHECK(outer.layers()[1] == inner);
  CHECK(outer(x).shape() == Shape{2, 1});
  CHECK(bitwise_equal(outer(x), (*outer.layers()[2])((*inner)(x))));
}

TEST_CASE("model: a subclassed model lists tracked layers and rejects being called without call()") {
  clear_session();
  set_random_seed(1);
  TwoDense model;
  CHECK(model.layers().size() == 2);
  model(ramp({2, 5}));
  const std::string text = model.summary();
  CHECK(contains(text, "Model: \"two_dense\""));
  CHECK(contains(text, "dense (Dense)"));
  CHECK(contains(text, "Total params: " + std::to_string(5 * 16 + 16 + 16 * 3 + 3)));
  Model bare;
  CHECK(contains(message_of([&] { bare(Tensor::zeros({1, 2})); }), "must override call"));
  // Freezing the model freezes its layers.
  model.set_trainable(false);
  CHECK(model.trainable_weights().empty());
  CHECK(model.non_trainable_weights().size() == 4);
}

TEST_CASE("model: a lazily built Sequential keeps integer token ids as integers") {
  clear_session();
  set_random_seed(6);
  Sequential model({std::make_shared<Embedding>(10, 4), std::make_shared<Flatten>(), std::make_shared<Dense>(2)});
  const Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 9, 0, 4}, {2, 3});
  const Tensor y = model(ids);
  CHECK(y.shape() == Shape{2, 2});
  CHECK(model.inputs().at(0).dtype == DType::int64);
  CHECK(model.inputs().at(0).shape == Shape{-1, 3});
  CHECK(model.weights().size() == 3);
  CHECK(contains(model.summary(), "(None, 3, 4)"));
}

TEST_CASE("model: summary of an unbuilt Sequential shows unknown shapes") {
  clear_session();
  Sequential model({std::make_shared<Dense>(3)});
  const std::string text = model.summary();
  CHECK(contains(text, "dense (Dense)"));
  CHECK(contains(text, "?"));
  CHECK(contains(text, "Total params: 0 (0.00 B)"));
}
