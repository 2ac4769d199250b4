"""docs/keras-compatibility.md matches the code: regenerated from Keras 3's public names
(tests/reference/keras3_api.json) and the built package, it must equal the file."""
import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def generator():
    spec = importlib.util.spec_from_file_location("keras_compatibility", ROOT / "scripts" / "keras_compatibility.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_compatibility_table_is_up_to_date():
    module = generator()
    assert module.DOCUMENT.read_text() == module.render(), \
        "docs/keras-compatibility.md is stale: run /usr/bin/python3 scripts/keras_compatibility.py"


def test_every_documented_difference_names_something_pitfall_has():
    module = generator()
    for key in module.DIFFERENCES:
        dotted_module, name = key.rsplit(".", 1)
        assert module.pitfall_object(dotted_module.replace(".", "/"), name) is not None, key


def test_the_table_covers_the_core_training_api():
    text = (ROOT / "docs" / "keras-compatibility.md").read_text()
    for row in ("| `Dense` | exists |", "| `Sequential` | exists |", "| `EarlyStopping` | differs |",
                "| `concatenate` | exists |", "| `register_keras_serializable` | exists |"):
        assert row in text, row
