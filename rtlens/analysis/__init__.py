"""Analysis over the store: the numbers the report, the CLI and the notebooks share."""
