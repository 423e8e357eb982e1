from .low import helper

thing = helper
