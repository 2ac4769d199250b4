// Which framework's conventions a component follows: Keras 3's (the default) or PyTorch's.
//
// The tables of what differs live with the components that read them: optim/defaults.h (optimizer
// values and update rules), layers/conventions.h (BatchNormalization momentum, default
// initializers, LeakyReLU). Argument tables (core/arguments.h) refer into them by key.
#pragma once
#include <string>

namespace pitfall {

enum class Convention { keras, torch };

// "keras" | "torch"; anything else raises ValueError listing both.
Convention parse_convention(const std::string& name);
std::string convention_name(Convention convention);

}  // namespace pitfall
