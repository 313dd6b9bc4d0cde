package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinaryReload: `keystile reload --config FILE` reaches the server of
// that configuration through its pid file, and nothing else: not a second
// server, not a process that took the pid of a stopped one.
func TestBinaryReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "users.yaml"), "users: []\n")
	writeFile(t, filepath.Join(dir, "keystile.yaml"), fmt.Sprintf(`issuer: https://auth.example.com
listen: %s
store: memory
pid_file: run/keystile.pid
users_file: users.yaml
clients:
  - id: spa
    public: true
    redirect_uris: [https://app.example.com/callback]
`, freePort(t)))
	if err := os.Mkdir(filepath.Join(dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "run", "keystile.pid")

	p := startBinary(t, dir, "serve", "--config", "keystile.yaml")
	p.waitOutput(listeningRe)
	if b, err := os.ReadFile(pidFile); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(p.cmd.Process.Pid) {
		t.Fatalf("pid file holds %q (%v), want %d", b, err, p.cmd.Process.Pid)
	}

	_, stderr, code := runBinaryIn(t, dir, "serve", "--config", "keystile.yaml")
	if code != 1 || !strings.Contains(stderr, "is held by another keystile serve of this configuration") {
		t.Errorf("a second serve of the configuration: exit %d, stderr %q; want 1 and the pid file named", code, stderr)
	}

	out, stderr, code := runBinaryIn(t, dir, "reload", "--config", "keystile.yaml")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("(pid %d)", p.cmd.Process.Pid)) {
		t.Fatalf("reload: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), "reloaded the users file") {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not reload:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.stop()
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("the pid file outlives the server: %v", err)
	}

	_, stderr, code = runBinaryIn(t, dir, "reload", "--config", "keystile.yaml")
	if code != 1 || !strings.Contains(stderr, "no server is running with this configuration") {
		t.Errorf("reload with no server: exit %d, stderr %q", code, stderr)
	}

	// A pid file left by a server that was killed, whose pid now belongs
	// to another program: SIGHUP would end it.
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill() })
	writeFile(t, pidFile, strconv.Itoa(other.Process.Pid)+"\n")
	_, stderr, code = runBinaryIn(t, dir, "reload", "--config", "keystile.yaml")
	if code != 1 || !strings.Contains(stderr, "left over from one that stopped") {
		t.Errorf("reload with a stale pid file: exit %d, stderr %q", code, stderr)
	}
	// Whatever ends it first shows in its status: a SIGHUP from reload
	// would be pending before this SIGTERM (and is delivered first).
	_ = other.Process.Signal(syscall.SIGTERM)
	_ = other.Wait()
	if ws, ok := other.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGTERM {
		t.Errorf("the process with the stale pid ended with %v, want the test's own SIGTERM", other.ProcessState)
	}

	writeFile(t, filepath.Join(dir, "keystile.yaml"), "issuer: https://auth.example.com\nclients: []\n")
	_, stderr, code = runBinaryIn(t, dir, "reload", "--config", "keystile.yaml")
	if code != 1 || !strings.Contains(stderr, "sets no pid_file") {
		t.Errorf("reload without pid_file: exit %d, stderr %q", code, stderr)
	}
}
