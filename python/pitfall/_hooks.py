"""Observation points the doctor (pitfall.doctor) attaches to: each list holds functions called by
the engine's Python surface. Empty lists cost one truth test per call; nothing here changes what a
call computes.

    model_call:     fn(model, inputs, training, phase, outputs)   phase "before" (outputs None) / "after"
    tape_gradient:  fn(target, sources, gradients)                after GradientTape.gradient
    fit_callbacks:  fn(model, callbacks, arguments) -> callbacks  before fit starts (may add callbacks);
                    arguments: fit's arguments by name (class_weight, sample_weight, ...)
    train_on_batch: fn(model, phase, logs)                        phase "before" (logs None) / "after"
    engine_warning: fn(message)                                   every engine warning, before Python's filters
    fit_history:    fn(model, history)                            after fit: its History (None if it raised)
    layer_call:     fn(layer, training)                           a layer called from Python (not a Model)
    dataset_shuffle: fn(dataset, buffer_size)                     Dataset.shuffle, before it returns
    config_change:  fn(name, value)                               a global setting changed (e.g. "tf32")
    loss_call:      fn(loss, y_true, y_pred)                      a Loss object called (before it computes)
"""
model_call = []
tape_gradient = []
fit_callbacks = []
fit_history = []
engine_warning = []
train_on_batch = []
layer_call = []
dataset_shuffle = []
config_change = []
loss_call = []
