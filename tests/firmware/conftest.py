# Files in tests/firmware run on CPython (pytest) and on the MicroPython interpreter
# (test_on_micropython.py). They use only plain functions, plain `assert` and mpcompat helpers.
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
