"""One module per provider, each turning its outside format into ``base.CallRecord``."""
