"""The engine's commands, grouped by what they act on; `engine.core.Engine` combines them."""
