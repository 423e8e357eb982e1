KEYS = ()
