"""keras.callbacks.TensorBoard without TensorFlow: event files written by hand.

An event file is a TFRecord file (each record: uint64 length, masked CRC32C of the length, the
bytes, masked CRC32C of the bytes) of ``Event`` protocol buffers (tensorflow/core/util/event.proto):
the first holds ``file_version = "brain.Event:2"``, each later one a ``Summary`` of scalar values.
TensorBoard reads these files as it reads TensorFlow's.

Reference: keras/src/callbacks/tensorboard.py (directories, tags, steps), tensorflow's
core/lib/hash/crc32c.h (the mask) and core/framework/summary.proto.
"""
import os
import socket
import struct
import time

from . import _pitfall as _C


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli) of bytes: crc32c(b"123456789") == 0xE3069283."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value):
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field(number, wire_type):
    return _varint((number << 3) | wire_type)


def _bytes_field(number, payload):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return _field(number, 2) + _varint(len(payload)) + payload


def _scalar_value(tag, value):
    # Summary.Value: tag = 1, simple_value = 2 (float).
    return _bytes_field(1, tag) + _field(2, 5) + struct.pack("<f", float(value))


def _text_value(tag, text, plugin_name, plugin_content=b""):
    # Summary.Value: tag = 1, tensor = 8 (TensorProto: dtype = 1 (DT_STRING = 7), tensor_shape = 2,
    # string_val = 8), metadata = 9 (SummaryMetadata.plugin_data = 1: plugin_name = 1, content = 2).
    tensor = _field(1, 0) + _varint(7) + _bytes_field(2, b"") + _bytes_field(8, text)
    metadata = _bytes_field(1, _bytes_field(1, plugin_name) + _bytes_field(2, plugin_content))
    return _bytes_field(1, tag) + _bytes_field(8, tensor) + _bytes_field(9, metadata)


def _event(step, summary_values=(), file_version=None):
    # Event: wall_time = 1 (double), step = 2 (int64), file_version = 3, summary = 5 (value = 1).
    out = _field(1, 1) + struct.pack("<d", time.time()) + _field(2, 0) + _varint(int(step))
    if file_version is not None:
        out += _bytes_field(3, file_version)
    if summary_values:
        out += _bytes_field(5, b"".join(_bytes_field(1, v) for v in summary_values))
    return out


class EventFileWriter:
    """Appends events to ``<logdir>/events.out.tfevents.<time>.<host>.<pid>.<n>.v2``."""

    _count = 0

    def __init__(self, logdir):
        os.makedirs(logdir, exist_ok=True)
        EventFileWriter._count += 1
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.{self._count}.v2"
        self.path = os.path.join(logdir, name)
        self._file = open(self.path, "wb")
        self._write(_event(0, file_version="brain.Event:2"))

    def _write(self, data):
        header = struct.pack("<Q", len(data))
        self._file.write(header + struct.pack("<I", masked_crc32c(header)) + data +
                         struct.pack("<I", masked_crc32c(data)))

    def scalars(self, values, step):
        """One event holding a scalar per {tag: value}."""
        self._write(_event(step, [_scalar_value(tag, value) for tag, value in values.items()]))
        self._file.flush()

    def text(self, tag, text, step, plugin_name, plugin_content=b""):
        self._write(_event(step, [_text_value(tag, text, plugin_name, plugin_content)]))
        self._file.flush()

    def close(self):
        if not self._file.closed:
            self._file.close()


class TensorBoard(_C.Callback):
    """Writes the loss and metrics for TensorBoard (keras.callbacks.TensorBoard): at each epoch end
    ``epoch_<name>`` (and ``epoch_learning_rate``) under ``<log_dir>/train``, the validation values
    as ``epoch_<name>`` and ``evaluation_<name>_vs_iterations`` under ``<log_dir>/validation``;
    with ``update_freq=N`` (or "batch", N = 1) also ``batch_<name>`` every N batches. With
    ``write_graph=True`` the model's config goes in as the "keras" summary TensorBoard's graph tab
    shows; the traced TensorFlow graph Keras adds on its TensorFlow backend does not exist here.

    histogram_freq, write_images, embeddings_freq and profile_batch other than 0 / False raise:
    their summaries (histograms, images, projector checkpoints, traces) are not written.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        for name, value in (("histogram_freq", histogram_freq), ("write_images", write_images),
                            ("embeddings_freq", embeddings_freq), ("embeddings_metadata", embeddings_metadata)):
            if value:
                raise NotImplementedError(f"TensorBoard: {name}={value!r} is not supported: pitfall writes scalar "
                                          f"summaries only (no histograms, images or embeddings); leave {name} at "
                                          "its default")
        if profile_batch:
            raise ValueError(f"TensorBoard: profiling is not available in pitfall. Received: "
                             f"profile_batch={profile_batch!r} (must be 0)")
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq < 1) and update_freq != "batch":
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int, got "
                             f"update_freq={update_freq!r}")
        self.log_dir = str(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers = {}
        self._global_train_batch = 0

    def _writer(self, which):
        if which not in self._writers:
            self._writers[which] = EventFileWriter(os.path.join(self.log_dir, which))
        return self._writers[which]

    def _learning_rate(self):
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        rate = getattr(optimizer, "learning_rate", None)
        try:
            return float(rate() if callable(rate) else rate)
        except (TypeError, ValueError):
            return None

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._epoch_start = time.time()
        self._epoch_first_batch = 0
        if self.write_graph and self.model is not None and hasattr(self.model, "to_json"):
            # keras/src/callbacks/tensorboard.py keras_model_summary: plugin "graph_keras_model".
            self._writer("train").text("keras", self.model.to_json(), 0, "graph_keras_model", b"1")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        self._epoch_first_batch = self._global_train_batch

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        if isinstance(logs, dict) and logs:
            self._writer("train").scalars({f"batch_{k}": v for k, v in logs.items()}, self._global_train_batch)

    def on_epoch_end(self, epoch, logs=None):
        if not logs:
            return
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        validation = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        rate = self._learning_rate()
        if rate is not None:
            train["learning_rate"] = rate
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._epoch_start, 1e-9)
            train["steps_per_second"] = (self._global_train_batch - self._epoch_first_batch) / elapsed
        if train:
            self._writer("train").scalars({f"epoch_{k}": v for k, v in train.items()}, epoch)
        if validation:
            writer = self._writer("validation")
            writer.scalars({f"epoch_{k}": v for k, v in validation.items()}, epoch)
            # Keras's fit evaluates through on_test_end, which logs these at the optimizer's step.
            iterations = getattr(getattr(self.model, "optimizer", None), "iterations", None)
            if iterations is not None:
                writer.scalars({f"evaluation_{k}_vs_iterations": v for k, v in validation.items()},
                               int(iterations.numpy() if hasattr(iterations, "numpy") else iterations))

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
