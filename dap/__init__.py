"""The platform's command-line entry point and shared settings."""
