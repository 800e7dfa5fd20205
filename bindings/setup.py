# The C engine is compiled into the package by cffi (API mode) at install time.
from setuptools import setup

setup(cffi_modules=["prospector/_build_engine.py:ffibuilder"])
