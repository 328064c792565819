"""One Bokeh server process of the product's runtime serving only ``ticker.py`` (for the benchmarks).

``python bench/apps/ticker_server.py`` with the Bokeh settings in the environment, plus
``APERTURE_PROCESS_INDEX=0`` / ``APERTURE_PROCESS_COUNT=1`` (what the supervisor sets);
``TICKER_BOKEH_SEND_PATH=true`` keeps Bokeh's own update path (one message per viewer).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aperture.catalog import AppCatalog, AppSpec
from bkruntime import patch_broadcast, server_process

TICKER = AppSpec(name="ticker", title="Ticker", description="", source=str(Path(__file__).with_name("ticker.py")))

if __name__ == "__main__":
    if os.environ.get("TICKER_BOKEH_SEND_PATH") == "true":
        patch_broadcast.install = lambda *args, **kwargs: None
    server_process.main(AppCatalog([TICKER]))
