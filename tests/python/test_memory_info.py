"""pf.config memory statistics: the CPU allocator's live bytes, peak and cache."""
import numpy as np
import pytest

import pitfall as pf


def test_memory_info_tracks_live_tensors_and_peak():
    pf.config.reset_memory_stats()
    before = pf.config.get_memory_info("CPU")
    assert set(before) >= {"current", "peak", "cached", "allocations", "cacheable", "cache_hits"}
    t = pf.convert_to_tensor(np.ones((1024, 1024), np.float32))  # 4 MiB
    during = pf.config.get_memory_info()
    assert during["current"] >= before["current"] + 4 * 2**20
    assert during["peak"] >= during["current"]
    del t
    after = pf.config.get_memory_info()
    assert after["current"] == before["current"]
    assert after["peak"] >= before["current"] + 4 * 2**20  # the peak remembers
    pf.config.reset_memory_stats()
    assert pf.config.get_memory_info()["peak"] == after["current"]


def test_steady_state_training_is_served_from_the_cache():
    x = np.random.default_rng(0).normal(size=(512, 64)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    # Dense(4096) at batch 128: 2 MiB activations and 1 MiB weights, in the cached range.
    model = pf.Sequential([pf.Input((64,)), pf.layers.Dense(4096, activation="relu"), pf.layers.Dense(2)])
    model.compile("adam", pf.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert pf.config.get_memory_cache_limit() is None  # the default: no byte limit
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    first = pf.config.get_memory_info()
    model.fit(x, y, batch_size=128, epochs=2, verbose=0)
    second = pf.config.get_memory_info()
    hits = second["cache_hits"] - first["cache_hits"]
    cacheable = second["cacheable"] - first["cacheable"]
    assert cacheable > 0
    # Every step needs the same sizes as the last: blocks of 1 MiB and more come back from the free
    # lists (small ones go to malloc directly).
    assert hits >= 0.95 * cacheable
    assert second["cached"] > 0


def test_empty_cache_and_limit():
    t = pf.convert_to_tensor(np.ones((512, 512), np.float32))
    del t
    assert pf.config.get_memory_info()["cached"] >= 2**20  # 1 MiB: kept by default
    pf.config.empty_cache()
    assert pf.config.get_memory_info()["cached"] == 0
    pf.config.set_memory_cache_limit(0)
    try:
        assert pf.config.get_memory_cache_limit() == 0
        t = pf.convert_to_tensor(np.ones((512, 512), np.float32))
        del t
        assert pf.config.get_memory_info()["cached"] == 0
        pf.config.set_memory_cache_limit(1.5)
        assert pf.config.get_memory_cache_limit() == 1.5
    finally:
        pf.config.set_memory_cache_limit(None)
    assert pf.config.get_memory_cache_limit() is None


def test_memory_info_names_a_device_it_does_not_track():
    with pytest.raises(ValueError, match="GPU:0"):
        pf.config.get_memory_info("GPU:0")
    with pytest.raises(ValueError, match="MiB"):
        pf.config.set_memory_cache_limit(-1)
