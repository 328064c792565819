"""Data and figures shared by the project's own apps and the site's classic pages.

The iris flowers and their histogram (the ``iris`` app, the static and AJAX pages, the JSON API),
the sine wave (the ``sliders`` app and the page that matches it): a library both import, so that
the site imports no app.
"""
