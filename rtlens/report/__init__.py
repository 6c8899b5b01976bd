"""Reports over the store: text (default), JSON and a self-contained HTML page."""
