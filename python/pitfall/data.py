"""pf.data: tf.data-style input pipelines, run by the C++ core (data/dataset.h).

    ds = (pf.data.Dataset.from_tensor_slices((x_train, y_train))
          .shuffle(60000, seed=0)
          .batch(128)
          .map(pf.data.transforms.Rescale(1 / 255), num_parallel_calls=pf.data.AUTOTUNE)
          .prefetch(pf.data.AUTOTUNE))
    model.fit(ds, epochs=5)

Names, arguments and semantics follow tf.data: shuffle draws uniformly from a buffer of
buffer_size elements (a small buffer only shuffles locally), reshuffles every iteration unless told
not to, repeat/shuffle order matters, parallel map keeps the input order unless deterministic=False.
Elements are pf.Tensor objects (``as_numpy_iterator()`` gives NumPy arrays); tuples, lists and
dicts nest. Python functions given to map/filter/from_generator run with the GIL held only around
the call; ``pf.data.transforms`` run in C++ without it, so parallel maps of them use every core.
Iterators own their background threads: an abandoned iterator stops them when it is collected, and
any still running are stopped at interpreter exit.
"""
import atexit
import numbers

import numpy as np

from . import _hooks
from . import _pitfall as _C
from ._convert import Tensor, convert_to_tensor, standardize_dtype
from ._readers import read_csv, read_idx, read_npy, read_npz, save_npy

_D = _C.data

AUTOTUNE = _D.AUTOTUNE
INFINITE_CARDINALITY = _D.INFINITE_CARDINALITY
UNKNOWN_CARDINALITY = _D.UNKNOWN_CARDINALITY

__all__ = ["Dataset", "Options", "TensorSpec", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY",
           "transforms", "experimental", "read_idx", "read_npy", "read_npz", "read_csv", "save_npy"]

atexit.register(_D.shutdown_all_pipelines)


class Options:
    """tf.data.Options: ``deterministic`` (None = True) lets parallel maps return elements out of
    order when set to False."""

    def __init__(self, deterministic=None):
        self.deterministic = deterministic

    def __repr__(self):
        return f"Options(deterministic={self.deterministic!r})"


class TensorSpec:
    """The shape (None for any size) and dtype of one tensor of an element (tf.TensorSpec)."""

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = None if shape is None else tuple(None if d is None else int(d) for d in shape)
        self.dtype = standardize_dtype(dtype)
        self.name = name

    def is_compatible_with(self, shape):
        if self.shape is None:
            return True
        shape = tuple(shape)
        return len(shape) == len(self.shape) and all(a is None or a == b for a, b in zip(self.shape, shape))

    def __eq__(self, other):
        return isinstance(other, TensorSpec) and (self.shape, self.dtype) == (other.shape, other.dtype)

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype}, name={self.name!r})"


def _map_structure(fn, value):
    if isinstance(value, tuple):
        return tuple(_map_structure(fn, v) for v in value)
    if isinstance(value, list):
        return [_map_structure(fn, v) for v in value]
    if isinstance(value, dict):
        return {k: _map_structure(fn, v) for k, v in value.items()}
    return fn(value)


def _spec_of(value):
    return _map_structure(lambda t: TensorSpec(t.shape, t.dtype), value)


def _predicate_value(result):
    value = np.asarray(result)
    if value.shape != () or value.dtype != np.bool_:
        raise TypeError(f"Dataset.filter: the predicate must return a scalar boolean, got {value.dtype} "
                        f"of shape {value.shape}")
    return bool(value)


def _threads(num_parallel_calls):
    if num_parallel_calls is None:
        return None
    if not isinstance(num_parallel_calls, numbers.Integral):
        raise TypeError(f"num_parallel_calls must be an int or pf.data.AUTOTUNE, got {num_parallel_calls!r}")
    return int(num_parallel_calls)


def _conform(value, signature, index, path="element"):
    """Converts a generator's value to the declared signature (tf.data's from_generator rules)."""
    if isinstance(signature, (tuple, list)):
        if not isinstance(value, (tuple, list)) or len(value) != len(signature):
            raise TypeError(f"Dataset.from_generator: the generator yielded {value!r} as element {index}, which "
                            f"does not match the output_signature structure {signature!r}")
        return type(signature)(_conform(v, s, index, f"{path}[{i}]") for i, (v, s) in enumerate(zip(value, signature)))
    if isinstance(signature, dict):
        if not isinstance(value, dict) or sorted(value) != sorted(signature):
            raise TypeError(f"Dataset.from_generator: element {index} has keys "
                            f"{sorted(value) if isinstance(value, dict) else type(value).__name__} but the "
                            f"output_signature has {sorted(signature)}")
        return {k: _conform(value[k], signature[k], index, f"{path}[{k!r}]") for k in signature}
    if not isinstance(signature, TensorSpec):
        raise TypeError(f"Dataset.from_generator: output_signature entries must be pf.data.TensorSpec, "
                        f"got {signature!r}")
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"Dataset.from_generator: {path} of element {index} is {value!r}, not numeric data")
    target = signature.dtype
    if target in ("int32", "int64", "uint8") and array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
        raise TypeError(f"Dataset.from_generator: {path} of element {index} holds fractional {array.dtype} values "
                        f"but the output_signature says {target}; round them or declare a float dtype")
    if not signature.is_compatible_with(array.shape):
        raise TypeError(f"Dataset.from_generator: the generator yielded {path} of shape {array.shape} as element "
                        f"{index} where the output_signature expects {signature.shape}")
    return convert_to_tensor(array, target)


def _signature_from_types(output_types, output_shapes):
    def spec(dtype, shape):
        return TensorSpec(shape, dtype)
    if isinstance(output_types, (tuple, list)):
        shapes = output_shapes if output_shapes is not None else [None] * len(output_types)
        return tuple(_signature_from_types(t, s) for t, s in zip(output_types, shapes))
    if isinstance(output_types, dict):
        shapes = output_shapes or {}
        return {k: _signature_from_types(t, shapes.get(k)) for k, t in output_types.items()}
    return spec(output_types, output_shapes)


class Dataset:
    """A tf.data.Dataset: build with the static constructors, chain transforms, iterate or fit()."""

    def __init__(self, handle, element_spec=None):
        self._handle = handle
        self._element_spec = element_spec

    # ---- sources

    @staticmethod
    def from_tensor_slices(tensors, name=None):
        """One element per row of the tensors (all need the same first dimension)."""
        return Dataset(_D.Dataset.from_tensor_slices(tensors))

    @staticmethod
    def from_tensors(tensors, name=None):
        """One element: the tensors as given."""
        return Dataset(_D.Dataset.from_tensors(tensors))

    @staticmethod
    def range(*args, output_type="int64", name=None):
        """range(stop), range(start, stop[, step]): int64 scalars (output_type converts)."""
        if not 1 <= len(args) <= 3:
            raise TypeError(f"Dataset.range takes 1 to 3 arguments (start, stop, step), got {len(args)}")
        start, stop, step = (0, args[0], 1) if len(args) == 1 else (args + (1,))[:3]
        ds = Dataset(_D.Dataset.range(int(start), int(stop), int(step)))
        dtype = standardize_dtype(output_type)
        return ds if dtype == "int64" else ds.map(transforms.Cast(dtype))

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None, output_signature=None,
                       name=None):
        """Elements from ``generator(*args)`` (called again for every iteration), converted to
        output_signature (a structure of pf.data.TensorSpec)."""
        if not callable(generator):
            raise TypeError(f"Dataset.from_generator: `generator` must be a callable that returns an iterator "
                            f"(pass the generator function, not a generator object), got {generator!r}")
        if output_signature is None:
            if output_types is None:
                raise TypeError("Dataset.from_generator: give output_signature=(pf.data.TensorSpec(...), ...) "
                                "(or the older output_types/output_shapes)")
            output_signature = _signature_from_types(output_types, output_shapes)
        arguments = tuple(args or ())
        signature = output_signature

        def elements():
            for index, value in enumerate(generator(*arguments)):
                yield _conform(value, signature, index)

        return Dataset(_D.Dataset.from_generator(elements), output_signature)

    @staticmethod
    def zip(*datasets, name=None):
        """Tuples of the datasets' elements (zip((a, b)) or zip(a, b)); ends with the shortest."""
        if len(datasets) == 1 and isinstance(datasets[0], (tuple, list)):
            datasets = tuple(datasets[0])
        for d in datasets:
            if not isinstance(d, Dataset):
                raise TypeError(f"Dataset.zip: expected Datasets, got {d!r}")
        return Dataset(_D.Dataset.zip([d._handle for d in datasets]))

    @staticmethod
    def _from_array_batches(arrays, batch_size, shuffle):
        """fit(x, y)'s source: batches of rows gathered by one permutation per iteration (drawn from
        the global generator when the iteration starts)."""
        return Dataset(_D.Dataset.from_array_batches([convert_to_tensor(a) for a in arrays], int(batch_size),
                                                     bool(shuffle)))

    # ---- transforms

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """Draws each element uniformly from a buffer of the next buffer_size elements."""
        for hook in _hooks.dataset_shuffle:
            hook(self, int(buffer_size))
        return Dataset(self._handle.shuffle(int(buffer_size), None if seed is None else int(seed),
                                            bool(reshuffle_each_iteration)), self._element_spec)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None, name=None):
        """Stacks batch_size consecutive elements (the last batch may be smaller unless drop_remainder)."""
        return Dataset(self._handle.batch(int(batch_size), bool(drop_remainder)))

    def unbatch(self, name=None):
        return Dataset(self._handle.unbatch())

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """Applies map_func to every element: a Python callable (tuple elements are passed as
        positional arguments), a pf.data.transforms object, or a list of transforms."""
        threads = _threads(num_parallel_calls)
        if isinstance(map_func, (list, tuple)) and map_func and all(isinstance(t, transforms.Transform) for t in map_func):
            map_func = transforms.Compose(map_func)
        if isinstance(map_func, transforms.Transform):
            return Dataset(self._handle.map_transform(map_func._handle, threads, deterministic))
        if not callable(map_func):
            raise TypeError(f"Dataset.map: map_func must be callable or a pf.data.transforms object, got {map_func!r}")
        label = name or getattr(map_func, "__name__", "map")
        return Dataset(self._handle.map_python(map_func, threads, deterministic, f"map({label})"))

    def filter(self, predicate, name=None):
        """Keeps the elements for which predicate returns True (a scalar boolean)."""
        if not callable(predicate):
            raise TypeError(f"Dataset.filter: predicate must be callable, got {predicate!r}")
        label = name or getattr(predicate, "__name__", "filter")
        return Dataset(self._handle.filter_python(predicate, f"filter({label})"), self._element_spec)

    def repeat(self, count=None, name=None):
        """Repeats the dataset count times (None or -1: forever)."""
        return Dataset(self._handle.repeat(-1 if count is None else int(count)), self._element_spec)

    def take(self, count, name=None):
        return Dataset(self._handle.take(int(count)), self._element_spec)

    def skip(self, count, name=None):
        return Dataset(self._handle.skip(int(count)), self._element_spec)

    def cache(self, filename="", name=None):
        """Keeps the elements of the first complete iteration in memory (filename "") or in a file."""
        return Dataset(self._handle.cache(str(filename)), self._element_spec)

    def prefetch(self, buffer_size, name=None):
        """Produces up to buffer_size elements ahead on a background thread (AUTOTUNE adapts it)."""
        return Dataset(self._handle.prefetch(int(buffer_size)), self._element_spec)

    def copy_to_device(self, target_device, name=None):
        """Each element's tensors moved to target_device ('gpu', 'cpu', '/GPU:0') as they are read
        (tf.data.experimental.copy_to_device). Raises RuntimeError at once when the device is missing."""
        return Dataset(self._handle.copy_to_device(str(target_device)), self._element_spec)

    def prefetch_to_device(self, device, buffer_size=None, name=None):
        """Keeps buffer_size elements ready on `device`, copied by a background thread through
        page-locked memory on a copy stream, so the training step never waits for a host->GPU copy
        (tf.data.experimental.prefetch_to_device). Put it last. buffer_size None: AUTOTUNE. On the
        CPU it is prefetch(buffer_size)."""
        size = AUTOTUNE if buffer_size is None else int(buffer_size)
        return Dataset(self._handle.prefetch_to_device(str(device), size), self._element_spec)

    def apply(self, transformation_func):
        """transformation_func(self), which must return a Dataset (tf.data.Dataset.apply), e.g.
        ds.apply(pf.data.experimental.prefetch_to_device('gpu'))."""
        result = transformation_func(self)
        if not isinstance(result, Dataset):
            raise TypeError(f"Dataset.apply: {transformation_func!r} returned {type(result).__name__}, "
                            "expected a pf.data.Dataset")
        return result

    def shard(self, num_shards, index, name=None):
        return Dataset(self._handle.shard(int(num_shards), int(index)), self._element_spec)

    def enumerate(self, start=0, name=None):
        return Dataset(self._handle.enumerate(int(start)))

    def concatenate(self, dataset, name=None):
        """This dataset's elements, then dataset's (same structure)."""
        if not isinstance(dataset, Dataset):
            raise TypeError(f"Dataset.concatenate: expected a Dataset, got {dataset!r}")
        return Dataset(self._handle.concatenate(dataset._handle), self._element_spec)

    def with_options(self, options, name=None):
        if not isinstance(options, Options):
            raise TypeError(f"Dataset.with_options: expected pf.data.Options, got {options!r}")
        return Dataset(self._handle.with_deterministic(options.deterministic), self._element_spec)

    def options(self):
        return Options(deterministic=self._handle.deterministic())

    # ---- inspection and iteration

    def cardinality(self):
        """The number of elements, or INFINITE_CARDINALITY / UNKNOWN_CARDINALITY."""
        return self._handle.cardinality()

    def __len__(self):
        n = self.cardinality()
        if n == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset length is unknown.")
        return n

    @property
    def element_spec(self):
        """The structure of TensorSpecs of the elements (read from the first element when the
        pipeline cannot tell without running, e.g. after map)."""
        if self._element_spec is None:
            iterator = iter(self)
            try:
                first = next(iterator)
            except StopIteration:
                raise ValueError("Dataset.element_spec: the dataset is empty") from None
            finally:
                iterator.close()
            self._element_spec = _spec_of(first)
        return self._element_spec

    def __iter__(self):
        return _Iterator(self._handle.iterator())

    def as_numpy_iterator(self):
        """Iterates the elements as NumPy arrays."""
        for element in self:
            yield _map_structure(np.asarray, element)

    def __repr__(self):
        return f"<Dataset {self._handle.describe()} cardinality={self.cardinality()}>"


class _Iterator:
    def __init__(self, handle):
        self._handle = handle

    def __iter__(self):
        return self

    def __next__(self):
        if self._handle is None:
            raise StopIteration
        return self._handle.next()

    def get_next(self):
        return next(self)

    def close(self):
        """Stops the iterator's background threads now (collection does it too)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


from . import data_transforms as transforms  # noqa: E402


class experimental:  # noqa: N801 (tf.data.experimental)
    AUTOTUNE = AUTOTUNE
    INFINITE_CARDINALITY = INFINITE_CARDINALITY
    UNKNOWN_CARDINALITY = UNKNOWN_CARDINALITY

    @staticmethod
    def cardinality(dataset):
        return dataset.cardinality()

    @staticmethod
    def prefetch_to_device(device, buffer_size=None):
        """For Dataset.apply: ds.apply(pf.data.experimental.prefetch_to_device('gpu'))."""
        return lambda dataset: dataset.prefetch_to_device(device, buffer_size)

    @staticmethod
    def copy_to_device(target_device, source_device="/cpu:0"):
        """For Dataset.apply: ds.apply(pf.data.experimental.copy_to_device('gpu')). Pipelines produce
        their elements on the CPU, so source_device must name the CPU."""
        if _C.canonical_device(str(source_device)) != "cpu":
            raise ValueError(f"copy_to_device: source_device {source_device!r}: pipeline elements are produced on "
                             "the CPU; leave source_device at '/cpu:0'")
        return lambda dataset: dataset.copy_to_device(target_device)

    @staticmethod
    def CsvDataset(filenames, record_defaults, compression_type=None, buffer_size=None, header=False,  # noqa: N802
                   field_delim=",", use_quote_delim=True, na_value="", select_cols=None, exclude_cols=None):
        """Rows of CSV files as tuples of scalars, one per selected column (tf.data.experimental.CsvDataset:
        each record_defaults entry is a dtype (required column) or a default value for missing fields)."""
        if compression_type not in (None, ""):
            raise NotImplementedError("CsvDataset: compressed CSV files are not supported; decompress them first")
        if exclude_cols is not None:
            raise NotImplementedError("CsvDataset: exclude_cols is not supported; give select_cols")
        if isinstance(filenames, (str, bytes)):
            filenames = [filenames]
        datasets = []
        for filename in filenames:
            columns = read_csv(filename, record_defaults, header=header, field_delim=field_delim,
                               use_quote_delim=use_quote_delim, na_value=na_value, select_cols=select_cols)
            datasets.append(Dataset.from_tensor_slices(tuple(columns)))
        result = datasets[0]
        for d in datasets[1:]:
            result = result.concatenate(d)
        return result
