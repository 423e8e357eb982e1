from .eval.keys import KEYS  # runs probekit/eval/__init__.py, which imports the runner
