"""Djinn's own Rasa components, installed into the Rasa venv (`.venv-rasa`).

Rasa 3.6 runs on Python 3.10 with its own pinned libraries, so this package imports
nothing from Djinn's main code base.
"""
