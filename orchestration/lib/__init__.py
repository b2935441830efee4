"""Small shared pieces of the orchestration layer (warehouse I/O, adapters, the dbt translator)."""
