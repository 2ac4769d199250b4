"""Device placement from Python: pf.device scopes, list_physical_devices, Tensor.to, the GPU settings,
and the errors on a machine or build without a GPU. The GPU tests run only where a GPU exists."""
import numpy as np
import pytest

import pitfall as pf

GPUS = pf.config.list_physical_devices("GPU")
needs_gpu = pytest.mark.skipif(not GPUS, reason="no GPU on this machine (pf.config.list_physical_devices('GPU') "
                                                "is empty)")


def test_physical_devices_list_the_cpu_and_each_gpu():
    cpus = pf.config.list_physical_devices("CPU")
    assert cpus == [pf.config.PhysicalDevice("/physical_device:CPU:0", "CPU")]
    everything = pf.config.list_physical_devices()
    assert everything[0] == cpus[0]
    assert everything[1:] == GPUS
    assert [d.name for d in pf.config.list_logical_devices("CPU")] == ["/device:CPU:0"]
    with pytest.raises(ValueError, match="'CPU' or 'GPU'"):
        pf.config.list_physical_devices("TPU")


def test_cpu_scope_nests_and_places_new_values():
    with pf.device("/CPU:0"):
        with pf.device("cpu") as scope:
            assert scope.device == "cpu"
            t = pf.tensor([1.0, 2.0])
            assert t.device == "cpu"
    assert pf.tensor(1.0).device == "cpu"


@pytest.mark.skipif(bool(GPUS), reason="a GPU is present")
def test_asking_for_a_missing_gpu_says_what_exists_and_what_to_do():
    with pytest.raises(RuntimeError, match=r"'cuda:0' is not available.*list_physical_devices\('GPU'\).*'cpu'"):
        with pf.device("gpu"):
            pass
    t = pf.tensor([1.0])
    with pytest.raises(RuntimeError, match="to_device: device 'cuda:0' is not available"):
        t.to("gpu")
    assert t.to("cpu") is not None and t.cpu().device == "cpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        pf.device("tpu")


def test_op_determinism_and_tf32_switches():
    assert not pf.config.is_op_determinism_enabled()
    assert not pf.config.tensor_float_32_execution_enabled()  # unlike TensorFlow's default on Ampere+
    try:
        pf.config.experimental.enable_op_determinism()
        pf.config.experimental.enable_tensor_float_32_execution(True)
        assert pf.config.is_op_determinism_enabled()
        assert pf.config.tensor_float_32_execution_enabled()
    finally:
        pf.config.disable_op_determinism()
        pf.config.enable_tensor_float_32_execution(False)
    assert not pf.config.is_op_determinism_enabled()


@needs_gpu
def test_gpu_values_round_trip_and_gradients_come_back():
    x = pf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    with pf.GradientTape() as tape:
        y = (x.to("gpu") * 2.0).to("cpu").sum()
    assert tape.gradient(y, x).device == "cpu"
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.full((2, 3), 2.0, np.float32))
    with pf.device("gpu"):
        t = pf.tensor([1.0, 2.0])
        assert t.device == "cuda:0"
        assert (t + 1).device == "cuda:0"
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


@needs_gpu
def test_gpu_model_trains_where_its_weights_are():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def trained(device):
        pf.utils.set_random_seed(1)
        with pf.device(device):
            model = pf.Sequential([pf.Input((8,)), pf.layers.Dense(16, activation="relu"), pf.layers.Dense(2)])
        model.compile("adam", pf.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = model.fit(x, y, batch_size=64, epochs=3, verbose=0)
        assert all(w.device == ("cpu" if device == "cpu" else "cuda:0") for w in model.weights)
        return history.history["loss"]

    np.testing.assert_allclose(trained("gpu"), trained("cpu"), rtol=1e-4)
