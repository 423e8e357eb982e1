from .runner import run
