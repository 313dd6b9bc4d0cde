package testutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// binDir holds what Main's package built; Main removes it.
var binDir string

// Main runs a package's tests (call it from TestMain) and then removes the
// keystile binary that Keystile built for them.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "keystile-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testutil: creating the binary directory:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// keystileBinary builds cmd/keystile once per test process, on first use, so
// that running only other tests (-run) does not pay for the build.
var keystileBinary = sync.OnceValues(func() (string, error) {
	if binDir == "" {
		return "", fmt.Errorf("testutil.Keystile needs testutil.Main in the package's TestMain, which removes the binary")
	}
	goTool, err := exec.LookPath("go") // go test puts its own go first in PATH
	if err != nil {
		return "", fmt.Errorf("finding the go command: %w", err)
	}
	out := filepath.Join(binDir, "keystile")
	cmd := exec.Command(goTool, "build", "-o", out, "github.com/keystile/keystile/cmd/keystile")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/keystile: %w\n%s", err, b)
	}
	return out, nil
})

// Keystile returns the path of the keystile binary, built from this module's
// cmd/keystile once per test process.
func Keystile(t testing.TB) string {
	t.Helper()
	path, err := keystileBinary()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// RunKeystile runs the keystile binary to completion in dir ("" for the
// working directory) with env (nil for this process's environment) and
// stdin, and returns what it printed and its exit code. It fails the test
// only if the binary could not be run at all, or ran for over a minute.
func RunKeystile(t testing.TB, dir string, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Keystile(t), args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin = strings.NewReader(stdin)
	var o, e SyncBuffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		code = exit.ExitCode()
	default:
		t.Fatalf("running keystile %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), e.String(), code
}
