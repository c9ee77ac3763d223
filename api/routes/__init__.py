"""The /api/v1 blueprints, one per kind of thing they serve."""
