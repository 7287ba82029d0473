package main

// -X main.version=... (the Dockerfile's go build) sets a string variable;
// this only compiles while version is one.
var _ *string = &version
