package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of Debian's chromium for a browser test. Without
// it the test fails under CI=true, where .ci/run installs it, and is skipped
// on a developer's machine that lacks it, as store/postgres/postgrestest
// treats PostgreSQL: a browser test never passes without a browser.
func Chromium(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("chromium is not on the PATH under CI=true: .ci/run installs it (apt-get install chromium): %v", err)
	}
	t.Skip("chromium is not installed (apt-get install chromium); the browser tests run in CI")
	return ""
}
