package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"regexp"
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
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exit):
			code = exit.ExitCode()
		default:
			t.Fatalf("running keystile %v: %v", args, err)
		}
		return o.String(), e.String(), code
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
		{"unknown flag", "", []string{"serve", "--verbose"}, exitUsage, "flag provided but not defined: -verbose"},
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

	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"serve", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, _, code := keystileRun(t, "", args...)
			if code != exitOK || !strings.Contains(out, "Usage:") || !strings.Contains(out, "keystile serve --config FILE") {
				t.Errorf("exit %d, stdout %q; want 0 and the usage", code, out)
			}
		})
	}

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
