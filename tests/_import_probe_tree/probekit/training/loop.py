from .._version import __version__  # a private module of an enclosing package: allowed


class Trainer:
    version = __version__
