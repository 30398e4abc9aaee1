"""Web UI (Flask): comes with the web UI issue."""
