"""pitfall.Variable: a named leaf tensor whose value is changed in place (optimizer updates)."""
import numpy as np

from . import _pitfall as _C
from ._convert import Tensor, _NoGrad, convert_like, convert_to_tensor, standardize_dtype


class Variable(Tensor):
    """A mutable leaf tensor, like keras.Variable / tf.Variable.

    ``Variable(initial_value, trainable=True, name=None, dtype=None)``: `initial_value` is anything
    pitfall.tensor() accepts, or a callable ``initializer(shape, dtype)`` together with ``shape=``.
    A trainable floating variable requires grad, so GradientTape watches it. ``assign``,
    ``assign_add`` and ``assign_sub`` write in place, outside autograd.
    """

    def __init__(self, initial_value, trainable=True, name=None, dtype=None, shape=None):
        dtype = standardize_dtype(dtype)
        if callable(initial_value):
            if shape is None:
                raise ValueError("Variable: a callable initializer needs shape=")
            initial_value = initial_value(tuple(shape), dtype or "float32")
        with _NoGrad():
            value = convert_to_tensor(initial_value, dtype)
            if shape is not None and tuple(shape) != value.shape:
                raise ValueError(f"Variable: initial value of shape {value.shape} does not match shape={tuple(shape)}")
            # A fresh copy: the variable owns its storage, and it is a leaf even if the value was not.
            super().__init__(value.detach().clone())
        self.name = name if name is not None else "variable"
        self._trainable = bool(trainable)
        if self.dtype in ("float16", "bfloat16", "float32", "float64"):
            self.requires_grad = self._trainable

    @classmethod
    def _sharing(cls, tensor, name=None, trainable=None):
        """A variable that IS `tensor`'s storage (a layer's weight), not a copy of it. Its name stays
        the weight's own ("dense/kernel", what errors and reports use); `path` says the same."""
        variable = cls.__new__(cls)
        Tensor.__init__(variable, tensor)
        if not variable.name and name is not None:
            variable.name = name
        variable.path = variable.name
        variable._trainable = bool(tensor.requires_grad if trainable is None else trainable)
        return variable

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        if self.dtype in ("float16", "bfloat16", "float32", "float64"):
            self.requires_grad = self._trainable

    @property
    def value(self):
        """The current value as a plain Tensor handle (same storage, same gradient identity)."""
        return Tensor(self)

    def _converted(self, value, op):
        value = convert_like(value, self, op)
        if value.ndim == 0 and self.ndim != 0:
            value = _C.ops.broadcast_to(value, list(self.shape))
        return value

    def assign(self, value):
        """Overwrites the value in place (same shape and dtype; a scalar fills every element)."""
        with _NoGrad():
            self._assign(self._converted(value, "assign"))
        return self

    def assign_add(self, delta):
        with _NoGrad():
            self._assign(_C.ops.add(Tensor(self), self._converted(delta, "assign_add")))
        return self

    def assign_sub(self, delta):
        with _NoGrad():
            self._assign(_C.ops.subtract(Tensor(self), self._converted(delta, "assign_sub")))
        return self

    def __reduce__(self):
        values = self.numpy("float32") if self.dtype == "bfloat16" else self.numpy()
        return _rebuild_variable, (values, self.trainable, self.name, self.dtype)

    def __deepcopy__(self, memo):
        return _rebuild_variable(*self.__reduce__()[1])

    def __repr__(self):
        values = self.numpy("float32") if self.dtype == "bfloat16" else self.numpy()
        body = np.array2string(values, separator=", ", threshold=200)
        return (f"<Variable name={self.name!r}, shape={self.shape}, dtype={self.dtype}, "
                f"trainable={self.trainable}, value={body}>")

    __str__ = __repr__


def _rebuild_variable(values, trainable, name, dtype):
    return Variable(values, trainable=trainable, name=name, dtype=dtype)
