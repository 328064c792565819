"""How the site puts live Bokeh sessions into its pages: tokens, markup, the pull path, BokehJS."""
