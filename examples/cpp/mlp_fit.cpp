// A Keras-style model in C++: Sequential + compile + fit + evaluate on a synthetic 3-class problem.
// Exits non-zero unless the model learns it (validation accuracy >= 0.9).
#include <pitfall/pitfall.h>

#include <cstdio>

namespace pf = pitfall;

int main() {
  pf::set_random_seed(0);
  // Three Gaussian blobs in 2-D; the label is the blob.
  const int64_t n = 600;
  pf::Tensor labels = pf::cast(pf::random_uniform({n}, 0, 3, pf::DType::float32, pf::RandomKey{1, 1}), pf::DType::int64);
  const pf::Tensor centers = pf::Tensor::from_vector<float>({-2, 0, 2, 2, 2, -2}, {3, 2});
  pf::Tensor x = pf::take(centers, labels, 0) + pf::random_normal({n, 2}, 0, 0.6, pf::DType::float32, pf::RandomKey{1, 2});

  pf::LayerOptions first;
  first.input_shape = pf::Shape{2};  // Keras input_shape=: the model builds at once
  auto model = std::make_shared<pf::Sequential>(std::vector<std::shared_ptr<pf::Layer>>{
      std::make_shared<pf::Dense>(16, "relu", first),
      std::make_shared<pf::Dense>(3, "softmax")});
  model->compile_by_name(pf::sgd_optimizer(0.1), {"sparse_categorical_crossentropy"}, {"accuracy"});
  std::printf("%s\n", model->summary().c_str());

  pf::FitOptions options;
  options.epochs = 10;
  options.verbose = 2;
  options.validation_split = 0.2;
  const pf::History history = model->fit({x}, {labels}, options);
  const double val_accuracy = history.history.at("val_accuracy").back();
  std::printf("final val_accuracy %.3f\n", val_accuracy);
  return val_accuracy >= 0.9 ? 0 : 1;
}
