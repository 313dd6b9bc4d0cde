// Command mcp is an MCP server (Model Context Protocol, with the official Go
// SDK) whose tools answer only callers holding an access token that Keystile
// minted for it: an RFC 8707 resource of a Keystile server, with RFC 9728
// protected-resource metadata so that MCP clients find the authorization
// server from the first 401.
//
// Register it with Keystile as a resource whose id is its endpoint URL, and
// its clients with that resource:
//
//	resources:
//	  - id: http://127.0.0.1:8080/mcp
//	    scopes: [notes:read]
//	clients:
//	  - id: mcp-client
//	    public: true
//	    redirect_uris: [http://127.0.0.1/callback]
//	    scopes: [notes:read]
//	    resources: [http://127.0.0.1:8080/mcp]
//
// then run
//
//	go run . -issuer http://127.0.0.1:9000 -resource http://127.0.0.1:8080/mcp
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keystile/keystile"
)

// scopeRead is the scope the tools need.
const scopeRead = "notes:read"

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:9000", "the Keystile issuer")
	resource := flag.String("resource", "http://127.0.0.1:8080/mcp", "this server's MCP endpoint: its resource indicator, and its tokens' aud")
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	flag.Parse()

	v, err := keystile.NewVerifier(keystile.VerifierConfig{
		Issuer:          *issuer,
		JWKSURL:         *issuer + "/.well-known/jwks.json",
		Resource:        *resource,
		ScopesSupported: []string{scopeRead},
	})
	if err != nil {
		log.Fatal(err)
	}
	h, err := newHandler(v, *resource)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	log.Printf("MCP server for %s on %s", *resource, *listen)
	log.Fatal(srv.ListenAndServe())
}

// newHandler serves the MCP endpoint at resource's path and its RFC 9728
// metadata. Keystile's verifier guards the endpoint: no token or one minted
// for another resource is a 401 whose challenge names the metadata; a token
// without notes:read a 403 naming the scope. The SDK's bearer middleware
// behind it only turns the verified claims into the SDK's TokenInfo, which
// binds each MCP session to its user and reaches the tools.
func newHandler(v *keystile.Verifier, resource string) (http.Handler, error) {
	u, err := url.Parse(resource)
	if err != nil || u.Path == "" {
		return nil, fmt.Errorf("resource %q: want an absolute URL with a path", resource)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "keystile-notes", Version: "v1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Who the access token is for, and which client holds it."}, whoami)
	endpoint := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)

	mux := http.NewServeMux()
	mux.Handle("/.well-known/oauth-protected-resource/", v.ProtectedResourceMetadata())
	mux.Handle(u.Path, v.Middleware(keystile.RequireClaim("scope", scopeRead)(auth.RequireBearerToken(tokenInfo, nil)(endpoint))))
	return mux, nil
}

// tokenInfo hands the claims Keystile's middleware verified to the SDK; it
// never verifies anything itself, and refuses a request that did not pass
// through that middleware.
func tokenInfo(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
	claims, ok := keystile.ClaimsFromContext(r.Context())
	if !ok {
		return nil, auth.ErrInvalidToken
	}
	exp, err := strconv.ParseInt(fmt.Sprint(claims["exp"]), 10, 64)
	if err != nil {
		return nil, errors.Join(auth.ErrInvalidToken, err)
	}
	return &auth.TokenInfo{
		Scopes:     claims.Scopes(),
		Expiration: time.Unix(exp, 0),
		UserID:     claims.Subject(),
		Extra:      map[string]any{"client_id": claims.ClientID()},
	}, nil
}

// whoamiOut is the whoami tool's structured result.
type whoamiOut struct {
	Subject  string   `json:"subject"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
}

func whoami(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoamiOut, error) {
	ti := req.Extra.TokenInfo
	if ti == nil {
		return nil, whoamiOut{}, errors.New("no verified token")
	}
	clientID, _ := ti.Extra["client_id"].(string)
	return nil, whoamiOut{Subject: ti.UserID, ClientID: clientID, Scopes: ti.Scopes}, nil
}
