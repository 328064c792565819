"""What the site (``web``) and the Bokeh runtime (``bkruntime``) share, and nothing else.

The catalog and its files, the apps' parameters, session tokens and signing, the access rule, the
environment helpers, the log format, the site's login cookie, the public URLs behind a front, the
Bokeh servers' shared settings and the names of the endpoints both sides call. Nothing here
imports either side or any app.
"""
