"""pitfall.callbacks: Keras callbacks. Subclass ``Callback`` and override the ``on_*`` hooks; inside
them ``self.model`` is the model being trained (set ``self.model.stop_training = True`` to stop).
"""
from . import _pitfall as _C
from . import _arguments

Callback = _C.Callback
EarlyStopping = _C.EarlyStopping
ReduceLROnPlateau = _C.ReduceLROnPlateau
LearningRateScheduler = _C.LearningRateScheduler
TerminateOnNaN = _C.TerminateOnNaN
CheckNumerics = _C.CheckNumerics
CSVLogger = _C.CSVLogger
LambdaCallback = _C.LambdaCallback
ModelCheckpoint = _C.ModelCheckpoint

# Signatures and help text from the argument tables (training/callback_arguments.cpp).


def _on_batch_begin(self, batch, logs=None):
    """A backwards compatibility alias for `on_train_batch_begin` (Keras 3's Callback)."""


def _on_batch_end(self, batch, logs=None):
    """A backwards compatibility alias for `on_train_batch_end` (Keras 3's Callback)."""


def _on_train_batch_begin(self, batch, logs=None):
    """Called at the start of a training batch; by default calls on_batch_begin (keras/src/callbacks/callback.py)."""
    self.on_batch_begin(batch, logs=logs)


def _on_train_batch_end(self, batch, logs=None):
    """Called at the end of a training batch; by default calls on_batch_end (keras/src/callbacks/callback.py)."""
    self.on_batch_end(batch, logs=logs)


Callback.on_batch_begin = _on_batch_begin
Callback.on_batch_end = _on_batch_end
Callback.on_train_batch_begin = _on_train_batch_begin
Callback.on_train_batch_end = _on_train_batch_end

from ._tensorboard import TensorBoard  # noqa: E402  (a Callback subclass)

for _cls in (EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, TerminateOnNaN, CheckNumerics, CSVLogger,
             LambdaCallback, ModelCheckpoint):
    _arguments.install(_cls, "callbacks")



def _no_op(self, *args, **kwargs):
    """Does nothing: override it in a subclass."""


# The evaluate / predict hooks (keras/src/callbacks/callback.py); evaluate(callbacks=) and
# predict(callbacks=) call them, with the batch index and logs as Keras passes them.
for _hook in ("on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end", "on_predict_begin",
              "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"):
    setattr(Callback, _hook, _no_op)

from .doctor import Doctor  # noqa: E402  (a Python callback: the doctor, pitfall/doctor.py)


class History:
    """What fit() returns: ``history.history`` maps each log name to its per-epoch values.

    ``history.timing`` says where each epoch's time went: "input_wait_seconds" (fit blocked
    waiting for the next batch), "step_seconds" (train steps), "epoch_seconds" (everything,
    validation and callbacks included) and "input_wait_fraction" = wait / (wait + step). A slow
    input pipeline without prefetch shows as a large input_wait_fraction.
    """

    def __init__(self, epoch, history, params, model, timing=None):
        self.epoch = list(epoch)
        self.history = {k: list(v) for k, v in history.items()}
        self.params = params
        self.model = model
        self.timing = {k: list(v) for k, v in (timing or {}).items()}

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={sorted(self.history)}>"
