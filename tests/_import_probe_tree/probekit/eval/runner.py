from ..recipe import KEYS


def run():
    return KEYS
