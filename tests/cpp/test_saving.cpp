// Saving and loading: round trips (Sequential, functional, conv + BatchNormalization, subclassed
// weights), the file format checked against docs/file-format.md by an independent re-encoder,
// every corruption case, atomic writes, and the ModelCheckpoint callback.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "saved_file_util.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;
namespace fs = std::filesystem;

namespace {

LayerOptions with_shape(Shape shape, const std::string& name = "") {
  LayerOptions options;
  options.input_shape = std::move(shape);
  options.name = name;
  return options;
}
Tensor normal(const Shape& shape) { return random_normal(shape, 0.0, 1.0, DType::float32, next_random_key()); }
Tensor labels(int64_t rows, int64_t classes) {
  std::vector<int64_t> v(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) v[static_cast<size_t>(i)] = (i * 7 + 3) % classes;
  return Tensor::from_vector(v, {rows});
}
Tensor one_hot_rows(const Tensor& ids, int64_t classes) {
  std::vector<float> v(static_cast<size_t>(ids.numel() * classes), 0.0f);
  for (int64_t i = 0; i < ids.numel(); ++i) v[static_cast<size_t>(i * classes + static_cast<int64_t>(ids.value_at(i)))] = 1.0f;
  return Tensor::from_vector(v, {ids.numel(), classes});
}

std::shared_ptr<Sequential> make_mlp() {
  return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<Dense>(8, "relu", with_shape({4})), std::make_shared<Dense>(3, "softmax")});
}

void check_same_weights(Model& a, Model& b) {
  const auto wa = a.get_weights(), wb = b.get_weights();
  REQUIRE(wa.size() == wb.size());
  for (size_t i = 0; i < wa.size(); ++i) CHECK(bitwise_equal(wa[i], wb[i]));
}

void check_same_predictions(Model& a, Model& b, const std::vector<Tensor>& x) {
  const auto pa = a.predict(x), pb = b.predict(x);
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) CHECK(bitwise_equal(pa[i], pb[i]));
}

// Collects warnings while alive.
struct CapturedWarnings {
  std::vector<std::string> messages;
  WarningHandler previous;
  CapturedWarnings() {
    previous = set_warning_handler([this](const std::string& m) { messages.push_back(m); });
    reset_warnings_once();
  }
  ~CapturedWarnings() { set_warning_handler(previous); }
  bool any(const std::string& part) const {
    for (const auto& m : messages) {
      if (contains(m, part)) return true;
    }
    return false;
  }
};

}  // namespace

TEST_CASE("saving: crc32 gives the standard check value and chains") {
  const std::string text = "123456789";
  CHECK(crc32(text.data(), text.size()) == 0xCBF43926u);
  CHECK(crc32(text.data(), text.size()) == reference_crc32(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  CHECK(crc32(text.data() + 4, 5, crc32(text.data(), 4)) == 0xCBF43926u);
  CHECK(crc32(nullptr, 0) == 0u);
}

TEST_CASE("saving: Sequential MLP round trip restores predictions, config and compile state") {
  clear_session();
  set_random_seed(11);
  TempDir dir("mlp");
  auto model = make_mlp();
  model->compile_by_name(sgd_optimizer(0.05, 0.9, true), {"sparse_categorical_crossentropy"}, {"accuracy"});
  const Tensor x = normal({32, 4});
  const Tensor y = labels(32, 3);
  FitOptions fit;
  fit.epochs = 2;
  fit.verbose = 0;
  fit.batch_size = 8;
  model->fit({x}, {y}, fit);

  const std::string path = dir.file("mlp.pitfall");
  save_model(*model, path);
  auto loaded = load_model(path);
  REQUIRE(loaded);
  CHECK(loaded->class_name() == "Sequential");
  CHECK(loaded->get_config() == model->get_config());
  check_same_weights(*model, *loaded);
  check_same_predictions(*model, *loaded, {x});

  // Compile state: the same optimizer config, loss and metrics.
  REQUIRE(loaded->compiled());
  CHECK(loaded->optimizer()->get_config() == model->optimizer()->get_config());
  CHECK(loaded->optimizer()->get_config().at("momentum").as_double() == 0.9);
  CHECK(loaded->optimizer()->get_config().at("nesterov").as_bool());
  REQUIRE(loaded->compiled_losses().size() == 1);
  CHECK(loaded->compiled_losses()[0]->class_name() == "SparseCategoricalCrossentropy");
  REQUIRE(loaded->compiled_metrics().size() == 1);
  REQUIRE(loaded->compiled_metrics()[0].size() == 1);
  CHECK(loaded->compiled_metrics()[0][0]->name() == "accuracy");
  CHECK(loaded->compiled_metrics()[0][0]->class_name() == "SparseCategoricalAccuracy");
  CHECK(loaded->evaluate({x}, {y}, 32, 0) == model->evaluate({x}, {y}, 32, 0));

  // Training continues where it stopped: the optimizer state (step counter and Nesterov velocities)
  // came back with the model, so both step bitwise alike.
  CHECK(loaded->optimizer()->iterations() == model->optimizer()->iterations());
  model->reset_metrics();  // train_on_batch logs are running values since the last reset
  loaded->reset_metrics();
  for (int step = 0; step < 3; ++step) {
    const Logs a = model->train_on_batch({x}, {y});
    const Logs b = loaded->train_on_batch({x}, {y});
    CHECK(a == b);
  }
  check_same_weights(*model, *loaded);

  // The header follows the documented layout.
  const Json header = read_saved_header(path);
  CHECK(header.at("contents").as_string() == "model");
  CHECK(header.at("format_version").as_int() == 1);
  CHECK(header.at("model_config").at("class_name").as_string() == "Sequential");
  const auto& entries = header.at("sections").at("weights").at("entries").as_array();
  REQUIRE(entries.size() == 4);
  CHECK(entries[0].at("path").as_string() == "layers/dense/kernel");
  CHECK(entries[3].at("path").as_string() == "layers/dense_1/bias");
  CHECK(entries[0].at("shape").as_int_vector() == std::vector<int64_t>{4, 8});
  // Each tensor's bytes are the weight's little-endian float32 values at the table's offset.
  const Decoded decoded = decode(read_bytes(path));
  const auto weights = load_model(path)->get_weights();  // `loaded` has trained on since
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto offset = static_cast<size_t>(entries[i].at("offset").as_int());
    CHECK(offset % 64 == 0);
    const auto values = weights[i].to_vector<float>();
    for (size_t k = 0; k < values.size(); ++k) {
      uint32_t bits = static_cast<uint32_t>(le(decoded.data, offset + 4 * k, 4));
      float f;
      std::memcpy(&f, &bits, 4);
      CHECK(std::memcmp(&f, &values[k], 4) == 0);
    }
  }
}

TEST_CASE("saving: functional multi-input multi-output round trip with loss_weights") {
  clear_session();
  set_random_seed(5);
  TempDir dir("functional");
  KerasTensor a = Input({3}, DType::float32, "a");
  KerasTensor b = Input({2}, DType::float32, "b");
  KerasTensor merged = (*std::make_shared<Concatenate>())(std::vector<KerasTensor>{a, b}).at(0);
  KerasTensor hidden = (*std::make_shared<Dense>(8, "relu"))(merged);
  KerasTensor score = (*std::make_shared<Dense>(1, "sigmoid", named("score")))(hidden);
  KerasTensor cls = (*std::make_shared<Dense>(4, "softmax", named("cls")))(hidden);
  auto model = std::make_shared<Model>(std::vector<KerasTensor>{a, b}, std::vector<KerasTensor>{score, cls});
  model->compile_by_name("sgd", {"binary_crossentropy", "categorical_crossentropy"}, {"accuracy"}, {0.5, 2.0});
  const Tensor xa = normal({16, 3}), xb = normal({16, 2});
  std::vector<float> binary(16);
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<float>(i % 2);
  const Tensor y_score = Tensor::from_vector(binary, {16, 1});
  const Tensor y_cls = one_hot_rows(labels(16, 4), 4);
  FitOptions fit;
  fit.verbose = 0;
  fit.batch_size = 4;
  model->fit({xa, xb}, {y_score, y_cls}, fit);

  const std::string path = dir.file("functional.pitfall");
  save_model(*model, path);
  auto loaded = load_model(path);
  CHECK(loaded->class_name() == "Functional");
  CHECK(loaded->get_config() == model->get_config());
  CHECK(loaded->output_names() == model->output_names());
  check_same_predictions(*model, *loaded, {xa, xb});
  REQUIRE(loaded->compiled());
  REQUIRE(loaded->compiled_losses().size() == 2);
  CHECK(loaded->compiled_losses()[0]->class_name() == "BinaryCrossentropy");
  CHECK(loaded->compiled_losses()[1]->class_name() == "CategoricalCrossentropy");
  REQUIRE(loaded->compiled_metrics().size() == 2);
  CHECK(loaded->compiled_metrics()[0][0]->class_name() == "BinaryAccuracy");
  CHECK(loaded->compiled_metrics()[1][0]->class_name() == "CategoricalAccuracy");
  const Json header = read_saved_header(path);
  CHECK(header.at("compile_config").at("loss_weights") == Json(Json::Array{Json(0.5), Json(2.0)}));
  // Loss weights restored: the weighted total equals the original's, and equals
  // 0.5 * score_loss + 2.0 * cls_loss computed from the per-output logs.
  const Logs logs_original = model->evaluate({xa, xb}, {y_score, y_cls}, 16, 0);
  const Logs logs_loaded = loaded->evaluate({xa, xb}, {y_score, y_cls}, 16, 0);
  CHECK(logs_loaded == logs_original);
  CHECK(logs_loaded.at("loss") ==
        doctest::Approx(0.5 * logs_loaded.at("score_loss") + 2.0 * logs_loaded.at("cls_loss")).epsilon(1e-5));
  const int64_t saved_iterations = model->optimizer()->iterations();
  CHECK(saved_iterations > 0);
  CHECK(loaded->optimizer()->iterations() == saved_iterations);  // the step counter is part of the file
  for (int step = 0; step < 2; ++step) {
    loaded->train_on_batch({xa, xb}, {y_score, y_cls});
  }
  CHECK(loaded->optimizer()->iterations() == saved_iterations + 2);
}

TEST_CASE("saving: conv model with BatchNormalization keeps its moving statistics") {
  clear_session();
  set_random_seed(3);
  TempDir dir("conv");
  auto model = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<Conv2D>(4, std::vector<int64_t>{3, 3}, "relu", with_shape({6, 6, 1})),
      std::make_shared<BatchNormalization>(), std::make_shared<Flatten>(), std::make_shared<Dense>(2, "softmax")});
  model->compile_by_name("sgd", {"sparse_categorical_crossentropy"});
  const Tensor x = normal({8, 6, 6, 1});
  const Tensor y = labels(8, 2);
  FitOptions fit;
  fit.verbose = 0;
  fit.batch_size = 4;
  model->fit({x}, {y}, fit);
  auto bn = model->layers()[1];
  const Tensor moving_mean = bn->weights()[2]->value.clone();
  REQUIRE(bn->weights()[2]->name == "moving_mean");
  bool moved = false;
  for (int64_t i = 0; i < moving_mean.numel(); ++i) moved = moved || moving_mean.value_at(i) != 0.0;
  REQUIRE(moved);  // training changed the statistics, so the test can tell them from fresh ones

  const std::string path = dir.file("conv.pitfall");
  save_model(*model, path);
  auto loaded = load_model(path);
  CHECK(loaded->get_config() == model->get_config());
  check_same_weights(*model, *loaded);
  CHECK(bitwise_equal(loaded->layers()[1]->weights()[2]->value, moving_mean));
  CHECK(bitwise_equal(loaded->layers()[1]->weights()[3]->value, bn->weights()[3]->value));  // moving_variance
  check_same_predictions(*model, *loaded, {x});  // inference mode uses the moving statistics
  const Json header = read_saved_header(path);
  bool trainable_flag_false = false;
  for (const auto& e : header.at("sections").at("weights").at("entries").as_array()) {
    if (e.at("path").as_string() == "layers/batch_normalization/moving_mean") trainable_flag_false = !e.at("trainable").as_bool();
  }
  CHECK(trainable_flag_false);
}

TEST_CASE("saving: save_weights and load_weights across separately built models") {
  clear_session();
  set_random_seed(7);
  TempDir dir("weights");
  auto source = make_mlp();
  auto target = make_mlp();  // same architecture, other layer names (dense_2, dense_3), other values
  CHECK(source->layers()[0]->name() != target->layers()[0]->name());
  const Tensor x = normal({5, 4});
  CHECK_FALSE(bitwise_equal(source->predict({x})[0], target->predict({x})[0]));

  const std::string path = dir.file("mlp.weights.pitfall");
  save_weights(*source, path);
  CHECK(read_saved_header(path).at("contents").as_string() == "weights");
  CHECK_FALSE(read_saved_header(path).contains("model_config"));
  load_weights(*target, path);
  check_same_weights(*source, *target);
  check_same_predictions(*source, *target, {x});

  // A save_model file also feeds load_weights; load_model refuses a weights-only file.
  const std::string full = dir.file("mlp.pitfall");
  auto third = make_mlp();
  save_model(*third, full);
  load_weights(*target, full);
  check_same_weights(*third, *target);
  CHECK(contains(message_of([&] { load_model(path); }), "weights only"));

  // Mismatches name the layer, the weight, expected and got; nothing is written before the check.
  auto wider = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<Dense>(8, "relu", with_shape({4})), std::make_shared<Dense>(5, "softmax")});
  const auto before = wider->get_weights();
  const std::string msg = message_of([&] { load_weights(*wider, path); });
  CHECK(contains(msg, "weight #2"));
  CHECK(contains(msg, "(Dense) weight 'kernel'"));
  CHECK(contains(msg, "(8, 5) float32"));
  CHECK(contains(msg, "(8, 3) float32"));
  CHECK(contains(msg, path));
  const auto after = wider->get_weights();
  for (size_t i = 0; i < before.size(); ++i) CHECK(bitwise_equal(before[i], after[i]));

  auto deeper = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<Dense>(8, "relu", with_shape({4})), std::make_shared<Dense>(3, "softmax"),
      std::make_shared<Dense>(2)});
  const std::string count_msg = message_of([&] { load_weights(*deeper, path); });
  CHECK(contains(count_msg, "has 6 weights but the file holds 4"));

  auto unbuilt = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{std::make_shared<Dense>(8)});
  CHECK(contains(message_of([&] { load_weights(*unbuilt, path); }), "not built"));
  CHECK(contains(message_of([&] { load_weights(*target, dir.file("missing.pitfall")); }), "file not found"));
}

TEST_CASE("saving: subclassed models save weights but not the whole model") {
  clear_session();
  set_random_seed(9);
  TempDir dir("subclassed");
  TwoDense a(6, 2, "linear"), b(6, 2, "linear");
  const Tensor x = normal({3, 4});
  a(x);
  b(x);
  const std::string msg = message_of([&] { save_model(a, dir.file("a.pitfall")); });
  CHECK(contains(msg, "subclassed"));
  CHECK(contains(msg, "save_weights"));
  CHECK(contains(msg, "(TwoDense)"));
  CHECK(dir.listing().empty());
  save_weights(a, dir.file("a.weights.pitfall"));
  load_weights(b, dir.file("a.weights.pitfall"));
  CHECK(bitwise_equal(a(x), b(x)));
}

TEST_CASE("saving: corrupted files raise with the path and never crash") {
  clear_session();
  set_random_seed(13);
  TempDir dir("corrupt");
  auto model = make_mlp();
  model->compile_by_name("sgd", {"sparse_categorical_crossentropy"}, {"accuracy"});
  const std::string good = dir.file("good.pitfall");
  save_model(*model, good);
  const std::vector<uint8_t> bytes = read_bytes(good);
  const std::string bad = dir.file("bad.pitfall");
  auto load_message = [&](const std::vector<uint8_t>& content) {
    write_bytes(bad, content);
    return message_of([&] { load_model(bad); });
  };

  SUBCASE("missing file") {
    const std::string msg = message_of([&] { load_model(dir.file("nope.pitfall")); });
    CHECK(contains(msg, "file not found"));
    CHECK(contains(msg, "nope.pitfall"));
  }
  SUBCASE("wrong magic") {
    std::vector<uint8_t> other = bytes;
    other[1] = 'Q';
    const std::string msg = load_message(other);
    CHECK(contains(msg, "not a pitfall model file"));
    CHECK(contains(msg, bad));
    CHECK(contains(load_message({'P', 'K', 3, 4, 0, 0}), "zip"));
    CHECK(contains(load_message({}), "empty"));
  }
  SUBCASE("newer version") {
    std::vector<uint8_t> newer = bytes;
    put_le(newer, 8, 2, 4);
    const std::string msg = load_message(newer);
    CHECK(contains(msg, "format version 2"));
    CHECK(contains(msg, "newer"));
  }
  SUBCASE("a flipped byte in the middle is a checksum mismatch") {
    std::vector<uint8_t> flipped = bytes;
    flipped[bytes.size() / 2] ^= 0x40;
    const std::string msg = load_message(flipped);
    CHECK(contains(msg, "checksum mismatch"));
    CHECK(contains(msg, "corrupted"));
    CHECK(contains(msg, "byte offset " + std::to_string(bytes.size() - 4)));
  }
  SUBCASE("truncated at several offsets") {
    for (size_t size : {size_t{4}, size_t{8}, size_t{20}, size_t{31}, size_t{32}, size_t{100}, bytes.size() / 2,
                        bytes.size() - 5, bytes.size() - 1}) {
      CAPTURE(size);
      const std::string msg = load_message(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size)));
      CHECK(contains(msg, "truncated"));
      CHECK(contains(msg, "the file has " + std::to_string(size)));
      if (size >= 32) CHECK(contains(msg, "promises " + std::to_string(bytes.size()) + " bytes"));
    }
    CHECK(contains(load_message({}), "not a pitfall model file"));
  }
  SUBCASE("trailing bytes") {
    std::vector<uint8_t> longer = bytes;
    longer.push_back(0);
    CHECK(contains(load_message(longer), "1 unexpected bytes"));
  }
  SUBCASE("every single flipped byte is detected") {
    for (size_t i = 0; i < bytes.size(); ++i) {
      std::vector<uint8_t> flipped = bytes;
      flipped[i] ^= 0x01;
      write_bytes(bad, flipped);
      bool raised = false;
      try {
        load_model(bad);
      } catch (const Error& e) {
        raised = contains(e.what(), bad);
      }
      if (!raised) FAIL_CHECK("flipping byte " << i << " was not detected");
    }
  }
}

TEST_CASE("saving: a weight table inconsistent with the data is rejected") {
  clear_session();
  TempDir dir("table");
  auto model = make_mlp();
  const std::string good = dir.file("good.pitfall");
  save_model(*model, good);
  const Decoded original = decode(read_bytes(good));
  // The re-encoder reproduces the file exactly: the test's reading of the format is the writer's.
  CHECK(encode(original) == read_bytes(good));
  const std::string bad = dir.file("bad.pitfall");
  auto with_entry = [&](const std::function<void(Json&)>& edit) {
    Decoded d = original;
    edit(d.header["sections"]["weights"]["entries"].as_array()[1]);
    write_bytes(bad, encode(d));
    return message_of([&] { load_model(bad); });
  };
  std::string msg = with_entry([](Json& e) { e["length"] = int64_t{4000}; });
  CHECK(contains(msg, "weight table is inconsistent"));
  CHECK(contains(msg, "weight #1 'layers/dense/bias'"));
  CHECK(contains(msg, "needs 32"));
  msg = with_entry([](Json& e) { e["offset"] = int64_t{1} << 40; });
  CHECK(contains(msg, "weight table is inconsistent"));
  CHECK(contains(msg, "section spans byte offsets"));
  msg = with_entry([](Json& e) { e["dtype"] = "float64"; });
  CHECK(contains(msg, "needs 64"));
  msg = with_entry([](Json& e) { e["shape"] = Json(Json::Array{Json(-3)}); });
  CHECK(contains(msg, "invalid shape"));
  msg = with_entry([](Json& e) { e["dtype"] = "float31"; });
  CHECK(contains(msg, "weight table is inconsistent"));
  {
    Decoded d = original;
    d.header["sections"]["weights"]["length"] = static_cast<int64_t>(d.data.size() + 1);
    write_bytes(bad, encode(d));
    CHECK(contains(message_of([&] { load_model(bad); }), "data area of"));
  }
  {
    Decoded d = original;
    d.header["sections"].as_object().erase("weights");
    write_bytes(bad, encode(d));
    CHECK(contains(message_of([&] { load_model(bad); }), "no 'weights' section"));
  }
  {
    // An unknown section (a later version's optimizer state) is skipped by this reader.
    Decoded d = original;
    d.header["sections"]["optimizer_variables"] =
        Json(Json::Object{{"offset", int64_t{0}}, {"length", int64_t{0}}, {"entries", Json::array()}});
    write_bytes(bad, encode(d));
    auto loaded = load_model(bad);
    check_same_weights(*model, *loaded);
  }
}

TEST_CASE("saving: an unknown layer class in the config suggests the closest one") {
  clear_session();
  TempDir dir("unknown_class");
  auto model = make_mlp();
  save_model(*model, dir.file("good.pitfall"));
  Decoded d = decode(read_bytes(dir.file("good.pitfall")));
  d.header["model_config"]["config"]["layers"].as_array()[1]["class_name"] = "Dence";
  write_bytes(dir.file("bad.pitfall"), encode(d));
  const std::string msg = message_of([&] { load_model(dir.file("bad.pitfall")); });
  CHECK(contains(msg, "cannot re-create the model"));
  CHECK(contains(msg, "Dence"));
  CHECK(contains(msg, "did you mean 'Dense'"));
  CHECK(contains(msg, dir.file("bad.pitfall")));
}

TEST_CASE("saving: a compile config pitfall cannot restore loads uncompiled with a warning") {
  clear_session();
  TempDir dir("uncompiled");
  auto model = make_mlp();
  model->compile_by_name(sgd_optimizer(0.1), {"mse"}, {"mae"});
  const std::string path = dir.file("m.pitfall");
  save_model(*model, path);
  {
    CapturedWarnings warnings;
    auto plain = load_model(path, /*compile=*/false);
    CHECK_FALSE(plain->compiled());
    CHECK(warnings.messages.empty());
    auto compiled = load_model(path);
    CHECK(compiled->compiled());
    CHECK(compiled->compiled_metrics()[0][0]->class_name() == "MeanAbsoluteError");
    CHECK(model->compiled_metrics()[0][0]->name() == "mae");  // logged under the name compile was given
    CHECK(compiled->compiled_metrics()[0][0]->name() == "mae");
    CHECK(warnings.messages.empty());
  }
  Decoded d = decode(read_bytes(path));
  d.header["compile_config"]["optimizer"] =
      Json(Json::Object{{"class_name", "Lion"}, {"config", Json(Json::Object{{"learning_rate", 0.001}})}});
  write_bytes(path, encode(d));
  CapturedWarnings warnings;
  auto loaded = load_model(path);
  CHECK_FALSE(loaded->compiled());
  CHECK(warnings.any("loaded uncompiled"));
  check_same_weights(*model, *loaded);
}

TEST_CASE("saving: an interrupted save keeps the previous file and leaves no temp file") {
  clear_session();
  set_random_seed(21);
  TempDir dir("atomic");
  auto first = make_mlp();
  auto second = make_mlp();
  const std::string path = dir.file("model.pitfall");
  save_model(*first, path);
  const std::vector<uint8_t> saved = read_bytes(path);
  const auto size = static_cast<int64_t>(saved.size());
  for (int64_t fail_at : {int64_t{0}, int64_t{20}, int64_t{100}, size / 2, size - 1}) {
    CAPTURE(fail_at);
    saving_testing::fail_next_save_after(fail_at);
    const std::string msg = message_of([&] { save_model(*second, path); });
    CHECK(contains(msg, "byte offset " + std::to_string(fail_at)));
    CHECK(contains(msg, "unchanged"));
    CHECK(contains(msg, path));
    CHECK(read_bytes(path) == saved);
    CHECK(dir.listing() == std::set<std::string>{"model.pitfall"});
    saving_testing::fail_next_save_after(std::min<int64_t>(fail_at, 40));  // a weights file is smaller
    CHECK_FALSE(message_of([&] { save_weights(*second, dir.file("w.pitfall")); }).empty());
    CHECK(dir.listing() == std::set<std::string>{"model.pitfall"});
  }
  auto loaded = load_model(path);
  check_same_weights(*first, *loaded);
  // The hook fires once: the next save succeeds and replaces the file.
  save_model(*second, path);
  check_same_weights(*second, *load_model(path));
  CHECK(dir.listing() == std::set<std::string>{"model.pitfall"});
  // A missing directory or a directory as target fails before anything is written.
  CHECK(contains(message_of([&] { save_model(*first, dir.file("no/such/dir/m.pitfall")); }), "does not exist"));
  CHECK(contains(message_of([&] { save_model(*first, dir.path.string()); }), "directory"));
  CHECK(dir.listing() == std::set<std::string>{"model.pitfall"});
}

TEST_CASE("saving: ModelCheckpoint filepath formatting follows Python str.format") {
  const Logs logs = {{"loss", 0.25}, {"val_loss", 0.123456}, {"tiny", 1e-05}, {"two", 2.0}, {"huge", 1e16},
                     {"big", 123456.5}, {"val_accuracy", 0.875}};
  CHECK(format_checkpoint_path("w.{epoch:02d}-{val_loss:.2f}.pitfall", 3, std::nullopt, logs) == "w.03-0.12.pitfall");
  CHECK(format_checkpoint_path("{epoch}", 12, std::nullopt, logs) == "12");
  CHECK(format_checkpoint_path("{epoch:03d}_{batch:04d}", 2, 15, logs) == "002_0015");
  CHECK(format_checkpoint_path("{epoch:4d}", 7, std::nullopt, logs) == "   7");
  CHECK(format_checkpoint_path("{epoch:.1f}", 3, std::nullopt, logs) == "3.0");
  CHECK(format_checkpoint_path("{loss}|{tiny}|{two}|{huge}|{big}", 1, std::nullopt, logs) ==
        "0.25|1e-05|2.0|1e+16|123456.5");
  CHECK(format_checkpoint_path("{val_loss:.3e}", 1, std::nullopt, logs) == "1.235e-01");
  CHECK(format_checkpoint_path("{val_accuracy:.4g}", 1, std::nullopt, logs) == "0.875");
  CHECK(format_checkpoint_path("{val_loss:08.3f}", 1, std::nullopt, logs) == "0000.123");
  CHECK(format_checkpoint_path("{{epoch}}-{epoch}", 5, std::nullopt, logs) == "{epoch}-5");
  CHECK(format_checkpoint_path("plain.pitfall", 5, std::nullopt, logs) == "plain.pitfall");
  std::string msg = message_of([&] { format_checkpoint_path("{val_los:.2f}", 1, std::nullopt, logs); });
  CHECK(contains(msg, "no value named 'val_los'"));
  CHECK(contains(msg, "did you mean 'val_loss'"));
  CHECK(contains(message_of([&] { format_checkpoint_path("{loss:02d}", 1, std::nullopt, logs); }), "needs an integer"));
  CHECK(contains(message_of([&] { format_checkpoint_path("{batch}", 1, std::nullopt, logs); }), "no value named 'batch'"));
  CHECK(contains(message_of([&] { format_checkpoint_path("{epoch", 1, std::nullopt, logs); }), "never closed"));
  CHECK(contains(message_of([&] { format_checkpoint_path("{loss:>8}", 1, std::nullopt, logs); }), "unsupported"));
}

namespace {
// Sets every weight of the model to `marker`, so a saved file tells which epoch wrote it.
void mark(Model& model, double marker) {
  std::vector<Tensor> values;
  for (const Tensor& w : model.get_weights()) values.push_back(Tensor::full(w.shape(), marker, w.dtype()));
  model.set_weights(values);
}
double marker_in(const std::string& path) {
  auto probe = make_mlp();
  load_weights(*probe, path);
  return probe->get_weights()[0].value_at(0);
}
}  // namespace

TEST_CASE("saving: ModelCheckpoint save_best_only writes only on improvement") {
  clear_session();
  TempDir dir("checkpoint_best");
  auto model = make_mlp();

  SUBCASE("min mode on val_loss, one file overwritten") {
    const std::vector<double> val_loss = {0.5, 0.7, 0.4, 0.4, 0.6, 0.3, std::nan("")};
    ModelCheckpoint checkpoint(dir.file("best.pitfall"), "val_loss", 0, /*save_best_only=*/true,
                               /*save_weights_only=*/true);
    checkpoint.set_model(model.get());
    double best = std::numeric_limits<double>::infinity();
    double expected_marker = -1.0;
    for (size_t epoch = 0; epoch < val_loss.size(); ++epoch) {
      mark(*model, static_cast<double>(epoch + 1));
      checkpoint.on_epoch_begin(static_cast<int>(epoch), {});
      checkpoint.on_epoch_end(static_cast<int>(epoch), {{"loss", 1.0}, {"val_loss", val_loss[epoch]}});
      if (val_loss[epoch] < best) {  // the reference rule: strictly better than the best so far
        best = val_loss[epoch];
        expected_marker = static_cast<double>(epoch + 1);
      }
      CAPTURE(epoch);
      REQUIRE(fs::exists(dir.file("best.pitfall")));
      CHECK(marker_in(dir.file("best.pitfall")) == expected_marker);
      CHECK(*checkpoint.best() == best);
    }
    CHECK(expected_marker == 6.0);
  }
  SUBCASE("formatted names: one file per improvement") {
    const std::vector<double> val_loss = {0.5, 0.7, 0.4, 0.4, 0.6, 0.3};
    ModelCheckpoint checkpoint(dir.file("ckpt/{epoch:02d}-{val_loss:.2f}.pitfall"), "val_loss", 0, true);
    checkpoint.set_model(model.get());
    for (size_t epoch = 0; epoch < val_loss.size(); ++epoch) {
      checkpoint.on_epoch_begin(static_cast<int>(epoch), {});
      checkpoint.on_epoch_end(static_cast<int>(epoch), {{"val_loss", val_loss[epoch]}});
    }
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir.path / "ckpt")) names.insert(entry.path().filename().string());
    CHECK(names == std::set<std::string>{"01-0.50.pitfall", "03-0.40.pitfall", "06-0.30.pitfall"});
    CHECK(load_model(dir.file("ckpt/06-0.30.pitfall"))->get_config() == model->get_config());
  }
  SUBCASE("auto mode maximizes accuracy; initial_value_threshold sets the bar") {
    const std::vector<double> accuracy = {0.6, 0.8, 0.7, 0.9};
    ModelCheckpoint checkpoint(dir.file("acc-{epoch}.pitfall"), "val_accuracy", 0, true, true, "auto", std::string("epoch"),
                               0.75);
    checkpoint.set_model(model.get());
    for (size_t epoch = 0; epoch < accuracy.size(); ++epoch) {
      checkpoint.on_epoch_end(static_cast<int>(epoch), {{"val_accuracy", accuracy[epoch]}});
    }
    CHECK(dir.listing() == std::set<std::string>{"acc-2.pitfall", "acc-4.pitfall"});
  }
  SUBCASE("explicit max mode, verbose messages as Keras prints them") {
    std::ostringstream out;
    ModelCheckpoint checkpoint(dir.file("m.pitfall"), "score", 1, true, true, "max", std::string("epoch"), std::nullopt,
                               &out);
    checkpoint.set_model(model.get());
    checkpoint.on_epoch_end(0, {{"score", 0.5}});
    checkpoint.on_epoch_end(1, {{"score", 0.25}});
    CHECK(contains(out.str(), "Epoch 1: score improved from -inf to 0.50000, saving model to " + dir.file("m.pitfall")));
    CHECK(contains(out.str(), "Epoch 2: score did not improve from 0.50000"));
  }
  SUBCASE("auto mode cannot guess an unknown name") {
    ModelCheckpoint checkpoint(dir.file("m.pitfall"), "score", 0, true);
    checkpoint.set_model(model.get());
    CHECK(contains(message_of([&] { checkpoint.on_epoch_end(0, {{"score", 0.5}}); }), "mode='max'"));
  }
  SUBCASE("a missing monitored value warns and saves") {
    CapturedWarnings warnings;
    ModelCheckpoint checkpoint(dir.file("m.pitfall"), "val_loss", 0, true);
    checkpoint.set_model(model.get());
    checkpoint.on_epoch_end(0, {{"loss", 0.5}});
    CHECK(warnings.any("Can save best model only with val_loss available."));
    CHECK(fs::exists(dir.file("m.pitfall")));
  }
  SUBCASE("unknown mode warns, bad save_freq raises") {
    CapturedWarnings warnings;
    ModelCheckpoint checkpoint(dir.file("m.pitfall"), "val_loss", 0, false, false, "maximum");
    CHECK(warnings.any("mode 'maximum' is unknown, fallback to auto mode"));
    CHECK(contains(message_of([&] { ModelCheckpoint(dir.file("m"), "val_loss", 0, false, false, "auto", std::string("batch")); }),
                   "Unrecognized save_freq"));
    CHECK(contains(message_of([&] { ModelCheckpoint(dir.file("m"), "val_loss", 0, false, false, "auto", int64_t{0}); }),
                   "positive"));
  }
}

TEST_CASE("saving: ModelCheckpoint during fit, every epoch and every N batches") {
  clear_session();
  set_random_seed(17);
  TempDir dir("checkpoint_fit");
  auto model = make_mlp();
  model->compile_by_name("sgd", {"sparse_categorical_crossentropy"}, {"accuracy"});
  const Tensor x = normal({40, 4});
  const Tensor y = labels(40, 3);
  auto best = std::make_shared<ModelCheckpoint>(dir.file("best-{epoch:02d}.pitfall"), "val_loss", 0, true);
  auto every = std::make_shared<ModelCheckpoint>(dir.file("last.pitfall"));
  auto batches = std::make_shared<ModelCheckpoint>(dir.file("b-{epoch}-{batch}.pitfall"), "val_loss", 0, false, true,
                                                   "auto", int64_t{3});
  FitOptions fit;
  fit.epochs = 4;
  fit.verbose = 0;
  fit.batch_size = 8;  // 32 training rows: 4 batches per epoch
  fit.validation_split = 0.2;
  fit.callbacks = {best, every, batches};
  const History history = model->fit({x}, {y}, fit);

  // Reference: the epochs whose val_loss beat every earlier one.
  std::set<std::string> expected;
  double lowest = std::numeric_limits<double>::infinity();
  const auto& val_loss = history.history.at("val_loss");
  for (size_t epoch = 0; epoch < val_loss.size(); ++epoch) {
    if (val_loss[epoch] < lowest) {
      lowest = val_loss[epoch];
      char name[64];
      std::snprintf(name, sizeof name, "best-%02zu.pitfall", epoch + 1);
      expected.insert(name);
    }
  }
  // Batch saves every 3 batches counted across epochs: batches 3, 6, 9, 12, 15 of 16.
  for (const char* name : {"b-1-3.pitfall", "b-2-2.pitfall", "b-3-1.pitfall", "b-3-4.pitfall", "b-4-3.pitfall"}) {
    expected.insert(name);
  }
  expected.insert("last.pitfall");
  CHECK(dir.listing() == expected);
  auto last = load_model(dir.file("last.pitfall"));
  check_same_weights(*model, *last);
  CHECK(*best->best() == lowest);
}
