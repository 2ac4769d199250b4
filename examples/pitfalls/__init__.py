"""The bundled pitfall catalog: one module per entry (pNN_name.py). Run them with `pitfall run PNN`,
`pitfall run --all` or `python3 examples/pitfalls/pNN_name.py`; see pitfall.catalog for their shape."""
