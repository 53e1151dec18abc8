"""Custom actions of the Rasa dialogue, served by rasa-sdk in the main venv.

Start the server with ``python -m nlu.actions`` (see `nlu.actions.server`): it builds
the services once and registers the actions as instances holding them.
"""
