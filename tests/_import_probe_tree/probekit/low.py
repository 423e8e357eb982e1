def helper():
    from .high import thing  # a loop closed by an import inside a function

    return thing
