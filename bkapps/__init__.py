"""Aperture's live Bokeh apps: the catalog, the server launcher and one folder per app.

``python -m bkapps`` starts ``bokeh serve`` over every app in the catalog. Nothing here imports
the Flask side; Flask imports the catalog and the signing helpers from this package.
"""
