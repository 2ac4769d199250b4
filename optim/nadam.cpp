// Nadam (Adam with Nesterov momentum), both conventions. The momentum coefficient follows a schedule
//   mu_t = beta_1 * (1 - 0.5 * 0.96^(t * momentum_decay))
// (Keras hard-codes 0.96^t, i.e. momentum_decay 1; PyTorch's default 4e-3 makes it ~250x slower), and
//   w -= lr * (mu_{t+1} * m / (1 - prod_{s<=t+1} mu_s) + (1 - mu_t) * g / (1 - prod_{s<=t} mu_s))
//          / (sqrt(v / (1 - beta_2^t)) + eps)
// Keras keeps one product for the whole optimizer (advanced once per update); PyTorch one per
// parameter (advanced when that parameter updates). torch < 2.0 multiplied mu_t into the next-step
// product twice; pitfall follows the corrected rule.
#include <cmath>

#include "pitfall/core/ops.h"
#include "pitfall/optim/optimizer_registry.h"

namespace pitfall {

namespace {

class Nadam : public Optimizer {
 public:
  using Optimizer::Optimizer;

 protected:
  double mu(int64_t t) const {
    return beta_1_ * (1.0 - 0.5 * std::pow(0.96, static_cast<double>(t) * momentum_decay_));
  }

  void before_updates(int64_t t) override {
    if (rule().keras_arithmetic) shared_product_ *= mu(t);
  }

  void update(const Tensor& variable, const Tensor& grad, size_t index, const Step& step) override {
    double product;  // prod_{s<=t} mu_s
    if (rule().keras_arithmetic) {
      product = shared_product_;
    } else {
      if (index >= products_.size()) products_.resize(index + 1, 1.0);
      products_[index] *= mu(step.t);
      product = products_[index];
    }
    const double mu_t = mu(step.t), mu_next = mu(step.t + 1);
    const double next_product = product * mu_next;
    const Tensor& m = slot("momentum", index, variable);
    const Tensor& v = slot("velocity", index, variable);
    moving_average(m, grad, beta_1_);
    moving_average(v, square(grad), beta_2_);
    const double correction_2 = 1.0 - std::pow(beta_2_, static_cast<double>(step.t));
    const Tensor denominator = add(sqrt(divide(v, correction_2)), epsilon_);
    const Tensor m_hat = add(multiply(m, mu_next / (1.0 - next_product)), multiply(grad, (1.0 - mu_t) / (1.0 - product)));
    const Tensor lr = learning_rate_scalar(step.learning_rate, variable);
    variable.assign(subtract(variable, divide(multiply(m_hat, lr), denominator)));
  }

  Json extra_state() const override {
    Json state = Json::object();
    state["shared_product"] = shared_product_;
    state["products"] = Json::from_vector(products_);
    return state;
  }

  void load_extra_state(const Json& state) override {
    if (state.is_null()) return;
    const double shared = state.at("shared_product").as_double();
    std::vector<double> products;
    for (const Json& p : state.at("products").as_array()) products.push_back(p.as_double());
    shared_product_ = shared;
    products_ = std::move(products);
  }

 private:
  const double beta_1_ = number("beta_1"), beta_2_ = number("beta_2"), epsilon_ = number("epsilon"),
               momentum_decay_ = number("momentum_decay");
  double shared_product_ = 1.0;   // keras
  std::vector<double> products_;  // torch, per variable
};

const bool registered = register_optimizer_class<Nadam>({"Nadam"});

}  // namespace

}  // namespace pitfall
