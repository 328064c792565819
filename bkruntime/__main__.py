"""``python -m bkruntime``: run the Bokeh server over the catalog's apps (``bkruntime.launcher``)."""

from bkruntime.launcher import main

main()
