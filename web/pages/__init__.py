"""The site's pages: the gallery, one page per live app, the dashboard, the wall, the classic pages, the API."""
