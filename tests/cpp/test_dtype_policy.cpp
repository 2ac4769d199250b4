// Dtype policies (floatx, mixed_float16 / mixed_bfloat16), autocasting at layers, the dtype modes
// (strict / warn / permissive) and NumPy-style promotion, and float32 vs float64 training.
#include <doctest/doctest.h>

#include <cmath>

#include <pitfall/layers/dense.h>
#include <pitfall/layers/losses.h>
#include <pitfall/training/model.h>
#include <pitfall/optim/optimizer.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

// Restores floatx and the global policy (tests change both).
struct PrecisionScope {
  DType floatx_before = floatx();
  ~PrecisionScope() {
    set_floatx(floatx_before);
    reset_global_policy();
  }
};

LayerOptions with_policy(const std::string& policy, const std::string& name = "") {
  LayerOptions options;
  options.name = name;
  options.dtype = dtype_policy(policy);
  return options;
}

// A seeded 3-class problem, label = argmax(x @ W): learnable by a small MLP.
struct Problem {
  Tensor x, y;
};

Problem three_classes(int64_t rows, DType dtype = DType::float32) {
  const Tensor x = random_normal({rows, 8}, 0.0, 1.0, DType::float64, RandomKey{77, 1});
  const Tensor w = random_normal({8, 3}, 0.0, 1.0, DType::float64, RandomKey{77, 2});
  const Tensor labels = argmax(matmul(x, w), -1);
  return {cast(x, dtype), labels};
}

std::shared_ptr<Model> mlp(uint64_t seed) {
  clear_session();
  set_random_seed(seed);
  LayerOptions first;
  first.input_shape = Shape{8};
  return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<Dense>(32, "relu", first), std::make_shared<Dense>(16, "tanh"), std::make_shared<Dense>(3, "softmax")});
}

double accuracy(Model& model, const Problem& p) {
  NoGradGuard no_grad;
  const Tensor predicted = argmax(cast(model(std::vector<Tensor>{p.x}).at(0), DType::float32), -1);
  const auto a = predicted.to_vector<int64_t>(), b = p.y.to_vector<int64_t>();
  int64_t hits = 0;
  for (size_t i = 0; i < a.size(); ++i) hits += a[i] == b[i];
  return static_cast<double>(hits) / static_cast<double>(a.size());
}

}  // namespace

TEST_SUITE("dtype policy") {

TEST_CASE("dtype policy: names, and the global policy follows floatx until set") {
  PrecisionScope restore;
  const DTypePolicy mixed = dtype_policy("mixed_float16");
  CHECK(mixed.variable_dtype == DType::float32);
  CHECK(mixed.compute_dtype == DType::float16);
  CHECK(mixed.is_mixed());
  CHECK(dtype_policy("mixed_bfloat16").compute_dtype == DType::bfloat16);
  CHECK(dtype_policy("float64").compute_dtype == DType::float64);
  CHECK(!dtype_policy("float64").is_mixed());
  const std::string unknown = message_of([] { dtype_policy("mixed_float8"); });
  CHECK(contains(unknown, "'mixed_float8'"));
  CHECK(contains(unknown, "mixed_bfloat16"));

  CHECK(global_policy().name == "float32");
  set_floatx(DType::float64);
  CHECK(global_policy().name == "float64");
  Dense wide(2);
  wide.ensure_built({{-1, 3}});
  CHECK(wide.dtype() == DType::float64);
  CHECK(wide.kernel().dtype() == DType::float64);

  set_global_policy("mixed_bfloat16");
  Dense mixed_layer(2);
  CHECK(mixed_layer.dtype_policy().name == "mixed_bfloat16");
  CHECK(mixed_layer.dtype() == DType::float32);
  CHECK(mixed_layer.compute_dtype() == DType::bfloat16);
  CHECK(mixed_layer.get_config().at("dtype").as_string() == "mixed_bfloat16");
  // A layer given a dtype ignores the global policy (Keras).
  Dense own(2, "linear", with_policy("float32"));
  CHECK(own.compute_dtype() == DType::float32);
  CHECK_THROWS_AS(set_global_policy("int32"), ValueError);
  reset_global_policy();
  CHECK(global_policy().name == "float64");  // back to following floatx
}

TEST_CASE("dtype policy: a mixed_float16 Dense keeps float32 weights and gradients, computes in float16") {
  PrecisionScope restore;
  clear_session();
  Dense layer(4, "linear", with_policy("mixed_float16", "mixed_dense"));
  const Tensor x = random_normal({5, 3}, 0.0, 1.0, DType::float32, RandomKey{3, 1});
  WarningCapture warnings;
  const Tensor out = layer(x, true);
  (void)layer(x, true);
  CHECK(out.dtype() == DType::float16);
  CHECK(layer.kernel().dtype() == DType::float32);
  // The same arithmetic written out: inputs and weights rounded to float16, one float16 matmul.
  const Tensor want = add(matmul(cast(x, DType::float16), cast(layer.kernel().detach(), DType::float16)),
                          cast(layer.bias().detach(), DType::float16));
  CHECK(bitwise_equal(out, want));
  // The autocast says so once per layer.
  REQUIRE(warnings.messages.size() == 1);
  CHECK(contains(warnings.messages[0], "layer 'mixed_dense' (Dense): float32 input autocast to float16"));
  CHECK(contains(warnings.messages[0], "'mixed_float16' (computes in float16, variables in float32)"));
  // Gradients reach the float32 variables as float32.
  const auto grads = gradients(sum(cast(out, DType::float32)), {layer.kernel(), layer.bias()});
  CHECK(grads[0].dtype() == DType::float32);
  CHECK(grads[1].dtype() == DType::float32);
  // d sum / d bias = batch rows, exactly.
  for (float g : grads[1].to_vector<float>()) CHECK(g == 5.0f);
}

TEST_CASE("dtype policy: softmax activations and losses run in float32 under mixed policies") {
  PrecisionScope restore;
  for (const char* policy : {"mixed_float16", "mixed_bfloat16"}) {
    CAPTURE(policy);
    clear_session();
    Dense logits(3, "linear", with_policy(policy));
    Dense probs(3, "softmax", with_policy(policy));
    const Tensor x = random_normal({6, 4}, 0.0, 3.0, DType::float32, RandomKey{5, 1});
    const Tensor z = logits(x);
    probs.ensure_built({{-1, 4}});
    // Share the weights so the softmax layer's pre-activation equals z.
    probs.kernel().assign(logits.kernel().detach());
    probs.bias().assign(logits.bias().detach());
    const Tensor p = probs(x);
    CHECK(z.dtype() == dtype_policy(policy).compute_dtype);
    CHECK(p.dtype() == DType::float32);
    CHECK(bitwise_equal(p, softmax(cast(z, DType::float32))));
    CHECK(probs.compute_output_dtype({DType::float32}).at(0) == DType::float32);
    CHECK(logits.compute_output_dtype({DType::float32}).at(0) == dtype_policy(policy).compute_dtype);
    // A loss on half-precision predictions computes in float32: the same value as on float32 copies.
    const Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 0, 1, 2}, {6});
    const auto loss = sparse_categorical_crossentropy_loss(true);
    const Tensor from_half = (*loss)(labels, z);
    CHECK(from_half.dtype() == DType::float32);
    CHECK(bitwise_equal(from_half, (*loss)(labels, cast(z, DType::float32))));
  }
}

TEST_CASE("dtype policy: compile adds loss scaling under mixed_float16 only") {
  PrecisionScope restore;
  const auto compiled = [](const std::string& policy, std::shared_ptr<Optimizer> optimizer) {
    set_global_policy(policy);
    auto model = mlp(1);
    model->compile(std::move(optimizer), {sparse_categorical_crossentropy_loss()});
    return model->optimizer();
  };
  const auto scaled = std::dynamic_pointer_cast<LossScaleOptimizer>(compiled("mixed_float16", sgd_optimizer(0.1)));
  REQUIRE(scaled);
  CHECK(scaled->dynamic_scale() == 32768.0);  // Keras's initial_scale 2^15
  CHECK(scaled->inner_optimizer()->class_name() == "SGD");
  CHECK(!std::dynamic_pointer_cast<LossScaleOptimizer>(compiled("mixed_bfloat16", sgd_optimizer(0.1))));
  CHECK(!std::dynamic_pointer_cast<LossScaleOptimizer>(compiled("float32", sgd_optimizer(0.1))));
  // An optimizer that already scales is kept as it is.
  const auto own = loss_scale_optimizer(sgd_optimizer(0.1));
  CHECK(compiled("mixed_float16", own) == own);
  Json arguments = Json::object();
  arguments["loss_scale_factor"] = 128.0;
  const auto fixed = make_optimizer("sgd", arguments);
  CHECK(compiled("mixed_float16", fixed) == fixed);
}

TEST_CASE("dtype policy: mixed_float16 and mixed_bfloat16 training match float32") {
  PrecisionScope restore;
  const Problem train = three_classes(512);
  const auto run = [&](const std::string& policy) {
    set_global_policy(policy);
    auto model = mlp(11);
    model->compile(sgd_optimizer(0.1), {sparse_categorical_crossentropy_loss()});
    const History h = model->fit({train.x}, {train.y}, quiet_fit(8, 32));
    for (const auto& w : model->trainable_weights()) CHECK(w.dtype() == DType::float32);
    return std::make_pair(h.history.at("loss").back(), accuracy(*model, train));
  };
  const auto [loss32, acc32] = run("float32");
  const auto [loss16, acc16] = run("mixed_float16");
  const auto [lossbf, accbf] = run("mixed_bfloat16");
  INFO("float32 " << loss32 << " " << acc32 << ", mixed_float16 " << loss16 << " " << acc16 << ", mixed_bfloat16 "
                  << lossbf << " " << accbf);
  CHECK(acc32 > 0.85);
  CHECK(std::abs(acc16 - acc32) <= 0.02);
  CHECK(std::abs(accbf - acc32) <= 0.03);
  CHECK(std::abs(loss16 - loss32) <= 0.02 + 0.05 * loss32);
  CHECK(std::abs(lossbf - loss32) <= 0.03 + 0.1 * loss32);
  CHECK(loss16 != loss32);  // it really computed in another format
}

TEST_CASE("dtype rules: NumPy-style promotion, used only in permissive mode") {
  CHECK(promoted_dtype(DType::float32, DType::float64) == DType::float64);
  CHECK(promoted_dtype(DType::float16, DType::bfloat16) == DType::float32);
  CHECK(promoted_dtype(DType::int32, DType::float16) == DType::float16);
  CHECK(promoted_dtype(DType::uint8, DType::int32) == DType::int32);
  CHECK(promoted_dtype(DType::int64, DType::int32) == DType::int64);
  CHECK(promoted_dtype(DType::bool_, DType::int64) == DType::int64);
  CHECK(promoted_dtype(DType::float32, DType::float32) == DType::float32);

  const Tensor a = random_normal({2, 3}, 0.0, 1.0, DType::float32, RandomKey{9, 1});
  const Tensor b = random_normal({2, 3}, 0.0, 1.0, DType::float64, RandomKey{9, 2});
  const std::string refused = message_of([&] { add(a, b); });
  CHECK(contains(refused, "float32 (2, 3) and float64 (2, 3)"));
  {
    DTypeModeScope permissive(DTypeMode::permissive);
    const Tensor sum_ab = add(a, b);
    CHECK(sum_ab.dtype() == DType::float64);
    CHECK(bitwise_equal(sum_ab, add(cast(a, DType::float64), b)));
    CHECK(matmul(a, transpose(b, {1, 0})).dtype() == DType::float64);
    CHECK(greater(a, b).dtype() == DType::bool_);
    // Gradients flow back through the promotion in each operand's own dtype.
    Tensor la = a.clone().set_requires_grad(true);
    const auto g = gradients(sum(multiply(la, b)), {la});
    CHECK(g[0].dtype() == DType::float32);
  }
  CHECK_THROWS_AS(add(a, b), DTypeError);
  CHECK(parse_dtype_mode("strict") == DTypeMode::strict);
  CHECK(contains(message_of([] { parse_dtype_mode("loose"); }), "'permissive'"));
}

TEST_CASE("dtype rules: permissive mode casts at layers without a word, warn mode says it once") {
  clear_session();
  Dense layer(2);
  const Tensor x64 = random_normal({4, 3}, 0.0, 1.0, DType::float64, RandomKey{4, 1});
  {
    WarningCapture warnings;
    DTypeModeScope permissive(DTypeMode::permissive);
    CHECK(layer(x64).dtype() == DType::float32);
    CHECK(warnings.messages.empty());
  }
  WarningCapture warnings;
  for (int i = 0; i < 3; ++i) (void)layer(x64);
  REQUIRE(warnings.messages.size() == 1);
  CHECK(contains(warnings.messages[0], "float64 input cast to float32; the extra precision (and range) is lost"));
}

TEST_CASE("dtype policy: one MLP in float32 and float64 from one seed agrees to ~1e-6 and differs bitwise") {
  PrecisionScope restore;
  const Problem p = three_classes(256);
  const auto train = [&](DType dtype) {
    set_floatx(dtype);
    auto model = mlp(5);
    model->compile(sgd_optimizer(0.05), {sparse_categorical_crossentropy_loss()});
    model->fit({cast(p.x, dtype)}, {p.y}, quiet_fit(2, 32));
    std::vector<Tensor> out;
    for (const auto& w : model->trainable_weights()) out.push_back(cast(w, DType::float64));
    return out;
  };
  const auto w32 = train(DType::float32);
  const auto w64 = train(DType::float64);
  REQUIRE(w32.size() == w64.size());
  double worst = 0, scale = 0;
  bool all_equal = true;
  for (size_t i = 0; i < w32.size(); ++i) {
    const auto a = w32[i].to_vector<double>(), b = w64[i].to_vector<double>();
    for (size_t j = 0; j < a.size(); ++j) {
      worst = std::max(worst, std::abs(a[j] - b[j]));
      scale = std::max(scale, std::abs(b[j]));
      all_equal = all_equal && a[j] == b[j];
    }
  }
  INFO("max |w32 - w64| = " << worst << ", max |w64| = " << scale);
  CHECK(worst / scale < 1e-6);  // float32 epsilon is 1.2e-7; 16 steps of SGD accumulate a few ulps
  CHECK(worst > 0);             // ... but they are different computations
  CHECK(!all_equal);
}

}  // TEST_SUITE
