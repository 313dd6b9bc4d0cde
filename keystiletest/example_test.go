package keystiletest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/keystiletest"
)

// An API's test: the API checks tokens against the JWKS as it does in
// production, and the test gets a real token from the kit. (Put the body
// in a func TestAdminRoute(t *testing.T); TestExample runs this code.)
func Example() {
	var t *testing.T // the test's t
	yourAPI := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

	idp := keystiletest.New(t)
	v, err := keystile.NewVerifier(keystile.VerifierConfig{Issuer: idp.Issuer(), JWKSURL: idp.JWKSURL()})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(v.Middleware(keystile.RequireClaim("role", "admin")(yourAPI)))
	defer api.Close()
	req, _ := http.NewRequest("GET", api.URL+"/admin", nil)
	req.Header.Set("Authorization", "Bearer "+idp.MintAccessToken("alice", map[string]any{"role": "admin"}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin: %v %v", resp, err)
	}
}
