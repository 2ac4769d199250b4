"""Fashion-MNIST with pitfall's Keras API: an MLP or a small CNN, trained with compile/fit/evaluate.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/fashion_mnist.py --model mlp
    PYTHONPATH=build/python /usr/bin/python3 examples/python/fashion_mnist.py --model cnn
    PYTHONPATH=build/python /usr/bin/python3 examples/python/fashion_mnist.py --policy mixed_float16

Needs Debian's dataset-fashion-mnist package (or $PITFALL_FASHION_MNIST_DIR). Prints the accuracy on all
10000 test images and exits non-zero when it is below --min-accuracy, so it doubles as an end-to-end check.
"""
import argparse
import sys
import time

import numpy as np

import pitfall as pf

# Per-model defaults: what a full run (all 60000 training images) needs to reach the default bar.
DEFAULTS = {
    "mlp": {"epochs": 10, "batch_size": 64, "learning_rate": 1e-3, "min_accuracy": 0.85},
    "cnn": {"epochs": 6, "batch_size": 64, "learning_rate": 1e-3, "min_accuracy": 0.90},
}


def build_mlp():
    return pf.Sequential([
        pf.layers.Flatten(input_shape=(28, 28)),
        pf.layers.Dense(256, activation="relu"),
        pf.layers.Dense(128, activation="relu"),
        pf.layers.Dense(10),
    ])


def build_cnn():
    return pf.Sequential([
        pf.layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
        pf.layers.MaxPooling2D(2),
        pf.layers.Conv2D(64, 3, activation="relu"),
        pf.layers.MaxPooling2D(2),
        pf.layers.Flatten(),
        pf.layers.Dropout(0.25),
        pf.layers.Dense(128, activation="relu"),
        pf.layers.Dense(10),
    ])


def load(model_kind, train_samples, seed):
    """Scaled float32 images (the loader returns raw uint8 0..255, like keras.datasets) and int64 labels."""
    (x_train, y_train), (x_test, y_test) = pf.datasets.fashion_mnist.load_data()
    if train_samples is not None and train_samples < len(x_train):
        # A fixed random subset rather than the first N, so every class is represented.
        pick = np.random.RandomState(seed).permutation(len(x_train))[:train_samples]
        x_train, y_train = x_train[pick], y_train[pick]
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0
    if model_kind == "cnn":  # Conv2D wants channels_last (batch, height, width, channels)
        x_train, x_test = x_train[..., None], x_test[..., None]
    return (x_train, y_train.astype("int64")), (x_test, y_test.astype("int64"))


def train_and_evaluate(model_kind, epochs=None, train_samples=None, seed=0, batch_size=None, learning_rate=None,
                       verbose=0, policy="float32"):
    """Test accuracy (all 10000 test images) after training `model_kind` ('mlp' or 'cnn') under a dtype
    policy ('float32', 'mixed_float16', 'mixed_bfloat16', ...)."""
    defaults = DEFAULTS[model_kind]
    (x_train, y_train), (x_test, y_test) = load(model_kind, train_samples, seed)
    pf.utils.set_random_seed(seed)
    with pf.mixed_precision.policy_scope(policy):
        # Layers take the policy when they are created; compile() adds loss scaling for mixed_float16.
        model = build_mlp() if model_kind == "mlp" else build_cnn()
    model.compile(optimizer=pf.optimizers.Adam(learning_rate=learning_rate or defaults["learning_rate"]),
                  loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=batch_size or defaults["batch_size"],
              epochs=defaults["epochs"] if epochs is None else epochs, verbose=verbose)
    _, accuracy = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    return accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(DEFAULTS), default="mlp")
    parser.add_argument("--epochs", type=int, default=None, help="default: mlp 10, cnn 6")
    parser.add_argument("--train-samples", type=int, default=None, help="random training subset (default: all 60000)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 64")
    parser.add_argument("--learning-rate", type=float, default=None, help="Adam's learning rate (default: 1e-3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", default="float32", help="dtype policy: float32 (default), mixed_float16, "
                        "mixed_bfloat16, float64, ...")
    parser.add_argument("--min-accuracy", type=float, default=None, help="default: mlp 0.85, cnn 0.90")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="fit()'s verbose (default: 2)")
    args = parser.parse_args(argv)
    if args.train_samples is not None and args.train_samples < 1:
        parser.error(f"--train-samples must be positive, got {args.train_samples}")
    min_accuracy = DEFAULTS[args.model]["min_accuracy"] if args.min_accuracy is None else args.min_accuracy

    start = time.perf_counter()
    accuracy = train_and_evaluate(args.model, args.epochs, args.train_samples, args.seed, args.batch_size,
                                  args.learning_rate, verbose=args.verbose, policy=args.policy)
    seconds = time.perf_counter() - start
    print(f"fashion_mnist {args.model} ({args.policy}): test accuracy {accuracy:.4f} (10000 images) in {seconds:.1f} s "
          f"with {pf.config.get_num_threads()} threads")
    if not accuracy >= min_accuracy:
        print(f"fashion_mnist {args.model}: test accuracy {accuracy:.4f} is below --min-accuracy {min_accuracy}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
