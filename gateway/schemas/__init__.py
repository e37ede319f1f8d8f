"""Gateway DTOs: the msgspec Structs of the HTTP API (separate from the stream events)."""
