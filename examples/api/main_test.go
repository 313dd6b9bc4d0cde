package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keystile/keystile/keystiletest"
)

func TestAPI(t *testing.T) {
	idp := keystiletest.New(t)
	h, err := newAPI(idp.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(h)
	defer api.Close()
	for _, tc := range []struct {
		name, path, token string
		want              int
	}{
		{"admin at /admin", "/admin", idp.MintAccessToken("alice", map[string]any{"role": "admin"}), 200},
		{"viewer at /admin", "/admin", idp.MintAccessToken("bob", map[string]any{"role": "viewer"}), 403},
		{"viewer at /hello", "/hello", idp.MintAccessToken("bob", map[string]any{"role": "viewer"}), 200},
		{"no token", "/hello", "", 401},
		{"garbage", "/hello", "not-a-token", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, api.URL+tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
