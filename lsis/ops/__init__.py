"""Running the service: the production processes started and supervised on one machine (``make serve-prod``)."""
