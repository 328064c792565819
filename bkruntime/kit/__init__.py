"""The kit: the small API the project's apps import (``app_session``, ``lifecycle``, ``fanout``).

It reads the session a page opened (arguments, page options, the visitor) and shares work between
an app's sessions; it imports none of the runtime's process machinery, which applies what every
app gets (build timing, the site page's notices, a shared view's viewer count) around any app.
"""
