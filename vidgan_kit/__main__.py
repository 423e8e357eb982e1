"""``python -m vidgan_kit`` is the ``vidgan`` command (torchrun launches it this way)."""

from .cli import main

if __name__ == "__main__":
    main()
