"""The strategy engine: framework-free (no Django, no I/O). Typed events in (`events`), signals out."""
