"""Shared machinery that knows no domain: the data stamp, the errors the services raise for the API."""
