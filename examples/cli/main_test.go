package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/keystiletest"
)

// TestCLI runs the tool against a real Keystile (keystiletest) and an API
// that checks its token, with the person's half of the device flow done by
// ApproveDevice on the code the tool printed.
func TestCLI(t *testing.T) {
	idp := keystiletest.New(t, keystiletest.WithUser(keystiletest.User{Username: "alice", Claims: map[string]any{"role": "admin"}}))
	v, err := keystile.NewVerifier(keystile.VerifierConfig{Issuer: idp.Issuer(), JWKSURL: idp.JWKSURL()})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(v.Middleware(keystile.RequireClaim("role", "admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := keystile.ClaimsFromContext(r.Context())
		io.WriteString(w, "hello "+c.Subject()+"\n")
	}))))
	defer api.Close()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var out strings.Builder
	go func() {
		err := run(ctx, idp.Issuer(), keystiletest.ClientID, api.URL, io.MultiWriter(pw, &out))
		pw.Close()
		done <- err
	}()
	first, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	code := regexp.MustCompile(`enter the code (\S+)`).FindStringSubmatch(first)
	if code == nil {
		t.Fatalf("the tool printed %q", first)
	}
	if err := idp.ApproveDevice(ctx, code[1], "alice"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "API: hello alice") {
		t.Fatalf("output:\n%s", out.String())
	}
}
