package keystile

import (
	"net/http"
	"strings"
	"testing"
)

// TestSetClients: a running server takes a new client list at once, for
// /authorize and for CORS, and a list New would refuse leaves the clients
// as they were.
func TestSetClients(t *testing.T) {
	e := newTestEnv(t)
	const newOrigin = "https://new.example.com"
	newClient := Client{ID: "new-spa", Public: true, RedirectURIs: []string{newOrigin + "/cb"},
		AllowedOrigins: []string{newOrigin}, Scopes: []string{"read"}}
	q := authorizeQuery()
	q.Set("client_id", newClient.ID)
	q.Set("redirect_uri", newClient.RedirectURIs[0])
	q.Set("scope", "read")

	if resp, _ := e.get(e.browser(), "/authorize", q); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("/authorize for a client not yet registered: status %d, want the 400 error page", resp.StatusCode)
	}

	current := []Client{}
	for _, c := range e.srv.clients.Load().byID {
		current = append(current, c.Client)
	}
	if err := e.srv.SetClients(append(current, newClient)); err != nil {
		t.Fatalf("SetClients: %v", err)
	}
	if resp, body := e.get(e.browser(), "/authorize", q); resp.StatusCode != http.StatusOK || !strings.Contains(body, "request_id") {
		t.Fatalf("/authorize for the added client: status %d, want the login form", resp.StatusCode)
	}
	if !e.srv.clients.Load().origins[newOrigin] {
		t.Error("the added client's origin is not allowed for CORS")
	}

	bad := []struct {
		name    string
		clients []Client
		want    string
	}{
		{"a javascript: redirect URI", []Client{{ID: "x", Public: true, RedirectURIs: []string{"javascript:alert(1)"}}}, "Clients[0]"},
		{"a duplicate id", []Client{newClient, newClient}, "duplicate client id"},
		{"an origin of two clients", []Client{newClient, {ID: "y", Public: true, RedirectURIs: []string{"https://y.example.com/cb"}, AllowedOrigins: []string{newOrigin}}}, "already client"},
		{"an unknown resource", []Client{{ID: "z", Public: true, RedirectURIs: []string{"https://z.example.com/cb"}, Resources: []string{"https://api.example.com"}}}, "not in Config.Resources"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.srv.SetClients(tt.clients); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SetClients error = %v, want one containing %q", err, tt.want)
			}
			if _, ok := e.srv.client(newClient.ID); !ok {
				t.Fatal("a refused SetClients changed the clients")
			}
		})
	}
}
