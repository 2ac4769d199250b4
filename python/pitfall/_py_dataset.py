"""keras.utils.PyDataset and the adapter that feeds fit / evaluate / predict from Python batch
sources: a PyDataset (batch-centric: ``__len__`` batches, ``__getitem__(i)`` is batch i) or a PyTorch
``DataLoader`` (any iterable of batches that knows its length).

Reference: keras/src/trainers/data_adapters/py_dataset_adapter.py (PyDataset, PyDatasetAdapter),
keras/src/trainers/data_adapters/__init__.py (get_data_adapter: which arguments each source refuses),
keras/src/trainers/data_adapters/torch_data_loader_adapter.py.
"""
import collections
import concurrent.futures
import itertools
import random
import warnings

import numpy as np


class PyDataset:
    """Base class of a dataset written in Python (keras.utils.PyDataset, alias keras.utils.Sequence).

    Implement ``__getitem__(index)`` (batch ``index``: ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)``) and ``__len__`` (the number of batches), or the ``num_batches``
    property (None: infinite). ``on_epoch_begin`` / ``on_epoch_end`` run around every epoch of
    fit (and every evaluation pass). fit(shuffle=True) visits the batches in a new order each
    epoch (``random.Random(epoch)``, as Keras).

    Args:
        workers: threads that read batches ahead while the model trains (1: read in the loop).
        use_multiprocessing: must stay False: pitfall reads batches in threads, never in forked
            processes (a fork of a process running the engine's thread pool is unsafe).
        max_queue_size: batches read ahead at most (with workers > 1).
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ValueError(f"PyDataset: workers must be a non-negative int, got workers={workers!r}")
        if use_multiprocessing:
            raise NotImplementedError("PyDataset(use_multiprocessing=True) is not supported: pitfall reads batches "
                                      "in threads, not forked processes; use workers=N (threads) instead")
        if isinstance(max_queue_size, bool) or not isinstance(max_queue_size, int) or max_queue_size < 1:
            raise ValueError(f"PyDataset: max_queue_size must be a positive int, got max_queue_size={max_queue_size!r}")
        self._workers = workers
        self._use_multiprocessing = False
        self._max_queue_size = max_queue_size

    def _setting(self, name, default):
        if not hasattr(self, name):
            warnings.warn("Your `PyDataset` class should call `super().__init__(**kwargs)` in its constructor. "
                          "`**kwargs` can include `workers`, `use_multiprocessing`, `max_queue_size`. Do not pass "
                          "these arguments to `fit()`, as they will be ignored.", stacklevel=3)
            setattr(self, name, default)
        return getattr(self, name)

    @property
    def workers(self):
        return self._setting("_workers", 1)

    @property
    def use_multiprocessing(self):
        return self._setting("_use_multiprocessing", False)

    @property
    def max_queue_size(self):
        return self._setting("_max_queue_size", 10)

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(self, index), returning batch "
                                  "`index` as (x, y) or (x, y, sample_weight)")

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or None for an infinite dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__} must implement __len__ (the number of batches) or the "
                                  "num_batches property")

    def __iter__(self):
        count = self.num_batches
        for index in (range(count) if count is not None else itertools.count()):
            yield self[index]

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


def is_torch_dataloader(x):
    """keras's is_torch_dataloader: a class named DataLoader from torch.utils.data in x's MRO."""
    return any(parent.__name__ == "DataLoader" and "torch.utils.data" in str(parent.__module__)
               for parent in type(x).__mro__)


def is_batch_source(x):
    return isinstance(x, PyDataset) or is_torch_dataloader(x)


def _leaf_to_numpy(value):
    """A torch tensor as a NumPy array (Keras's numpy iterator); anything else as it is."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    return value


class BatchSource:
    """One fit / evaluate / predict pass over a PyDataset or DataLoader (Keras's PyDatasetAdapter /
    TorchDataLoaderAdapter): iterate it for an epoch's batches, standardized to (x,), (x, y) or
    (x, y, sample_weight) tuples, with class_weight turned into sample weights."""

    def __init__(self, source, what, y=None, sample_weight=None, batch_size=None, class_weight=None, shuffle=False):
        kind = "PyDataset" if isinstance(source, PyDataset) else "torch DataLoader"
        for value, name, description in ((y, "y", "the targets"), (sample_weight, "sample_weight", "the sample weights")):
            if value is not None:
                raise ValueError(f"{what}: when providing `x` as a {kind}, `{name}` should not be passed. Instead, "
                                 f"{description} should be included as part of the {kind}.")
        if batch_size is not None:
            warnings.warn(f"{what}: batch_size={batch_size} is not used: the {kind} yields whole batches of its "
                          "own size", stacklevel=4)
        self.source = source
        self.is_py_dataset = kind == "PyDataset"
        if class_weight is not None and not self.is_py_dataset:
            raise ValueError(f"{what}: argument `class_weight` is not supported for torch DataLoader inputs; return "
                             f"(x, y, sample_weight) from the dataset's __getitem__ instead. Received: "
                             f"class_weight={class_weight}")
        if shuffle and not self.is_py_dataset:
            warnings.warn(f"{what}: `shuffle=True` is not used: a torch DataLoader is expected to shuffle itself "
                          "(DataLoader(..., shuffle=True))", stacklevel=4)
        self.class_weight = class_weight
        self.shuffle = bool(shuffle) and self.is_py_dataset
        self.epoch = 0

    @property
    def num_batches(self):
        if self.is_py_dataset:
            return self.source.num_batches
        return len(self.source)

    def on_epoch_begin(self):
        if self.is_py_dataset:
            self.source.on_epoch_begin()

    def on_epoch_end(self):
        if self.is_py_dataset:
            self.source.on_epoch_end()
        self.epoch += 1

    def _standardize(self, batch):
        from .data import _map_structure
        batch = _map_structure(_leaf_to_numpy, batch)
        if isinstance(batch, dict):
            return (batch,)
        if isinstance(batch, np.ndarray):
            batch = (batch,)
        if isinstance(batch, list):
            batch = tuple(batch)
        if not isinstance(batch, tuple) or len(batch) not in (1, 2, 3):
            raise ValueError("PyDataset.__getitem__() must return a tuple or a dict. If a tuple, it must be ordered "
                             "either (input,) or (inputs, targets) or (inputs, targets, sample_weights). "
                             f"Received: {str(batch)[:100]}... of type {type(batch)}")
        if self.class_weight is not None:
            if len(batch) == 3:
                raise ValueError("You cannot specify `class_weight` and `sample_weight` at the same time.")
            if len(batch) == 2:
                from ._trainer import class_sample_weights
                batch = batch + (class_sample_weights(batch[1], self.class_weight),)
        return batch

    def __iter__(self):
        if not self.is_py_dataset:
            return (self._standardize(batch) for batch in self.source)
        count = self.num_batches
        indices = range(count) if count is not None else itertools.count()
        if self.shuffle and count is not None:
            indices = list(indices)
            random.Random(self.epoch).shuffle(indices)
        return (self._standardize(batch) for batch in _read_ahead(self.source, indices))


def _read_ahead(py_dataset, indices):
    """py_dataset[i] for i in indices, in order; with workers > 1 up to max_queue_size batches are
    read ahead in a thread pool (Keras's OrderedEnqueuer, threads only)."""
    workers = py_dataset.workers
    if workers <= 1:
        for index in indices:
            yield py_dataset[index]
        return
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    pending = collections.deque()
    indices = iter(indices)
    try:
        for index in itertools.islice(indices, py_dataset.max_queue_size):
            pending.append(pool.submit(py_dataset.__getitem__, index))
        while pending:
            batch = pending.popleft().result()
            for index in itertools.islice(indices, 1):
                pending.append(pool.submit(py_dataset.__getitem__, index))
            yield batch
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
