"""The Textual UI of cachetui. It only calls the engine's public API."""
