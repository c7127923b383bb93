//go:build !unix

package config

// writable is not checked where access(2) does not exist; run reports
// what cannot be written.
func writable(string) error { return nil }
