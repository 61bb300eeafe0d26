"""Everything with I/O: the command line, and later the gRPC service and the Redis store."""
