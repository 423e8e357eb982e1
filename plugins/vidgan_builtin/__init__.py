"""The components that ship with vidgan-kit.

They are ordinary plugins: each sub-package's ``plugin`` module implements
``vidgan_register_components`` and is announced in vidgan-kit's own ``pyproject.toml``
under the ``vidgan_kit`` entry-point group, exactly as a third-party package would.
This package imports ``vidgan_kit``; ``vidgan_kit`` never imports it.
"""
