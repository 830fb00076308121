//go:build !unix

package journal

import "os"

// lockFile is a no-op where flock is unavailable: appends from one process
// are still serialised by the journal's mutex.
func lockFile(*os.File) error { return nil }

// writable cannot tell without trying; the first append will.
func writable(string) error { return nil }
