//go:build !linux

package host

import "os/exec"

// dieWithParent has no kernel support here; plugins built with the SDK
// still exit when they notice their parent is gone.
func dieWithParent(*exec.Cmd) {}
