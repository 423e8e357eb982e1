STATE = None
