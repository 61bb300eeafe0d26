"""Generated gRPC stubs of the crmstatus.v1 API (`make proto`); never edited by hand."""
