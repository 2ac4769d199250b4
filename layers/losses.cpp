// Losses with Keras 3 semantics (keras/src/losses/losses.py and the backends' nn.py), built from ops
// so that autograd differentiates them by composition.
//
// The one documented cast: y_true is cast to y_pred's dtype (Keras does this too, so integer and
// bool labels work); sample weights are cast the same way. Everything else follows the engine's
// no-promotion rule.
#include "pitfall/layers/losses.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <optional>

#include "pitfall/core/arguments.h"
#include "pitfall/core/autograd.h"
#include "pitfall/core/ops.h"
#include "pitfall/core/warnings.h"
#include "pitfall/layers/layer.h"

namespace pitfall {

namespace {

// y_pred must be a floating tensor; y_true is brought to its dtype.
Tensor prepare_labels(const std::string& loss_name, const Tensor& y_true, const Tensor& y_pred) {
  if (!y_true.defined() || !y_pred.defined()) {
    throw ValueError("loss '" + loss_name + "': y_true and y_pred must both be defined tensors");
  }
  if (!is_floating(y_pred.dtype())) {
    throw DTypeError("loss '" + loss_name + "': y_pred has dtype " + std::string(dtype_name(y_pred.dtype())) +
                     "; predictions must be floating point (the model output, or cast(y_pred, float32))");
  }
  return y_true.dtype() == y_pred.dtype() ? y_true : cast(y_true, y_pred.dtype());
}

bool is_vector_vs_column(const Shape& a, const Shape& b) {
  return a.size() + 1 == b.size() && b.back() == 1 && std::equal(a.begin(), a.end(), b.begin());
}

// y_true and y_pred as Keras's LossFunctionWrapper hands them to the loss: the same rank
// (squeeze_or_expand_to_same_rank), then, for the regression losses, one broadcast shape. The
// crossentropies need equal shapes after the rank alignment, as Keras's backends check
// (keras/src/backend/tensorflow/nn.py binary_crossentropy). Other shapes raise, naming both as given.
std::pair<Tensor, Tensor> aligned_pair(const std::string& loss_name, const Tensor& y_true, const Tensor& y_pred,
                                       bool broadcast = true) {
  auto [t, p] = squeeze_or_expand_to_same_rank(y_true, y_pred);
  if (t.shape() == p.shape()) return {t, p};
  if (!broadcast) {
    throw ShapeError("loss '" + loss_name + "': y_true shape " + shape_str(y_true.shape()) +
                     " does not match y_pred shape " + shape_str(y_pred.shape()) +
                     "; this loss needs equal shapes (a trailing axis of 1 on one side is aligned, nothing else)");
  }
  Shape common;
  try {
    common = broadcast_shapes(t.shape(), p.shape(), "loss");
  } catch (const ShapeError&) {
    throw ShapeError("loss '" + loss_name + "': y_true shape " + shape_str(y_true.shape()) +
                     " does not match y_pred shape " + shape_str(y_pred.shape()) +
                     " and the two cannot be broadcast; give the targets the model output's shape");
  }
  return {t.shape() == common ? t : broadcast_to(t, common), p.shape() == common ? p : broadcast_to(p, common)};
}

// Mean over the last axis (Keras's per-sample reduction); 0-d and 1-d inputs stay elementwise.
Tensor mean_last_axis(const Tensor& x) { return x.ndim() <= 1 ? x : mean(x, {-1}); }

// The op that produced `t`, looking through casts (a float16 softmax cast to float32 is still a
// softmax). "" for a leaf or a tensor computed without recording.
std::string producing_op(const Tensor& t) {
  std::shared_ptr<Node> node = t.grad_fn();
  while (node && node->op == "cast" && !node->inputs.empty()) node = node->inputs[0].grad_fn();
  return node ? node->op : "";
}

void warn_if_already_activated(const std::string& loss_name, const Tensor& y_pred, const char* activation) {
  if (producing_op(y_pred) != activation) return;
  const std::string act(activation);
  std::string message = "loss '" + loss_name + "' got from_logits=True, but y_pred was produced by a " + act +
                        ", so it holds probabilities, not logits. The loss applies " + act +
                        " again (double " + act + ")";
  if (act == "softmax") {
    message += ": the loss can never fall below -ln(e/(e+C-1)) even for perfect predictions "
               "(1.4612 for 10 classes, pitfall P07) and gradients shrink";
  } else {
    message += ": predictions are squashed into (0.5, 0.73) and gradients shrink";
  }
  message += ". Fix: remove the " + act + " activation from the last layer (keep from_logits=True), or pass "
             "from_logits=False.";
  warn_once(act + "-from-logits", message);
}

class MeanSquaredError : public Loss {
 public:
  explicit MeanSquaredError(const Arguments& arguments) : Loss("MeanSquaredError", arguments) {}
  Tensor call(const Tensor& y_true, const Tensor& y_pred) const override {
    const auto [labels, pred] = aligned_pair(name(), prepare_labels(name(), y_true, y_pred), y_pred);
    return mean_last_axis(square(subtract(pred, labels)));
  }
};

class MeanAbsoluteError : public Loss {
 public:
  explicit MeanAbsoluteError(const Arguments& arguments) : Loss("MeanAbsoluteError", arguments) {}
  Tensor call(const Tensor& y_true, const Tensor& y_pred) const override {
    const auto [labels, pred] = aligned_pair(name(), prepare_labels(name(), y_true, y_pred), y_pred);
    return mean_last_axis(abs(subtract(pred, labels)));
  }
};

class Huber : public Loss {
 public:
  explicit Huber(const Arguments& arguments) : Loss("Huber", arguments), delta_(arguments.number("delta")) {}
  Tensor call(const Tensor& y_true, const Tensor& y_pred) const override {
    const auto [labels, pred] = aligned_pair(name(), prepare_labels(name(), y_true, y_pred), y_pred);
    // keras.losses.huber: where(|e| <= delta, 0.5 e^2, delta |e| - 0.5 delta^2)
    const Tensor error = subtract(pred, labels);
    const Tensor abs_error = abs(error);
    const Tensor quadratic = multiply(square(error), 0.5);
    const Tensor linear = subtract(multiply(abs_error, delta_), 0.5 * delta_ * delta_);
    const Tensor inside = less_equal(abs_error, scalar_like(delta_, abs_error, "huber"));
    return mean_last_axis(where(inside, quadratic, linear));
  }

 private:
  double delta_;
};


class BinaryCrossentropy : public Loss {
 public:
  explicit BinaryCrossentropy(const Arguments& arguments)
      : Loss("BinaryCrossentropy", arguments),
        from_logits_(arguments.flag("from_logits")),
        label_smoothing_(arguments.number("label_smoothing")) {}
  Tensor call(const Tensor& y_true, const Tensor& prediction) const override {
    if (from_logits_) warn_if_already_activated(name(), prediction, "sigmoid");
    auto [labels, y_pred] = aligned_pair(name(), prepare_labels(name(), y_true, prediction), prediction, false);
    if (label_smoothing_ > 0) labels = add(multiply(labels, 1.0 - label_smoothing_), 0.5 * label_smoothing_);
    const Tensor elementwise = binary_crossentropy(labels, y_pred, from_logits_);
    return mean_last_axis(elementwise);
  }

 private:
  bool from_logits_;
  double label_smoothing_;
};

void warn_if_single_class(const std::string& loss_name, const Tensor& y_pred, int64_t axis) {
  if (y_pred.ndim() == 0 || y_pred.dim(axis) != 1) return;
  warn_once(loss_name + "-single-class",
            "loss '" + loss_name + "' expects y_pred of shape (batch_size, num_classes) with num_classes > 1, got " +
                shape_str(y_pred.shape()) +
                ": a softmax over one class is always 1 and the loss gives no gradient (pitfall P11). For two "
                "classes use a sigmoid output with 'binary_crossentropy'.");
}

class CategoricalCrossentropy : public Loss {
 public:
  explicit CategoricalCrossentropy(const Arguments& arguments)
      : Loss("CategoricalCrossentropy", arguments),
        from_logits_(arguments.flag("from_logits")),
        label_smoothing_(arguments.number("label_smoothing")),
        axis_(arguments.integer("axis")) {}
  Tensor call(const Tensor& y_true, const Tensor& prediction) const override {
    if (prediction.defined() && y_true.defined() && prediction.ndim() >= 1) {
      // Integer labels against class scores: the classic sparse/categorical mix-up (pitfall P08).
      const Shape& t = y_true.shape();
      const Shape& p = prediction.shape();
      const Shape batch(p.begin(), p.end() - 1);
      Shape batch_column = batch;
      batch_column.push_back(1);
      if (p.back() > 1 && (t == batch || t == batch_column)) {
        throw ShapeError("loss 'categorical_crossentropy': y_true shape " + shape_str(t) + " (dtype " +
                         std::string(dtype_name(y_true.dtype())) + ") looks like integer class labels, but y_pred " +
                         shape_str(p) +
                         " needs one-hot labels of the same shape. Use loss='sparse_categorical_crossentropy' for "
                         "integer labels, or one-hot encode them (one_hot(labels, " +
                         std::to_string(p.back()) + "))");
      }
    }
    if (from_logits_) warn_if_already_activated(name(), prediction, "softmax");
    auto [labels, y_pred] = aligned_pair(name(), prepare_labels(name(), y_true, prediction), prediction, false);
    const int64_t axis = normalize_axis(axis_, y_pred.ndim(), "categorical_crossentropy");
    warn_if_single_class(name(), y_pred, axis);
    if (label_smoothing_ > 0) {
      // Keras divides by the class count (Keras itself reads shape[-1]; equal for the default axis).
      const double num_classes = static_cast<double>(y_pred.dim(axis));
      labels = add(multiply(labels, 1.0 - label_smoothing_), label_smoothing_ / num_classes);
    }
    return categorical_crossentropy(labels, y_pred, from_logits_, axis);
  }

 private:
  bool from_logits_;
  double label_smoothing_;
  int64_t axis_;
};

class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(const Arguments& arguments)
      : Loss("SparseCategoricalCrossentropy", arguments), from_logits_(arguments.flag("from_logits")) {}
  Tensor call(const Tensor& y_true, const Tensor& y_pred) const override {
    prepare_labels(name(), y_true, y_pred);  // validates y_pred; labels are handled below
    if (y_pred.ndim() < 1) {
      throw ShapeError("loss 'sparse_categorical_crossentropy': y_pred must have a class axis, got shape " +
                       shape_str(y_pred.shape()));
    }
    const Shape& t = y_true.shape();
    const Shape& p = y_pred.shape();
    const int64_t num_classes = p.back();
    const Shape batch(p.begin(), p.end() - 1);
    Shape batch_column = batch;
    batch_column.push_back(1);
    if (t != batch && t != batch_column) {
      if (t == p) {
        throw ShapeError("loss 'sparse_categorical_crossentropy': y_true shape " + shape_str(t) +
                         " equals y_pred shape " + shape_str(p) +
                         ", so the labels look one-hot encoded; the sparse loss takes integer class labels of shape " +
                         shape_str(batch) + ". Use loss='categorical_crossentropy' for one-hot labels, or "
                         "argmax(y_true, -1) to get the integer labels");
      }
      throw ShapeError("loss 'sparse_categorical_crossentropy': y_true shape " + shape_str(t) +
                       " does not fit y_pred shape " + shape_str(p) + "; expected integer labels of shape " +
                       shape_str(batch) + " or " + shape_str(batch_column));
    }
    warn_if_single_class(name(), y_pred, -1);
    if (from_logits_) warn_if_already_activated(name(), y_pred, "softmax");
    const Tensor labels = checked_labels(y_true, num_classes);
    // From logits: one fused pass forward and back (no one-hot tensor, no log-softmax tensor).
    if (from_logits_) return sparse_softmax_cross_entropy(y_pred, reshape(labels, batch));
    const Tensor one_hot_labels = one_hot(reshape(labels, batch), num_classes, y_pred.dtype());
    return categorical_crossentropy(one_hot_labels, y_pred, from_logits_, -1);
  }

 private:
  // int64 labels after checking each is an integer in [0, num_classes).
  static Tensor checked_labels(const Tensor& y_true, int64_t num_classes) {
    if (y_true.dtype() == DType::bool_) {
      throw DTypeError("loss 'sparse_categorical_crossentropy': y_true has dtype bool; class labels must be "
                       "integers (or floats holding integers)");
    }
    const std::vector<double> values = cast(y_true, DType::float64).to_vector<double>();
    for (size_t i = 0; i < values.size(); ++i) {
      const double label = values[i];
      if (label != std::floor(label)) {
        throw ValueError("loss 'sparse_categorical_crossentropy': label " + std::to_string(label) + " at position " +
                         std::to_string(i) + " is not an integer class index; sparse labels must be integral");
      }
      if (label < 0 || label >= static_cast<double>(num_classes)) {
        throw IndexError("loss 'sparse_categorical_crossentropy': label " + std::to_string(static_cast<int64_t>(label)) +
                         " at position " + std::to_string(i) + " is out of range for " +
                         std::to_string(num_classes) + " classes (valid labels: 0.." +
                         std::to_string(num_classes - 1) +
                         "). Check that the last layer has one unit per class and the labels start at 0");
      }
    }
    return is_integral(y_true.dtype()) && y_true.dtype() == DType::int64 ? y_true : cast(y_true, DType::int64);
  }

  bool from_logits_;
};

// sample_weight brought to per_sample's shape: equal, a leading prefix of it ((N,) against (N, T)),
// (N, 1) against (N,), or a scalar.
Tensor aligned_sample_weight(const Tensor& sample_weight, const Tensor& per_sample, const std::string& loss_name) {
  Tensor w = sample_weight.dtype() == per_sample.dtype() ? sample_weight : cast(sample_weight, per_sample.dtype());
  const Shape& ws = w.shape();
  const Shape& ps = per_sample.shape();
  if (ws == ps || ws.empty()) return w;
  if (is_vector_vs_column(ps, ws)) return reshape(w, ps);
  if (ws.size() < ps.size() && std::equal(ws.begin(), ws.end(), ps.begin())) {
    Shape expanded = ws;
    expanded.resize(ps.size(), 1);
    return reshape(w, expanded);
  }
  throw ShapeError("loss '" + loss_name + "': sample_weight shape " + shape_str(ws) +
                   " does not fit the per-sample losses of shape " + shape_str(ps) +
                   "; pass one weight per sample, shape " + shape_str(Shape{ps.empty() ? 1 : ps[0]}));
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

// ---------------------------------------------------------------- Loss

std::pair<Tensor, Tensor> squeeze_or_expand_to_same_rank(const Tensor& x1, const Tensor& x2, bool expand_rank_1) {
  const auto align = [expand_rank_1](const Tensor& longer, const Tensor& shorter) -> std::pair<Tensor, Tensor> {
    if (longer.shape().back() != 1) return {longer, shorter};
    if (shorter.ndim() == 1 && expand_rank_1) return {longer, expand_dims(shorter, -1)};
    return {squeeze(longer, {-1}), shorter};
  };
  if (x1.ndim() == x2.ndim() + 1) return align(x1, x2);
  if (x2.ndim() == x1.ndim() + 1) {
    auto [b, a] = align(x2, x1);
    return {a, b};
  }
  return {x1, x2};
}

Loss::Loss(std::string class_name, std::string name) : ConfiguredObject(std::move(class_name), std::move(name)) {}

Loss::Loss(std::string class_name, Arguments arguments)
    : ConfiguredObject(std::move(class_name), std::move(arguments)) {}

Tensor Loss::operator()(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) const {
  // Losses compute in float32 when the predictions are half precision (a mixed policy's output):
  // a float16 log or sum over a batch loses the small terms Keras keeps by computing in float32.
  const bool half = y_pred.defined() && is_reduced_float(y_pred.dtype());
  const Tensor per_sample = call(y_true, half ? cast(y_pred, DType::float32) : y_pred);
  Tensor weight = sample_weight.defined() ? aligned_sample_weight(sample_weight, per_sample, name()) : Tensor();
  if (const Tensor mask = y_pred.defined() ? y_pred.keras_mask() : Tensor(); mask.defined()) {
    // keras/src/losses/loss.py apply_mask: a mask on the predictions (an RNN's sequence output over
    // padded steps) weighs the kept values total / kept and the others 0, so that the mean below is
    // the mean over the kept values.
    const Tensor kept = cast(mask, per_sample.dtype());
    const double total = static_cast<double>(kept.numel()), valid = sum(kept).item();
    const Tensor mask_weight = aligned_sample_weight(multiply(kept, valid > 0 ? total / valid : 0.0), per_sample, name());
    weight = weight.defined() ? multiply(weight, mask_weight) : mask_weight;
  }
  const Tensor total = weight.defined() ? sum(multiply(per_sample, weight)) : sum(per_sample);
  // Keras 3 "sum_over_batch_size": divide_no_nan(sum, number of per-sample values).
  const int64_t count = per_sample.numel();
  return count == 0 ? multiply(total, 0.0) : divide(total, static_cast<double>(count));
}

Json Loss::get_config() const {
  Json fixed = Json::object();
  fixed["reduction"] = "sum_over_batch_size";
  return config_with(fixed);
}

// ---------------------------------------------------------------- the argument tables

namespace {

// A loss table: the loss's own arguments, then Keras's reduction, name and dtype.
ArgumentTable loss_table(std::string class_name, std::string doc, std::string name, std::vector<Argument> own) {
  ArgumentTable table = argument_table("losses", std::move(class_name), "keras/src/losses/losses.py", std::move(doc),
                                       std::move(own));
  table.arguments.push_back(
      Argument("reduction", ArgKind::string, "sum_over_batch_size")
          .allow_none()
          .checked([](const Json& value) -> std::string {
            if (value.as_string() != "sum_over_batch_size") {
              throw NotImplementedError("reduction='" + value.as_string() +
                                        "' is not supported; pitfall losses reduce with 'sum_over_batch_size' (Keras's "
                                        "default: the mean over the batch, weighted by sample_weight)");
            }
            return "";
          })
          .described("how per-sample losses become one number; only 'sum_over_batch_size'"));
  table.arguments.push_back(Argument("name", ArgKind::string, std::move(name)).described("the loss's name"));
  table.arguments.push_back(Argument("dtype", ArgKind::dtype).allow_none().unsupported()
                                .described("the dtype of the computation (None: the predictions')"));
  return table;
}

Argument from_logits_argument() {
  return Argument("from_logits", ArgKind::boolean, false)
      .described("whether y_pred holds logits (True) or probabilities (False, clipped to [1e-7, 1 - 1e-7])");
}

Argument label_smoothing_argument() {
  return Argument("label_smoothing", ArgKind::number, 0.0).checked(unit_interval)
      .described("moves the labels toward 1/num_classes (binary: toward 0.5) by this fraction");
}

Argument last_axis_only(const char* doc) {
  return Argument("axis", ArgKind::integer, -1).checked([](const Json& value) -> std::string {
    if (value.as_int() != -1) throw NotImplementedError("only axis=-1 (the last axis) is supported");
    return "";
  }).described(doc);
}

using LossClass = ArgumentClass<Loss>;

template <class T>
LossClass loss_class(ArgumentTable table) {
  return {std::move(table), [](const Arguments& arguments) { return std::make_shared<T>(arguments); }};
}

const ArgumentClasses<Loss>& loss_classes() {
  static const ArgumentClasses<Loss> classes = [] {
    ArgumentClasses<Loss> c;
    c["MeanSquaredError"] = loss_class<MeanSquaredError>(
        loss_table("MeanSquaredError", "mean of the squared errors over the last axis", "mean_squared_error", {}));
    c["MeanAbsoluteError"] = loss_class<MeanAbsoluteError>(
        loss_table("MeanAbsoluteError", "mean of the absolute errors over the last axis", "mean_absolute_error", {}));
    c["Huber"] = loss_class<Huber>(loss_table(
        "Huber", "quadratic for errors up to delta, linear beyond", "huber_loss",
        {Argument("delta", ArgKind::number, 1.0).checked(positive_number)
             .described("where the loss turns from quadratic to linear")}));
    c["BinaryCrossentropy"] = loss_class<BinaryCrossentropy>(loss_table(
        "BinaryCrossentropy", "crossentropy of 0/1 labels against probabilities or logits", "binary_crossentropy",
        {from_logits_argument(), label_smoothing_argument(), last_axis_only("the axis the mean is taken over")}));
    c["CategoricalCrossentropy"] = loss_class<CategoricalCrossentropy>(loss_table(
        "CategoricalCrossentropy", "crossentropy of one-hot labels against class probabilities or logits",
        "categorical_crossentropy",
        {from_logits_argument(), label_smoothing_argument(),
         Argument("axis", ArgKind::integer, -1).described("the class axis")}));
    ArgumentTable sparse = loss_table(
        "SparseCategoricalCrossentropy", "crossentropy of integer class labels against class probabilities or logits",
        "sparse_categorical_crossentropy",
        {from_logits_argument(), Argument("ignore_class", ArgKind::integer).allow_none().unsupported()
                                     .described("a label whose entries count for nothing (unsupported)")});
    // Keras's order: axis comes after reduction.
    sparse.arguments.insert(sparse.arguments.begin() + 3, last_axis_only("the class axis"));
    c["SparseCategoricalCrossentropy"] = loss_class<SparseCategoricalCrossentropy>(std::move(sparse));
    return c;
  }();
  return classes;
}

const bool loss_tables_registered = register_argument_classes(loss_classes());

}  // namespace

std::shared_ptr<Loss> make_loss(const std::string& class_name, const Json& arguments) {
  return make_argument_class(loss_classes(), class_name, "loss class", arguments);
}


std::shared_ptr<Loss> mean_squared_error_loss() { return make_loss("MeanSquaredError"); }
std::shared_ptr<Loss> mean_absolute_error_loss() { return make_loss("MeanAbsoluteError"); }
std::shared_ptr<Loss> huber_loss(std::optional<double> delta) { return make_loss("Huber", given_arguments({{"delta", given_value(delta)}})); }
std::shared_ptr<Loss> binary_crossentropy_loss(std::optional<bool> from_logits, std::optional<double> label_smoothing) {
  return make_loss("BinaryCrossentropy",
                   given_arguments({{"from_logits", given_value(from_logits)}, {"label_smoothing", given_value(label_smoothing)}}));
}
std::shared_ptr<Loss> categorical_crossentropy_loss(std::optional<bool> from_logits,
                                                    std::optional<double> label_smoothing,
                                                    std::optional<int64_t> axis) {
  return make_loss("CategoricalCrossentropy", given_arguments({{"from_logits", given_value(from_logits)},
                                                     {"label_smoothing", given_value(label_smoothing)},
                                                     {"axis", given_value(axis)}}));
}
std::shared_ptr<Loss> sparse_categorical_crossentropy_loss(std::optional<bool> from_logits) {
  return make_loss("SparseCategoricalCrossentropy", given_arguments({{"from_logits", given_value(from_logits)}}));
}

// ---------------------------------------------------------------- lookup

namespace {

// Keras names and aliases (keras.losses.get), lower-cased for lookup; the first of each group is
// the canonical snake_case name shown in "did you mean" messages.
const std::vector<std::pair<std::vector<std::string>, std::function<std::shared_ptr<Loss>()>>>& loss_table() {
  static const std::vector<std::pair<std::vector<std::string>, std::function<std::shared_ptr<Loss>()>>> table = {
      {{"mean_squared_error", "mse", "MeanSquaredError"}, [] { return mean_squared_error_loss(); }},
      {{"mean_absolute_error", "mae", "MeanAbsoluteError"}, [] { return mean_absolute_error_loss(); }},
      {{"huber", "huber_loss", "Huber"}, [] { return huber_loss(); }},
      {{"binary_crossentropy", "BinaryCrossentropy"}, [] { return binary_crossentropy_loss(); }},
      {{"categorical_crossentropy", "CategoricalCrossentropy"}, [] { return categorical_crossentropy_loss(); }},
      {{"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"},
       [] { return sparse_categorical_crossentropy_loss(); }},
  };
  return table;
}

}  // namespace

std::shared_ptr<Loss> get_loss(const std::string& name) {
  const std::string key = lower(name);
  std::vector<std::string> candidates;
  for (const auto& [names, factory] : loss_table()) {
    for (const auto& alias : names) {
      if (lower(alias) == key) return factory();
    }
    candidates.insert(candidates.end(), names.begin(), names.end());
  }
  throw ValueError("unknown loss '" + name + "'; " + did_you_mean(name, candidates));
}

std::shared_ptr<Loss> loss_from_config(const Json& value) {
  if (value.is_string()) return get_loss(value.as_string());
  const ClassAndConfig entry = class_and_config(value, "loss_from_config");
  return make_loss(entry.class_name, entry.config);
}

}  // namespace pitfall
