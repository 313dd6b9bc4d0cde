package main

import (
	"context"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/keystile/keystile/internal/testutil"
	"github.com/keystile/keystile/password"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// TestBinary builds the real binary and runs its one-shot commands the way
// an operator does, through stdin, stdout, stderr and the exit code.
func TestBinary(t *testing.T) {
	bin := testutil.Keystile(t)
	keystileRun := func(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		return testutil.RunKeystile(t, "", nil, stdin, args...)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=3,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}\n$`)

	for _, tc := range []struct {
		name, stdin, password, wantStderr string
	}{
		{"hash-password reads a piped password", "correct horse battery staple\n", "correct horse battery staple", ""},
		{"hash-password keeps spaces and takes no newline", "  spaced out  ", "  spaced out  ", ""},
		{"hash-password warns about a short password", "xq7z\n", "xq7z", "shorter than 8 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := keystileRun(t, tc.stdin, "hash-password")
			if code != exitOK || (tc.wantStderr == "" && errOut != "") || !strings.Contains(errOut, tc.wantStderr) {
				t.Fatalf("exit %d, stderr %q; want 0 and %q", code, errOut, tc.wantStderr)
			}
			if strings.Contains(errOut, tc.password) {
				t.Fatal("the warning repeats the password")
			}
			if !phc.MatchString(out) {
				t.Fatalf("stdout = %q, want one argon2id PHC line", out)
			}
			ok, err := password.Check(context.Background(), strings.TrimSpace(out), tc.password)
			if err != nil || !ok {
				t.Errorf("CheckPassword(printed hash, password) = %v, %v; want true", ok, err)
			}
		})
	}

	for _, tc := range []struct {
		name, stdin string
		args        []string
		wantCode    int
		wantErr     string
	}{
		{"hash-password never takes the password from argv", "", []string{"hash-password", "hunter2"}, exitUsage, "takes no arguments"},
		{"hash-password with nothing on stdin", "", []string{"hash-password"}, exitError, "no password on stdin"},
		{"hash-password with two lines on stdin", "one\ntwo\n", []string{"hash-password"}, exitError, "more than one line"},
		{"unknown command", "", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"unknown flag", "", []string{"serve", "--verbose"}, exitUsage, "unknown flag --verbose\n"},
		{"unknown command close to one", "", []string{"serv"}, exitUsage, `unknown command "serv" (did you mean serve?)`},
		{"unknown command as a prefix", "", []string{"hash"}, exitUsage, `unknown command "hash" (did you mean hash-password?)`},
		{"unknown flag close to one", "", []string{"serve", "--lisen", "127.0.0.1:1"}, exitUsage, "unknown flag --lisen (did you mean --listen?)"},
		{"unknown flag of the quickstart", "", []string{"--dri", "/tmp"}, exitUsage, "unknown flag --dri (did you mean --dir?)"},
		{"help for an unknown command", "", []string{"help", "chek"}, exitUsage, `unknown command "chek" (did you mean check?)`},
		{"serve without a configuration", "", []string{"serve"}, exitUsage, "--config FILE is required"},
		{"serve with a missing configuration", "", []string{"serve", "--config", "/nonexistent/keystile.yaml"}, exitError, "/nonexistent/keystile.yaml: no such file"},
		{"quickstart off loopback", "", []string{"--listen", "0.0.0.0:9000"}, exitUsage, "loopback only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := keystileRun(t, tc.stdin, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.wantCode, errOut)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr %q does not contain %q", errOut, tc.wantErr)
			}
			if strings.Contains(out+errOut, "hunter2") {
				t.Error("the password given on the command line was printed back")
			}
		})
	}

	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, _, code := keystileRun(t, "", args...)
			if code != exitOK || !strings.Contains(out, "Usage:") || !strings.Contains(out, "keystile help COMMAND") {
				t.Errorf("exit %d, stdout %q; want 0 and the overview", code, out)
			}
			for _, name := range commandNames() {
				if !strings.Contains(out, "\n  "+name+" ") {
					t.Errorf("the overview does not list %s", name)
				}
			}
		})
	}
	// A command's help: its usage, its own flags and examples, the same
	// whichever way it is asked for.
	for _, tc := range []struct {
		command string
		want    []string
	}{
		{"serve", []string{"keystile serve --config FILE", "-config string", "-listen string", "Examples:\n  keystile serve --config"}},
		{"quickstart", []string{"keystile [quickstart]", "-dir string", "-listen string", "Examples:"}},
		{"check", []string{"keystile check --config FILE", "-config string", "Examples:"}},
		{"reload", []string{"keystile reload --config FILE", "pid_file", "Examples:"}},
		{"rotate-key", []string{"-keep duration", "Examples:"}},
	} {
		t.Run("help "+tc.command, func(t *testing.T) {
			out, _, code := keystileRun(t, "", "help", tc.command)
			flagOut, _, flagCode := keystileRun(t, "", tc.command, "--help")
			if code != exitOK || flagCode != exitOK || out != flagOut {
				t.Errorf("help %s: exit %d; %s --help: exit %d; want 0 and the same text:\n%s\n---\n%s", tc.command, code, tc.command, flagCode, out, flagOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("help %s does not show %q:\n%s", tc.command, w, out)
				}
			}
		})
	}
	t.Run("version", func(t *testing.T) {
		out, _, code := keystileRun(t, "", "version")
		flagOut, _, flagCode := keystileRun(t, "", "--version")
		if code != exitOK || flagCode != exitOK || out != flagOut {
			t.Fatalf("version: exit %d %q; --version: exit %d %q", code, out, flagCode, flagOut)
		}
		if !regexp.MustCompile(`^keystile \S+ revision \S+ .*` + regexp.QuoteMeta(runtime.Version()) + ` \S+/\S+\n$`).MatchString(out) {
			t.Errorf("version printed %q, want the module version, revision and Go version", out)
		}
		// What the go command itself reads from the binary: the revision
		// when the build stamped one (-buildvcs), "unknown" when not.
		goTool, err := exec.LookPath("go")
		if err != nil {
			t.Fatal(err)
		}
		info, err := exec.Command(goTool, "version", "-m", bin).Output()
		if err != nil {
			t.Fatalf("go version -m: %v", err)
		}
		want := "revision unknown"
		if m := regexp.MustCompile(`(?m)^\s+build\s+vcs\.revision=(\S+)$`).FindSubmatch(info); m != nil {
			want = "revision " + string(m[1])
		}
		if !strings.Contains(out, want) {
			t.Errorf("version printed %q, want %q (go version -m:\n%s)", out, want, info)
		}
	})

	t.Run("client-secret prints a secret and its hash", func(t *testing.T) {
		secretLine := regexp.MustCompile(`(?m)^client_secret: ([A-Za-z0-9_-]{43})$`)
		hashLine := regexp.MustCompile(`(?m)^secret_hash: (sha256:[0-9a-f]{64})$`)
		var secrets []string
		for range 2 {
			out, errOut, code := keystileRun(t, "", "client-secret")
			if code != exitOK || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			s, h := secretLine.FindStringSubmatch(out), hashLine.FindStringSubmatch(out)
			if s == nil || h == nil {
				t.Fatalf("stdout %q lacks the client_secret and secret_hash lines", out)
			}
			if password.HashClientSecret(s[1]) != h[1] {
				t.Errorf("secret_hash %s is not the hash of client_secret", h[1])
			}
			if !strings.Contains(out, `secret_hash: "`+h[1]+`"`) {
				t.Errorf("stdout %q does not show where the hash goes in keystile.yaml", out)
			}
			secrets = append(secrets, s[1])
		}
		if secrets[0] == secrets[1] {
			t.Error("two runs printed the same secret")
		}
	})
}
