// `pitfall defaults`: both conventions tables side by side, the optimizers' (optim/defaults.h: values
// and update rules) and then the layers' (layers/conventions.h: BatchNormalization momentum, default
// initializers, LeakyReLU).
#pragma once
#include <string>

namespace pitfall {

std::string format_defaults();

}  // namespace pitfall
