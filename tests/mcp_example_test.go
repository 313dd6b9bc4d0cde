package tests

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// TestMCPExample runs the tests of examples/mcp, a module of its own (so
// that the library's go.mod does not carry the MCP SDK), so that `go test
// ./...` here exercises it: the real binary as the authorization server, the
// MCP SDK's OAuth client, an audience-bound tool call.
func TestMCPExample(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("finding the go command: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "test", "-count=1", "./...")
	cmd.Dir = "../examples/mcp"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test in examples/mcp: %v\n%s", err, out)
	}
}
