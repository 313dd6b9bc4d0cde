package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keystile/keystile/internal/testutil"
)

// TestBinaryBuildTagsLeaveOutAStore builds keystile with each store left
// out (docs/performance.md, "Binary size"), so that the tagged builds do
// not rot, and checks what their users meet: a configuration naming the
// missing store is refused with the tag to drop, and the other stores
// still work.
func TestBinaryBuildTagsLeaveOutAStore(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("finding the go command: %v", err)
	}
	for _, c := range []struct {
		tags     string
		refused  map[string]string // store setting → the tag the error names
		accepted []string
	}{
		{"nopostgres", map[string]string{"postgres://keystile@127.0.0.1:1/keystile": "nopostgres"}, []string{"sqlite:keystile.db", "memory"}},
		{"nosqlite", map[string]string{"sqlite:keystile.db": "nosqlite"}, []string{"memory"}},
		{"nosqlite,nopostgres", map[string]string{"sqlite:keystile.db": "nosqlite", "postgresql://keystile@127.0.0.1:1/keystile": "nopostgres"}, []string{"memory"}},
	} {
		t.Run(c.tags, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := filepath.Join(dir, "keystile")
			build := exec.Command(goTool, "build", "-tags", c.tags, "-o", bin, "github.com/keystile/keystile/cmd/keystile")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build -tags %s: %v\n%s", c.tags, err, out)
			}
			check := func(storeSetting string) (string, int) {
				writeFile(t, filepath.Join(dir, "keystile.yaml"), "issuer: http://127.0.0.1:9000\nstore: \""+storeSetting+"\"\nsigning: {key_file: signing.pem}\n")
				cmd := exec.CommandContext(t.Context(), bin, "check", "--config", "keystile.yaml")
				cmd.Dir, cmd.Env = dir, []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
				var out testutil.SyncBuffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				if err != nil && cmd.ProcessState == nil {
					t.Fatalf("running %s check: %v", bin, err)
				}
				return out.String(), cmd.ProcessState.ExitCode()
			}
			for setting, tag := range c.refused {
				out, code := check(setting)
				if code == 0 || !strings.Contains(out, "built with -tags "+tag) {
					t.Errorf("store %s: exit %d, want a refusal naming -tags %s:\n%s", setting, code, tag, out)
				}
				if strings.Contains(out, "127.0.0.1:1") {
					t.Errorf("the refusal repeats the database URL:\n%s", out)
				}
			}
			if strings.Contains(c.tags, "nosqlite") {
				qs := t.TempDir()
				cmd := exec.CommandContext(t.Context(), bin, "quickstart", "--dir", qs, "--listen", "127.0.0.1:0")
				out, err := cmd.CombinedOutput()
				if err == nil || !strings.Contains(string(out), "built with -tags nosqlite") {
					t.Errorf("the quickstart without SQLite: %v, want a refusal naming -tags nosqlite:\n%s", err, out)
				}
				if left, _ := os.ReadDir(qs); len(left) > 0 {
					t.Errorf("the refused quickstart left %d files behind", len(left))
				}
			}
			for _, setting := range c.accepted {
				if out, code := check(setting); code != 0 {
					t.Errorf("store %s: exit %d, want 0:\n%s", setting, code, out)
				}
			}
		})
	}
}
