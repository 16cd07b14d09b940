"""The human-in-the-loop web app (``edpbrl serve``): FastAPI server, live sessions over a store.

Import ``edpbrl.app.server`` for ``create_app`` / ``serve`` (needs the ``app`` extra); the store
and session modules need only the core dependencies.
"""
