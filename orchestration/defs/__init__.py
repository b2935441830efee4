"""Assets, checks, schedules and sensors, one module per domain."""
