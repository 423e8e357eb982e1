"""Whether ``torch.compile`` can build on this machine's CPU: inductor compiles C++ against
the Python headers with ``$CXX`` (g++ by default). Tests that compile skip where either is
missing (a slim image), rather than fail for want of a system package."""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

import pytest

CAN_COMPILE = (shutil.which(os.environ.get("CXX", "g++")) is not None
               and (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file())

needs_cpp_compiler = pytest.mark.skipif(not CAN_COMPILE, reason="torch.compile needs a C++ compiler and the Python headers")
