"""The operator interface served by the daemon: JSON API, web pages, health and metrics."""
