# Parsed (never imported) by test_architecture.py to prove the import checker works.
from vidgan_builtin.networks import plugin  # noqa: F401
