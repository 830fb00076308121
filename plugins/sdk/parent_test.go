package sdk

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/soar-dev/soar/plugins"
)

// TestMain lets the test binary play the two processes of
// TestPluginExitsWhenParentDies.
func TestMain(m *testing.M) {
	switch os.Getenv("SOAR_SDK_TEST_ROLE") {
	case "parent":
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), "SOAR_SDK_TEST_ROLE=child", fmt.Sprintf("%s=%d", plugins.HostPIDEnv, os.Getpid()))
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(child.Process.Pid)
		waitForSignal()
	case "child":
		go exitWithParent(slog.New(slog.DiscardHandler), 20*time.Millisecond)
		waitForSignal()
	default:
		os.Exit(m.Run())
	}
}

func waitForSignal() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	os.Exit(0)
}

// The host asks Linux to kill plugins with it, but a plugin must not rely on
// that: this child is started without it and still exits once its parent
// is killed.
func TestPluginExitsWhenParentDies(t *testing.T) {
	t.Parallel()
	parent := exec.Command(os.Args[0])
	parent.Env = append(os.Environ(), "SOAR_SDK_TEST_ROLE=parent")
	stdout, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(child) {
		if time.Now().After(deadline) {
			defer syscall.Kill(child, syscall.SIGKILL)
			data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
			t.Fatalf("child %d outlived its parent by 10s: %s", child, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive treats a zombie as dead: it has exited and waits only to be reaped
// by whoever adopted it.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}
