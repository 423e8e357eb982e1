from ._common import STATE  # a private module of its own package: allowed

__all__ = ["STATE"]
