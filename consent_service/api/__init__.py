"""The HTTP face of the service (Litestar): controllers, schemas, guards and problem details."""
