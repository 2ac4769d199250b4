// The callbacks' argument tables (core/arguments.h, family "callbacks"): EarlyStopping,
// ReduceLROnPlateau, LearningRateScheduler, TerminateOnNaN, CheckNumerics, CSVLogger,
// LambdaCallback, ModelCheckpoint. The C++ constructors and option structs take their defaults
// from these tables (callback_default), Python's classes their signature, help and keyword binding,
// and make_callback builds any of them from a config.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "pitfall/core/arguments.h"
#include "pitfall/training/model.h"

namespace pitfall {

// The Keras default of a callback class's argument, from its table.
const Json& callback_default(const std::string& class_name, const std::string& argument);

// The resolved arguments of a callback of `class_name` built from `arguments` (checked against the
// table, as make_callback checks them): what its get_config shows. `objects` as for make_callback.
Json callback_config(const std::string& class_name, const Json& arguments,
                     const std::map<std::string, std::shared_ptr<void>>& objects = {});

// A callback of a registered class from Keras-named arguments (a JSON object) checked against its
// table. `objects`: the function arguments, as the class takes them (a
// std::shared_ptr<EpochLearningRateFunction> for LearningRateScheduler's schedule, the
// LambdaCallbackHooks' std::function types for LambdaCallback's hooks).
std::shared_ptr<Callback> make_callback(const std::string& class_name, const Json& arguments,
                                        const std::map<std::string, std::shared_ptr<void>>& objects = {});

}  // namespace pitfall
