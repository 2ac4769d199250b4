#include "pitfall/training/callback_arguments.h"

#include "pitfall/core/error.h"
#include "pitfall/training/model_checkpoint.h"
#include "pitfall/training/training_callbacks.h"

namespace pitfall {

namespace {

ArgumentTable callback_table(std::string class_name, const std::string& source, std::string doc,
                             std::vector<Argument> arguments) {
  return argument_table("callbacks", std::move(class_name), source.empty() ? "" : "keras/src/callbacks/" + source,
                        std::move(doc), std::move(arguments));
}

Argument monitor_argument() {
  return Argument("monitor", ArgKind::string, "val_loss").described("the logged quantity watched (\"val_loss\", \"val_accuracy\", ...)");
}
Argument verbose_argument() {
  return Argument("verbose", ArgKind::integer, 0).checked(non_negative_integer).described("0: silent, 1: print a line when it acts");
}
Argument mode_argument() {
  // Not checked against a list: Keras warns about an unknown mode and falls back to "auto".
  return Argument("mode", ArgKind::string, "auto")
      .described("\"min\", \"max\", or \"auto\" (the direction follows from the monitored quantity)");
}
Argument hook_argument(const char* name, const char* type, const char* doc) {
  return Argument(name, ArgKind::object).allow_none().holding(type).described(doc);
}
// Keras's LambdaCallback takes other hooks through **kwargs; on_batch_begin / on_batch_end are the
// ones its docs use, and Keras 3's Callback calls them for every train batch.
Argument batch_alias(const char* name, const char* same_as) {
  Argument a = hook_argument(name, "batch_hook", "");
  a.pitfall_only();
  a.doc = std::string("(batch, logs), called as ") + same_as + " is (Keras's **kwargs spelling)";
  return a;
}

template <class F>
std::shared_ptr<F> object_of(const Arguments& arguments, const std::string& name) {
  return std::static_pointer_cast<F>(arguments.object(name));
}

std::optional<double> optional_number(const Arguments& a, const std::string& name) {
  return a.is_none(name) ? std::nullopt : std::optional<double>(a.number(name));
}

const ArgumentClasses<Callback>& callback_classes() {
  static const ArgumentClasses<Callback> classes = [] {
    ArgumentClasses<Callback> c;
    c["EarlyStopping"] = {
        callback_table(
            "EarlyStopping", "early_stopping.py", "stops training when the monitored quantity stops improving",
            {monitor_argument(),
             Argument("min_delta", ArgKind::number, 0).described("a smaller change than |min_delta| is no improvement"),
             Argument("patience", ArgKind::integer, 0).checked(non_negative_integer)
                 .described("epochs without improvement after which training stops"),
             verbose_argument(), mode_argument(),
             Argument("baseline", ArgKind::number).allow_none()
                 .described("a value to beat: epochs that do not beat it count as no improvement"),
             Argument("restore_best_weights", ArgKind::boolean, false)
                 .described("restore the best epoch's weights when training ends"),
             Argument("start_from_epoch", ArgKind::integer, 0).checked(non_negative_integer)
                 .described("epochs to wait before watching")}),
        [](const Arguments& a) -> std::shared_ptr<Callback> {
          EarlyStoppingOptions o;
          o.monitor = a.text("monitor");
          o.min_delta = a.number("min_delta");
          o.patience = static_cast<int>(a.integer("patience"));
          o.verbose = static_cast<int>(a.integer("verbose"));
          o.mode = a.text("mode");
          o.baseline = optional_number(a, "baseline");
          o.restore_best_weights = a.flag("restore_best_weights");
          o.start_from_epoch = static_cast<int>(a.integer("start_from_epoch"));
          return std::make_shared<EarlyStopping>(o);
        }};
    c["ReduceLROnPlateau"] = {
        callback_table(
            "ReduceLROnPlateau", "reduce_lr_on_plateau.py",
            "multiplies the learning rate by factor when the monitored quantity stops improving",
            {monitor_argument(),
             Argument("factor", ArgKind::number, 0.1).checked(positive_number)
                 .described("new_lr = lr * factor; below 1"),
             Argument("patience", ArgKind::integer, 10).checked(non_negative_integer)
                 .described("epochs without improvement before a reduction"),
             verbose_argument(), mode_argument(),
             Argument("min_delta", ArgKind::number, 1e-4).described("the least change that counts as an improvement"),
             Argument("cooldown", ArgKind::integer, 0).checked(non_negative_integer)
                 .described("epochs to wait after a reduction before watching again"),
             Argument("min_lr", ArgKind::number, 0.0).checked(non_negative_number)
                 .described("the learning rate is not reduced below this")}),
        [](const Arguments& a) -> std::shared_ptr<Callback> {
          ReduceLROnPlateauOptions o;
          o.monitor = a.text("monitor");
          o.factor = a.number("factor");
          o.patience = static_cast<int>(a.integer("patience"));
          o.verbose = static_cast<int>(a.integer("verbose"));
          o.mode = a.text("mode");
          o.min_delta = a.number("min_delta");
          o.cooldown = static_cast<int>(a.integer("cooldown"));
          o.min_lr = a.number("min_lr");
          return std::make_shared<ReduceLROnPlateau>(o);
        }};
    c["LearningRateScheduler"] = {
        callback_table("LearningRateScheduler", "learning_rate_scheduler.py",
                       "sets the learning rate from schedule(epoch, lr) at every epoch begin",
                       {Argument("schedule", ArgKind::object).make_required().holding("epoch_schedule")
                            .described("(epoch, lr) -> new lr, epoch counted from 0"),
                        verbose_argument()}),
        [](const Arguments& a) -> std::shared_ptr<Callback> {
          const auto schedule = object_of<EpochLearningRateFunction>(a, "schedule");
          if (!schedule) throw ValueError("LearningRateScheduler: argument 'schedule' is required: a function (epoch, lr) -> lr");
          return std::make_shared<LearningRateScheduler>(*schedule, static_cast<int>(a.integer("verbose")));
        }};
    c["TerminateOnNaN"] = {
        callback_table("TerminateOnNaN", "terminate_on_nan.py", "stops training when the loss becomes NaN or infinite",
                       {Argument("raise_error", ArgKind::boolean, false)
                            .described("raise RuntimeError instead of stopping (on_train_end then does not run)")}),
        [](const Arguments& a) -> std::shared_ptr<Callback> {
          return std::make_shared<TerminateOnNaN>(a.flag("raise_error"));
        }};
    {
      Argument raise_error = Argument("raise_error", ArgKind::boolean, true)
                                 .described("raise the NumericError; False: print the report and stop training");
      raise_error.keras = false;  // pitfall's class: bound by position like Keras's TerminateOnNaN
      c["CheckNumerics"] = {
          callback_table("CheckNumerics", "",
                         "names the first layer and op that turn finite values into inf/NaN during fit",
                         {raise_error}),
          [](const Arguments& a) -> std::shared_ptr<Callback> {
            return std::make_shared<CheckNumerics>(a.flag("raise_error"));
          }};
    }
    c["CSVLogger"] = {
        callback_table("CSVLogger", "csv_logger.py", "streams one CSV row of logs per epoch to a file",
                       {Argument("filename", ArgKind::string).make_required().described("the CSV file"),
                        Argument("separator", ArgKind::string, ",").described("the field separator"),
                        Argument("append", ArgKind::boolean, false)
                            .described("add rows to an existing file instead of overwriting it")}),
        [](const Arguments& a) -> std::shared_ptr<Callback> {
          return std::make_shared<CSVLogger>(a.text("filename"), a.text("separator"), a.flag("append"));
        }};
    c["LambdaCallback"] = {
        callback_table("LambdaCallback", "lambda_callback.py", "calls the functions given at the points of training they name",
                       {hook_argument("on_epoch_begin", "epoch_hook", "(epoch, logs) at every epoch begin"),
                        hook_argument("on_epoch_end", "epoch_hook", "(epoch, logs) at every epoch end"),
                        hook_argument("on_train_begin", "logs_hook", "(logs) when training begins"),
                        hook_argument("on_train_end", "logs_hook", "(logs) when training ends"),
                        hook_argument("on_train_batch_begin", "batch_hook", "(batch, logs) before every train batch"),
                        hook_argument("on_train_batch_end", "batch_hook", "(batch, logs) after every train batch"),
                        batch_alias("on_batch_begin", "on_train_batch_begin"),
                        batch_alias("on_batch_end", "on_train_batch_end")}),
        [](const Arguments& a) -> std::shared_ptr<Callback> {
          LambdaCallbackHooks hooks;
          auto take = [&a](auto& hook, const char* name) {
            using Hook = std::decay_t<decltype(hook)>;
            if (const auto f = object_of<Hook>(a, name)) hook = *f;
          };
          take(hooks.on_epoch_begin, "on_epoch_begin");
          take(hooks.on_epoch_end, "on_epoch_end");
          take(hooks.on_train_begin, "on_train_begin");
          take(hooks.on_train_end, "on_train_end");
          for (const auto& [hook, alias] : {std::pair{"on_train_batch_begin", "on_batch_begin"},
                                            std::pair{"on_train_batch_end", "on_batch_end"}}) {
            if (a.object(hook) && a.object(alias)) {
              throw ValueError(std::string("LambdaCallback: both ") + hook + " and " + alias +
                               " were given; they name the same hook, pass one");
            }
          }
          take(hooks.on_train_batch_begin, a.object("on_batch_begin") ? "on_batch_begin" : "on_train_batch_begin");
          take(hooks.on_train_batch_end, a.object("on_batch_end") ? "on_batch_end" : "on_train_batch_end");
          return std::make_shared<LambdaCallback>(std::move(hooks));
        }};
    c["ModelCheckpoint"] = {
        callback_table(
            "ModelCheckpoint", "model_checkpoint.py", "saves the model or its weights during training",
            {Argument("filepath", ArgKind::string).make_required()
                 .described("where to save; may hold {epoch}, {batch} and log placeholders"),
             monitor_argument(), verbose_argument(),
             Argument("save_best_only", ArgKind::boolean, false)
                 .described("save only when the monitored quantity improves"),
             Argument("save_weights_only", ArgKind::boolean, false)
                 .described("save the weights (save_weights) instead of the model (save_model)"),
             mode_argument(),
             Argument("save_freq", ArgKind::json, "epoch")
                 .checked([](const Json& value) -> std::string {
                   if (value.is_string() || (value.is_number() && !value.is_bool())) return "";
                   return "'epoch' or a number of batches";
                 })
                 .described("\"epoch\", or a number of batches between saves"),
             Argument("initial_value_threshold", ArgKind::number).allow_none()
                 .described("the value the first save must beat (save_best_only)")}),
        [](const Arguments& a) -> std::shared_ptr<Callback> {
          const Json& freq = a.at("save_freq");
          const ModelCheckpoint::SaveFreq save_freq =
              freq.is_string() ? ModelCheckpoint::SaveFreq(freq.as_string()) : ModelCheckpoint::SaveFreq(freq.as_int());
          return std::make_shared<ModelCheckpoint>(a.text("filepath"), a.text("monitor"),
                                                   static_cast<int>(a.integer("verbose")), a.flag("save_best_only"),
                                                   a.flag("save_weights_only"), a.text("mode"), save_freq,
                                                   optional_number(a, "initial_value_threshold"));
        }};
    return c;
  }();
  return classes;
}

const bool callback_tables_registered = register_argument_classes(callback_classes());

const ArgumentClass<Callback>& callback_class(const std::string& class_name) {
  return find_argument_class(callback_classes(), class_name, "callback class");
}

}  // namespace

const Json& callback_default(const std::string& class_name, const std::string& argument) {
  const Argument* a = callback_class(class_name).table.find(argument);
  if (!a) throw RuntimeError(class_name + " has no argument '" + argument + "' in its table");
  return a->default_value;
}

Json callback_config(const std::string& class_name, const Json& arguments,
                     const std::map<std::string, std::shared_ptr<void>>& objects) {
  return parse_arguments(callback_class(class_name).table, arguments, objects).values();
}

std::shared_ptr<Callback> make_callback(const std::string& class_name, const Json& arguments,
                                        const std::map<std::string, std::shared_ptr<void>>& objects) {
  return make_argument_class(callback_classes(), class_name, "callback class", arguments, objects);
}

}  // namespace pitfall
