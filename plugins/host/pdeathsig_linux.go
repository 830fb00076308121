package host

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks Linux to SIGKILL the plugin when the host dies, however
// it dies. The SDK's parent watch is the second line of defence.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
