"""``python -m bkapps``: run the Bokeh server over the catalog's apps (see ``bkapps.launcher``)."""

from bkapps.launcher import main

main()
