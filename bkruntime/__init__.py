"""The Bokeh runtime: the launcher, the supervisor, each server process and its hooks.

``python -m bkruntime`` (or ``python -m bkapps``) starts it over the catalog's apps. Apps see only
its kit (``bkruntime.kit``); it imports no particular app, and the site only the shared contract
(``aperture``).
"""
