"""Ground floor of Djinn: settings, database, models, repositories and domain types.

Nothing in this package imports another Djinn package.
"""
