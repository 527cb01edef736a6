"""gandan's HTTP surface: FastAPI routes, schemas, problem+json errors and map pages (no geometry logic)."""
