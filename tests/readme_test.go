package tests

import (
	"cmp"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeBlocks returns the fenced blocks of language lang in the README
// section under heading (up to the next heading of the same or a higher
// level), in order: the examples a newcomer copies, tested as written.
func readmeBlocks(t *testing.T, heading, lang string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	level := headingLevel(heading)
	var blocks, block []string
	inSection, fence := false, "" // fence: the open block's language, "-" for none
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case fence != "" && line == "```":
			if inSection && fence == lang {
				blocks = append(blocks, strings.Join(block, "\n")+"\n")
			}
			fence, block = "", nil
		case fence != "":
			block = append(block, line)
		case strings.HasPrefix(line, "```"):
			fence = cmp.Or(strings.TrimPrefix(line, "```"), "-")
		case line == heading:
			inSection = true
		case inSection && headingLevel(line) > 0 && headingLevel(line) <= level:
			inSection = false
		}
	}
	if len(blocks) == 0 {
		t.Fatalf("README.md has no %s block under %q", lang, heading)
	}
	return blocks
}

// headingLevel is 2 for "## x", 0 for a line that is not a heading.
func headingLevel(line string) int {
	n := len(line) - len(strings.TrimLeft(line, "#"))
	if n == 0 || !strings.HasPrefix(line[n:], " ") {
		return 0
	}
	return n
}

// TestReadmeConfigReference: the configuration reference and the users
// file example load as written (keystile check, the real binary).
func TestReadmeConfigReference(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "keystile.yaml"), readmeBlocks(t, "### Configuration reference (`keystile.yaml`)", "yaml")[0])
	writeFile(t, filepath.Join(dir, "users.yaml"), readmeBlocks(t, "### Users file", "yaml")[0])
	out, stderr, code := runBinaryIn(t, dir, "check", "--config", "keystile.yaml")
	if code != 0 {
		t.Fatalf("keystile check on the README's configuration: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		"configuration keystile.yaml is valid",
		"3: spa (public), backend (confidential), reports-bot (confidential)",
		"1 (0 disabled)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "warning") {
		t.Errorf("the README's configuration has warnings:\n%s", out)
	}
}

// The curl walkthrough's blocks: steps 1–6, steps 7–8 (serve only), step 9.
const (
	walkthroughHeading = "## The flow with curl"
	walkthroughServe   = "### The walkthrough on `keystile serve`"
)

// runWalkthrough runs the README's curl blocks as one bash script, as a
// reader pastes them, and checks what each step prints.
func runWalkthrough(t *testing.T, issuer, password string, blocks []string, want []*regexp.Regexp) {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's walkthrough needs %s (.ci/run installs it): %v", tool, err)
		}
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "walkthrough.sh")
	writeFile(t, script, "set -euo pipefail\n"+strings.Join(blocks, "\n"))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "ISSUER=" + issuer, "PASSWORD=" + password}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walkthrough failed: %v\n%s", err, out)
	}
	rest := string(out)
	for _, re := range want {
		loc := re.FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("the walkthrough's output lacks %s after what came before:\n%s", re, out)
		}
		rest = rest[loc[1]:]
	}
}

// walkthroughOutput is what steps 3–6 print, in order.
func walkthroughOutput(issuer string) []*regexp.Regexp {
	q := regexp.QuoteMeta(issuer)
	return []*regexp.Regexp{
		regexp.MustCompile(`(?m)^` + q + `/demo/\?code=[^&\s]+&iss=[^&\s]+&state=xyz$`),
		regexp.MustCompile(`(?m)^\{"access_token":"eyJ[^"]+".*"refresh_token":"[^"]+"`),
		regexp.MustCompile(`(?m)^\{"access_token":"eyJ[^"]+".*"refresh_token":"[^"]+"`), // the refresh
		regexp.MustCompile(`(?m)^200$`),
	}
}

func TestReadmeWalkthroughQuickstart(t *testing.T) {
	t.Parallel()
	p, issuer, password := startQuickstart(t)
	blocks := readmeBlocks(t, walkthroughHeading, "sh")
	if len(blocks) != 3 {
		t.Fatalf("the walkthrough has %d sh blocks, want 3 (steps 1–6, 7–8, 9)", len(blocks))
	}
	want := append(walkthroughOutput(issuer), regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(issuer)+`/demo/\?state=bye$`))
	runWalkthrough(t, issuer, password, []string{blocks[0], blocks[2]}, want)
	p.stop()
}

func TestReadmeWalkthroughServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freePort(t)
	configs := readmeBlocks(t, walkthroughServe, "yaml")
	if len(configs) != 2 {
		t.Fatalf("the serve walkthrough has %d yaml blocks, want 2 (the configuration, the users file)", len(configs))
	}
	// The one change: a free port, since tests run in parallel.
	writeFile(t, filepath.Join(dir, "walkthrough.yaml"), strings.ReplaceAll(configs[0], "127.0.0.1:9001", addr))
	writeFile(t, filepath.Join(dir, "walkthrough-users.yaml"), configs[1])
	p := startBinary(t, dir, "serve", "--config", "walkthrough.yaml")
	issuer := p.waitOutput(listeningRe)[1]
	if issuer != "http://"+addr {
		t.Fatalf("serve listens on %s, want %s", issuer, addr)
	}
	blocks := readmeBlocks(t, walkthroughHeading, "sh")
	if len(blocks) != 3 {
		t.Fatalf("the walkthrough has %d sh blocks, want 3 (steps 1–6, 7–8, 9)", len(blocks))
	}
	want := append(walkthroughOutput(issuer),
		regexp.MustCompile(`(?m)^\{"active":false\}$`),
		regexp.MustCompile(`(?m)^\{"access_token":"eyJ[^"]+"`),
		regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(issuer)+`/demo/\?state=bye$`))
	runWalkthrough(t, issuer, "walkthrough demo password", blocks, want)
	p.stop()
}
