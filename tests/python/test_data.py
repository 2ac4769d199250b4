"""pf.data: tf.data semantics through the Python surface, Python callables, threads, fit integration."""
import gc
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import pitfall as pf

live_threads = pf._pitfall.data.live_pipeline_threads


def values(ds):
    return [np.asarray(e).tolist() for e in ds]


def test_p22_small_shuffle_buffer_only_shuffles_locally():
    first = next(iter(pf.data.Dataset.range(10000).shuffle(1000, seed=0).batch(32))).numpy()
    assert first.shape == (32,)
    assert first.max() < 1032
    assert first.tolist() != list(range(32))
    everything = np.concatenate([b for b in pf.data.Dataset.range(10000).shuffle(1000, seed=0).batch(500)
                                 .as_numpy_iterator()])
    assert np.array_equal(np.sort(everything), np.arange(10000))
    full = next(iter(pf.data.Dataset.range(10000).shuffle(10000, seed=0).batch(32))).numpy()
    assert full.max() >= 1032


def test_reshuffle_each_iteration_and_seeds():
    ds = pf.data.Dataset.range(40).shuffle(40, seed=3)
    assert values(ds) != values(ds)
    fixed = pf.data.Dataset.range(40).shuffle(40, seed=3, reshuffle_each_iteration=False)
    assert values(fixed) == values(fixed)
    pf.utils.set_random_seed(5)
    a = values(pf.data.Dataset.range(40).shuffle(40))
    pf.utils.set_random_seed(5)
    assert values(pf.data.Dataset.range(40).shuffle(40)) == a


def test_batch_drop_remainder_and_cardinality():
    ds = pf.data.Dataset.range(10).batch(4)
    assert [len(b) for b in values(ds)] == [4, 4, 2]
    assert ds.cardinality() == 3 and len(ds) == 3
    dropped = pf.data.Dataset.range(10).batch(4, drop_remainder=True)
    assert [len(b) for b in values(dropped)] == [4, 4]
    assert dropped.cardinality() == 2
    assert pf.data.Dataset.range(3).repeat().cardinality() == pf.data.INFINITE_CARDINALITY
    with pytest.raises(TypeError, match="infinite"):
        len(pf.data.Dataset.range(3).repeat())
    assert pf.data.Dataset.range(10).filter(lambda x: x > 3).cardinality() == pf.data.UNKNOWN_CARDINALITY


def test_structures_tuples_dicts_zip_enumerate_concatenate():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    y = np.array([1, 2, 3], dtype=np.uint8)
    elements = list(pf.data.Dataset.from_tensor_slices({"image": x, "label": y}).as_numpy_iterator())
    assert sorted(elements[1]) == ["image", "label"]
    assert elements[1]["image"].tolist() == [2.0, 3.0] and elements[1]["label"].dtype == np.uint8
    pairs = list(pf.data.Dataset.zip((pf.data.Dataset.range(3), pf.data.Dataset.range(10, 20))).as_numpy_iterator())
    assert [tuple(map(int, p)) for p in pairs] == [(0, 10), (1, 11), (2, 12)]
    numbered = list(pf.data.Dataset.from_tensor_slices(y).enumerate(5).as_numpy_iterator())
    assert [(int(i), int(v)) for i, v in numbered] == [(5, 1), (6, 2), (7, 3)]
    assert values(pf.data.Dataset.range(2).concatenate(pf.data.Dataset.range(5, 7))) == [0, 1, 5, 6]
    # A Python list given to from_tensor_slices is one tensor (tf.data), not a structure.
    assert values(pf.data.Dataset.from_tensor_slices([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]
    assert values(pf.data.Dataset.range(10).take(3)) == [0, 1, 2]
    assert values(pf.data.Dataset.range(10).skip(8)) == [8, 9]
    assert values(pf.data.Dataset.range(10).shard(4, 1)) == [1, 5, 9]
    assert values(pf.data.Dataset.range(10).batch(3).unbatch()) == list(range(10))
    assert values(pf.data.Dataset.range(6).filter(lambda v: np.asarray(v) % 2 == 0)) == [0, 2, 4]
    assert pf.data.Dataset.range(3, output_type="float32").element_spec.dtype == "float32"


def test_map_python_function_gets_tuple_elements_as_arguments():
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    y = np.arange(4)
    ds = pf.data.Dataset.from_tensor_slices((x, y)).map(lambda a, b: (a * 2.0, b + 1))
    out = list(ds.as_numpy_iterator())
    assert out[3][0].tolist() == [12.0, 14.0] and int(out[3][1]) == 4
    # NumPy values returned by the function are converted; dicts keep their keys.
    ds = pf.data.Dataset.range(3).map(lambda v: {"twice": np.asarray(v) * 2, "same": v})
    assert [int(e["twice"]) for e in ds.as_numpy_iterator()] == [0, 2, 4]


@pytest.mark.parametrize("threads", [1, 2, 4, pf.data.AUTOTUNE])
def test_deterministic_parallel_map_keeps_input_order(threads):
    def slow_square(v):
        if int(v) % 5 == 0:
            time.sleep(0.002)  # late elements overtake early ones inside the pool
        return v * v

    expected = [i * i for i in range(60)]
    assert values(pf.data.Dataset.range(60).map(slow_square, num_parallel_calls=threads)) == expected


def test_nondeterministic_parallel_map_keeps_the_multiset():
    def first_is_slow(v):
        if int(v) == 0:
            time.sleep(0.05)
        return v + 100

    got = values(pf.data.Dataset.range(40).map(first_is_slow, num_parallel_calls=4, deterministic=False))
    assert got[0] != 100  # the slow first element was overtaken
    assert sorted(got) == list(range(100, 140))
    options = pf.data.Options()
    options.deterministic = False
    relaxed = pf.data.Dataset.range(40).map(first_is_slow, num_parallel_calls=4).with_options(options)
    assert relaxed.options().deterministic is False
    assert sorted(values(relaxed)) == list(range(100, 140))


@pytest.mark.parametrize("threads", [None, 3])
def test_exception_in_map_reaches_the_consumer_with_index_and_message(threads):
    def boom(v):
        if int(v) == 7:
            raise KeyError("no label for this file")
        return v

    ds = pf.data.Dataset.range(10).map(boom, num_parallel_calls=threads).prefetch(2)
    it = iter(ds)
    assert [int(next(it)) for _ in range(7)] == list(range(7))
    with pytest.raises(KeyError) as info:
        next(it)
    message = str(info.value)
    assert "input element 7" in message and "no label for this file" in message and "map(boom)" in message
    assert isinstance(info.value.__cause__, KeyError)
    assert int(next(it)) == 8  # the pipeline goes on after a failed element


def test_from_generator_signature_conversion_and_errors():
    def gen():
        for i in range(3):
            yield np.full((2,), i, dtype=np.float64), i

    sig = (pf.data.TensorSpec((2,), "float32"), pf.data.TensorSpec((), "int32"))
    ds = pf.data.Dataset.from_generator(gen, output_signature=sig)
    elements = list(ds.as_numpy_iterator())
    assert elements[2][0].dtype == np.float32 and elements[2][0].tolist() == [2.0, 2.0]
    assert elements[2][1].dtype == np.int32
    assert len(list(ds)) == 3  # the generator function is called again for every iteration
    assert ds.element_spec == sig

    def wrong_shape():
        yield np.zeros(3, np.float32), 0

    with pytest.raises(TypeError, match=r"shape \(3,\) as element 0 where the output_signature expects \(2,\)"):
        list(pf.data.Dataset.from_generator(wrong_shape, output_signature=sig))

    def fractional():
        yield np.zeros(2), 1.5

    with pytest.raises(TypeError, match="fractional"):
        list(pf.data.Dataset.from_generator(fractional, output_signature=sig))
    with pytest.raises(TypeError, match="callable"):
        pf.data.Dataset.from_generator(gen(), output_signature=sig)


def test_abandoned_iterators_stop_their_threads():
    gc.collect()
    before = live_threads()
    ds = pf.data.Dataset.range(10 ** 9).map(lambda v: v + 1, num_parallel_calls=3).prefetch(4)
    it = iter(ds)
    next(it)
    assert live_threads() > before
    del it
    gc.collect()
    assert live_threads() == before
    it = iter(ds)
    next(it)
    it.close()
    assert live_threads() == before


def test_interpreter_exits_cleanly_with_live_pipelines(tmp_path):
    script = textwrap.dedent("""
        import time
        import pitfall as pf
        def slow(v):
            time.sleep(0.01)
            return v
        def gen():
            i = 0
            while True:
                yield i
                i += 1
        a = iter(pf.data.Dataset.range(10 ** 9).map(slow, num_parallel_calls=4).prefetch(8))
        next(a)
        b = iter(pf.data.Dataset.from_generator(gen, output_signature=pf.data.TensorSpec((), "int64"))
                 .map(slow, num_parallel_calls=2).prefetch(pf.data.AUTOTUNE))
        next(b)
        print("done")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"


def test_cache_in_memory_and_in_a_file(tmp_path):
    calls = []

    def counted(v):
        calls.append(int(v))
        return v

    ds = pf.data.Dataset.range(5).map(counted).cache()
    assert values(ds) == values(ds) == [0, 1, 2, 3, 4]
    assert len(calls) == 5
    path = tmp_path / "cache.bin"
    calls.clear()
    make = lambda: pf.data.Dataset.range(5).map(counted).cache(str(path))  # noqa: E731
    it = iter(make())
    next(it)
    it.close()
    assert not path.exists() and list(tmp_path.iterdir()) == []
    assert values(make()) == [0, 1, 2, 3, 4] and path.exists()
    calls.clear()
    assert values(make()) == [0, 1, 2, 3, 4] and calls == []


def test_builtin_transforms_match_numpy_and_are_thread_count_independent():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 6, 5, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=12).astype(np.int64)
    base = pf.data.Dataset.from_tensor_slices((images, labels))
    T = pf.data.transforms
    out = list(base.map([T.Rescale(1 / 255, component=0), T.OneHot(10, component=1)]).as_numpy_iterator())
    scale = np.float32(1 / 255)
    for (x, y), image, label in zip(out, images, labels):
        assert x.dtype == np.float32 and np.array_equal(x, image.astype(np.float32) * scale)
        assert np.array_equal(y, np.eye(10, dtype=np.float32)[label])
    normalized = next(base.map(T.Normalize([10.0, 20.0, 30.0], [2.0, 4.0, 8.0], component=0)).as_numpy_iterator())[0]
    expected = (images[0].astype(np.float32) - np.float32([10, 20, 30])) / np.float32([2, 4, 8])
    np.testing.assert_allclose(normalized, expected, rtol=1e-6)
    # Random flips: each image is unchanged or mirrored, decided per element, the same for any
    # number of threads.
    flip = T.RandomFlip("horizontal", seed=4, component=0)
    runs = [list(base.map(flip, num_parallel_calls=n).as_numpy_iterator()) for n in (None, 1, 4)]
    for run in runs[1:]:
        for (a, _), (b, _) in zip(runs[0], run):
            assert np.array_equal(a, b)
    flipped = 0
    for (x, _), image in zip(runs[0], images):
        mirrored = np.array_equal(x, image[:, ::-1])
        assert mirrored or np.array_equal(x, image)
        flipped += mirrored
    assert 0 < flipped < 12
    crops = list(base.map(T.RandomCrop(4, 3, seed=1, component=0)).as_numpy_iterator())
    assert crops[0][0].shape == (4, 3, 3)
    with pytest.raises(IndexError, match="10"):
        list(pf.data.Dataset.from_tensor_slices(np.array([3, 10])).map(T.OneHot(10, component=None)))


def _mlp(seed):
    pf.utils.set_random_seed(seed)
    model = pf.Sequential([pf.Input((6,)), pf.layers.Dense(8, activation="relu"), pf.layers.Dense(3)])
    model.compile(pf.optimizers.SGD(0.1), pf.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def _data(n=96):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, n)


def test_fit_on_a_dataset_equals_fit_on_arrays_with_the_same_batches():
    x, y = _data()
    arrays = _mlp(2)
    arrays.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    dataset = _mlp(2)
    history = dataset.fit(pf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=3, verbose=0)
    for a, b in zip(arrays.get_weights(), dataset.get_weights()):
        assert np.array_equal(a, b)
    assert len(history.history["loss"]) == 3
    results = dataset.evaluate(pf.data.Dataset.from_tensor_slices((x, y)).batch(32), verbose=0, return_dict=True)
    assert results == dataset.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    np.testing.assert_array_equal(dataset.predict(pf.data.Dataset.from_tensor_slices(x).batch(40)),
                                  dataset.predict(x, batch_size=40))
    # class_weight applies per batch to Dataset input exactly as to arrays.
    weights = {0: 1.0, 1: 3.0, 2: 0.5}
    arrays = _mlp(7)
    arrays.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, class_weight=weights)
    dataset = _mlp(7)
    dataset.fit(pf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=2, verbose=0, class_weight=weights)
    for a, b in zip(arrays.get_weights(), dataset.get_weights()):
        assert np.array_equal(a, b)


def test_fit_dataset_arguments_follow_keras():
    x, y = _data()
    model = _mlp(3)
    ds = pf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    with pytest.raises(ValueError, match="`y` must not be given"):
        model.fit(ds, y, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(ds, validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="infinite"):
        model.fit(ds.repeat(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="holds no targets"):
        model.fit(pf.data.Dataset.from_tensor_slices(x).batch(16), verbose=0)
    with pytest.raises(ValueError, match=r"call \.batch"):
        model.fit(pf.data.Dataset.from_tensor_slices((x, y)), verbose=0)
    # steps_per_epoch: one iterator across epochs; running out warns and stops (Keras).
    history = model.fit(ds.repeat(), steps_per_epoch=4, epochs=3, verbose=0)
    assert history.epoch == [0, 1, 2]
    with warnings.catch_warnings(record=True):
        history = model.fit(ds.take(5), steps_per_epoch=4, epochs=3, verbose=0)
    assert len(history.epoch) == 2
    # validation_data as a Dataset, sample weights as the third element part.
    w = np.ones(len(x), np.float32)
    history = model.fit(pf.data.Dataset.from_tensor_slices((x, y, w)).batch(32), epochs=1, verbose=0,
                        validation_data=pf.data.Dataset.from_tensor_slices((x, y)).batch(32))
    assert "val_loss" in history.history


def test_fit_dataset_with_dict_inputs_by_name():
    pf.utils.set_random_seed(4)
    a = pf.Input((3,), name="a")
    b = pf.Input((2,), name="b")
    out = pf.layers.Dense(1)(pf.layers.Concatenate()([a, b]))
    model = pf.Model([a, b], out)
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    xa, xb, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2)), rng.normal(size=(20, 1))
    ds = pf.data.Dataset.from_tensor_slices(({"b": xb.astype("float32"), "a": xa.astype("float32")},
                                             y.astype("float32"))).batch(5)
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    bad = pf.data.Dataset.from_tensor_slices(({"c": xb.astype("float32")}, y.astype("float32"))).batch(5)
    with pytest.raises(ValueError, match="needs 'a'"):
        model.fit(bad, verbose=0)


def test_history_timing_measures_input_wait_p26():
    # A map that takes >= 5 ms per batch and no prefetch: fit waits at least that long per step.
    x, y = _data(64)

    def slow_input(a, b):
        time.sleep(0.005)
        return a, b

    model = _mlp(5)
    ds = pf.data.Dataset.from_tensor_slices((x, y)).batch(8).map(slow_input)
    history = model.fit(ds, epochs=2, verbose=0)
    timing = history.timing
    assert sorted(timing) == ["epoch_seconds", "input_wait_fraction", "input_wait_seconds", "step_seconds"]
    for key in timing:
        assert len(timing[key]) == 2
    assert all(w >= 8 * 0.005 for w in timing["input_wait_seconds"])
    for w, s, f in zip(timing["input_wait_seconds"], timing["step_seconds"], timing["input_wait_fraction"]):
        assert f == pytest.approx(w / (w + s))
    arrays_history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert len(arrays_history.timing["input_wait_seconds"]) == 1


def test_verbose_2_prints_the_input_wait(capfd):
    x, y = _data(32)
    model = _mlp(6)
    model.fit(pf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=2)
    out = capfd.readouterr().out
    assert "input wait:" in out and "%)" in out
