"""The gRPC wire: servicers (proto ↔ application), auth, and the one table of errors to statuses."""
