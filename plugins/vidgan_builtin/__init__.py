"""The generic components that ship with vidgan-kit: networks, losses, data sets and
metrics any model can use.

They are ordinary plugins: each sub-package's ``plugin`` module implements
``vidgan_register_components`` and is announced in vidgan-kit's own ``pyproject.toml``
under the ``vidgan_kit`` entry-point group, exactly as a third-party package would.
Model families are packages of their own above this one (``vidgan_dual_mtgan``).
This package imports ``vidgan_kit``; neither ``vidgan_kit`` nor this package imports a
family.
"""
