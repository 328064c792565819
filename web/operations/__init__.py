"""Running the site: health and readiness, metrics, the Bokeh monitor, the admin view, headers, logs."""
