package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
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
