"""Scalpel's ML engine: file formats, splits, training, evaluation, export, artifacts and serving.

Plain Python. Nothing in this package imports Django: the Django apps call into it and it
reports back through return values, generators and callbacks.
"""
