"""GradientTape (tf.GradientTape semantics) and no_grad, over the engine's define-by-run autograd.

The engine records every op whose input requires grad, tape or not; the tape decides what
gradient() reports. Trainable Variables are always watched (unless watch_accessed_variables=False),
tape.watch(t) makes a float tensor record from then on, and gradients come from
pitfall::gradients(), which never touches any .grad.
"""
import contextlib

from . import _pitfall as _C
from . import _hooks
from ._convert import Tensor, convert_like, convert_to_tensor


class no_grad(contextlib.ContextDecorator):
    """Disables autograd recording in a `with` block or a decorated function (like torch.no_grad)."""

    def __init__(self):
        self._previous = []

    def __enter__(self):
        self._previous.append(_C.grad_enabled())
        _C.set_grad_enabled(False)
        return self

    def __exit__(self, *exc):
        _C.set_grad_enabled(self._previous.pop())
        return False


class _enable_grad(no_grad):
    def __enter__(self):
        self._previous.append(_C.grad_enabled())
        _C.set_grad_enabled(True)
        return self


def _flatten(structure):
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in _flatten(structure[key])]
    return [structure]


def _pack(structure, leaves):
    """Rebuilds `structure` with `leaves` (an iterator) in place of its leaves."""
    if isinstance(structure, list):
        return [_pack(item, leaves) for item in structure]
    if isinstance(structure, tuple):
        packed = [_pack(item, leaves) for item in structure]
        return type(structure)(*packed) if hasattr(structure, "_fields") else tuple(packed)
    if isinstance(structure, dict):
        return {key: _pack(structure[key], leaves) for key in sorted(structure)}
    return next(leaves)


class GradientTape:
    """Records a computation for automatic differentiation, like tf.GradientTape.

        with pf.GradientTape() as tape:
            loss = pf.ops.mean(pf.ops.square(w * x - y))
        dw, db = tape.gradient(loss, [w, b])

    Unconnected sources give None (or zeros with unconnected_gradients='zero'). A non-persistent
    tape computes one set of gradients; a second gradient() call raises RuntimeError.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = bool(persistent)
        self._watch_accessed_variables = bool(watch_accessed_variables)
        self._watched = {}  # impl id -> tensor
        self._turned_on = []  # leaves whose requires_grad this tape set (reset when the tape is done)
        self._used = False
        self._grad_mode = None

    def __enter__(self):
        self._grad_mode = _enable_grad()
        self._grad_mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._grad_mode.__exit__(*exc)
        return False

    def __del__(self):
        try:
            self._release()
        except Exception:  # interpreter shutdown
            pass

    def watch(self, tensor):
        """Records operations on `tensor` (a float tensor, or a nested list of them) from now on."""
        for t in _flatten(tensor):
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.watch expects tensors, got {type(t).__name__}")
            if not t.requires_grad:
                t.requires_grad = True  # raises TypeError for integer tensors
                self._turned_on.append(t)
            self._watched[t._impl_id()] = t

    def stop_recording(self):
        """A context in which operations are not recorded."""
        return no_grad()

    def reset(self):
        self._release()
        self._watched.clear()
        self._used = False

    def watched_variables(self):
        return list(self._watched.values())

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d(target)/d(sources), shaped like `sources` (a tensor or nested list/tuple/dict of them)."""
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of "
                               "gradients (or jacobians); create the tape with persistent=True to call "
                               "gradient() more than once")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"unconnected_gradients must be 'none' or 'zero', got {unconnected_gradients!r}")
        self._used = True
        flat_sources = _flatten(sources)
        for s in flat_sources:
            if not isinstance(s, Tensor):
                raise TypeError(f"gradient sources must be tensors or Variables, got {type(s).__name__}")
        targets = _flatten(target)
        output_grads = _flatten(output_gradients) if output_gradients is not None else [None] * len(targets)
        if len(output_grads) != len(targets):
            raise ValueError(f"{len(output_grads)} output_gradients for {len(targets)} targets")
        grads = [None] * len(flat_sources)
        with no_grad():
            for t, g in zip(targets, output_grads):
                for i, grad in enumerate(self._gradient_of(convert_to_tensor(t), flat_sources, g)):
                    if grad is not None:
                        grads[i] = grad if grads[i] is None else _C.ops.add(grads[i], grad)
            for i, source in enumerate(flat_sources):
                if not self._is_watched(source):
                    grads[i] = None
                if grads[i] is None and unconnected_gradients == "zero":
                    grads[i] = _C.full(list(source.shape), 0.0, source.dtype)
        if not self._persistent:
            self._release()
        for hook in _hooks.tape_gradient:
            hook(target, flat_sources, grads)
        return _pack(sources, iter(grads))

    def _is_watched(self, source):
        if source._impl_id() in self._watched:
            return True
        from .variables import Variable  # late: variables imports this module's siblings
        if isinstance(source, Variable):
            return self._watch_accessed_variables and source.trainable
        return True  # a tensor that requires grad (e.g. an intermediate result) is on the tape

    @staticmethod
    def _gradient_of(target, sources, output_gradient):
        if not target.requires_grad:
            return [None] * len(sources)
        if output_gradient is None:
            # TF: a non-scalar target means the gradient of its sum.
            root_grad = _C.full(list(target.shape), 1.0, target.dtype) if target.size != 1 else None
        else:
            root_grad = convert_like(output_gradient, target, "gradient")
        return _C.gradients(target, sources, root_grad)

    def _release(self):
        for t in self._turned_on:
            if t.is_leaf:
                t.requires_grad = False
        self._turned_on = []
