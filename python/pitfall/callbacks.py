"""pitfall.callbacks: Keras callbacks. Subclass ``Callback`` and override the ``on_*`` hooks; inside
them ``self.model`` is the model being trained (set ``self.model.stop_training = True`` to stop).
"""
from . import _pitfall as _C

Callback = _C.Callback
EarlyStopping = _C.EarlyStopping
ReduceLROnPlateau = _C.ReduceLROnPlateau
LearningRateScheduler = _C.LearningRateScheduler
TerminateOnNaN = _C.TerminateOnNaN
CSVLogger = _C.CSVLogger
LambdaCallback = _C.LambdaCallback
ModelCheckpoint = _C.ModelCheckpoint


class History:
    """What fit() returns: ``history.history`` maps each log name to its per-epoch values."""

    def __init__(self, epoch, history, params, model):
        self.epoch = list(epoch)
        self.history = {k: list(v) for k, v in history.items()}
        self.params = params
        self.model = model

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={sorted(self.history)}>"
