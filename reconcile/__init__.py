"""The pure core of syncd: canonical model, status maps, comparison and report counts.

Nothing here performs I/O, reads the clock or the environment: every function takes data and
returns data. `tests/test_layers.py` enforces it.
"""
