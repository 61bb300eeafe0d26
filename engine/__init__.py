"""Customer-status engine: definitions, checks, compiled machines and decisions. No I/O."""
