"""pitfall.debug: find the first layer and op that turn finite values into inf/NaN.

With checking on, every op whose output is non-finite while its inputs were finite raises
FloatingPointError naming the layer path and the op chain, in the forward pass, the backward pass
(``op 'backward of sqrt > divide'``) and the optimizer update; fit adds the step:

    FloatingPointError: training step 13 (epoch 1, batch 13): layer 'sequential/dense_3', op
    'backward of sqrt > divide': divide produced a non-finite value (inf at flat index 0 ...) ...

Three ways to switch it on:

    pf.debug.enable_check_numerics()            # everything, every thread, until disabled
    pf.debug.check_numerics(model)              # that model's fit / evaluate / predict
    with pf.debug.check_numerics():             # everything run in the block on this thread,
        ...                                     # custom GradientTape loops included

``pf.callbacks.CheckNumerics(raise_error=False)`` instead stops training and keeps a report.
Checking reads every op's output back, so it slows training: use it to find a NaN, then switch it
off. With dynamic loss scaling (mixed precision) the overflowing float16 gradients the scaler
expects are reported too.
"""
from . import _pitfall as _C
from .doctor import Doctor

__all__ = ["Doctor", "enable_check_numerics", "disable_check_numerics", "check_numerics_enabled", "check_numerics"]


def enable_check_numerics():
    """Checks every op on every thread until disable_check_numerics() (the engine-wide switch)."""
    _C.set_check_numerics(True)


def disable_check_numerics():
    """Turns the engine-wide switch off (models and ``with check_numerics()`` blocks keep their own)."""
    _C.set_check_numerics(False)


def check_numerics_enabled():
    """True when ops run on this thread are checked (the engine-wide switch or a ``with`` block)."""
    return _C.check_numerics_active()


class check_numerics:
    """Check numerics for a model, or for a block of code on this thread.

    ``check_numerics(model)`` marks the model at once: its fit / evaluate / predict steps are
    checked (``check_numerics(model, enabled=False)`` unmarks it). As a context manager it applies
    to the block only and restores the previous setting when the block ends, an exception leaving
    it included: ``with check_numerics(model):`` for that model, ``with check_numerics():`` for
    everything run on this thread (GradientTape loops, direct op calls, any model's fit).
    """

    def __init__(self, model=None, enabled=True):
        self._model = model
        self._enabled = bool(enabled)
        self._previous = []  # a stack, so one object may be entered again (nested)
        if model is not None:
            if not hasattr(model, "check_numerics"):
                raise TypeError(f"check_numerics: model must be a pf.Model, got {type(model).__name__}")
            self._marked_from = model.check_numerics
            model.check_numerics = self._enabled

    def __enter__(self):
        if self._model is not None:
            # The model was marked in __init__; the block restores what it was before.
            self._previous.append(self._marked_from)
        else:
            self._previous.append(_C.thread_check_numerics_enabled())
            _C.set_thread_check_numerics(self._enabled)
        return self

    def __exit__(self, exc_type, exc, tb):
        previous = self._previous.pop()
        if self._model is not None:
            self._model.check_numerics = previous
        else:
            _C.set_thread_check_numerics(previous)
        return False

    def __repr__(self):
        target = "this thread" if self._model is None else getattr(self._model, "name", "model")
        return f"<check_numerics {target} enabled={self._enabled}>"
