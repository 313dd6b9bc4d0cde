package keystile

import (
	"io"
	"net/http"
	"testing"
)

// TestHeadWhereverGet: health checks and caches send HEAD to the GET
// documents; it answers as GET would, without a body, and a route without
// GET still refuses it.
func TestHeadWhereverGet(t *testing.T) {
	env := newTestEnv(t)
	for _, c := range []struct {
		path string
		want int
	}{
		{"/.well-known/openid-configuration", http.StatusOK},
		{"/.well-known/jwks.json", http.StatusOK},
		{"/token", http.StatusMethodNotAllowed},
		{"/no-such-path", http.StatusNotFound},
	} {
		req, err := http.NewRequest(http.MethodHead, env.issuer+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || len(body) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes of body, want %d and none", c.path, resp.StatusCode, len(body), c.want)
		}
		if c.want == http.StatusOK && resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("HEAD %s: Content-Type %q, want GET's application/json", c.path, resp.Header.Get("Content-Type"))
		}
	}
}
