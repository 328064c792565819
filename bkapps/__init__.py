"""The project's own live Bokeh apps: one folder or module per app, and their ``catalog.toml``.

Only what an app author writes lives here. The apps use the kit (``bkruntime.kit``); the Bokeh
runtime that serves them is ``bkruntime``, and what the site and the runtime share is ``aperture``.
"""
