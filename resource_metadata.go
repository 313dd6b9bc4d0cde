package keystile

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// wellKnownResourcePath is RFC 9728 §3's well-known URI suffix.
const wellKnownResourcePath = "/.well-known/oauth-protected-resource"

// resourceMetadata is what a Verifier for a resource tells clients about it
// (RFC 9728 §2), and where: url is the metadata's address (§3.1), path its
// path, which ProtectedResourceMetadata answers. url is "" for a resource
// that is not an http(s) URL (a URN, say): it has no metadata.
type resourceMetadata struct {
	resource    string
	url, path   string
	scopes      []string
	authServers []string
}

// newResourceMetadata reads cfg's Resource and ScopesSupported; the
// resource is the verifier's audience.
func newResourceMetadata(cfg *VerifierConfig) (resourceMetadata, error) {
	if cfg.Resource == "" {
		if len(cfg.ScopesSupported) > 0 {
			return resourceMetadata{}, errors.New("keystile: VerifierConfig.ScopesSupported needs a Resource")
		}
		return resourceMetadata{}, nil
	}
	if err := parseResourceIndicator(cfg.Resource); err != nil {
		return resourceMetadata{}, fmt.Errorf("keystile: VerifierConfig.Resource %w", err)
	}
	switch cfg.Audience {
	case "":
		cfg.Audience = cfg.Resource
	case cfg.Resource:
	default:
		return resourceMetadata{}, errors.New("keystile: VerifierConfig.Audience differs from Resource, which is the audience")
	}
	for _, sc := range cfg.ScopesSupported {
		if !validScopeToken(sc) {
			return resourceMetadata{}, fmt.Errorf("keystile: VerifierConfig.ScopesSupported: %q is not a valid scope token", sc)
		}
	}
	return metadataFor(cfg.Resource, cfg.ScopesSupported, cfg.Issuer), nil
}

// metadataFor builds the metadata of resource, whose address is derived as
// RFC 9728 §3.1 says: the well-known suffix goes between the host and the
// path (https://api.example.com/mcp has its metadata at
// https://api.example.com/.well-known/oauth-protected-resource/mcp).
func metadataFor(resource string, scopes []string, issuer string) resourceMetadata {
	m := resourceMetadata{resource: resource, scopes: slices.Clone(scopes), authServers: []string{issuer}}
	u, err := url.Parse(resource)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return m
	}
	m.path = wellKnownResourcePath + strings.TrimSuffix(u.EscapedPath(), "/")
	m.url = u.Scheme + "://" + u.Host + m.path
	if u.RawQuery != "" {
		m.url += "?" + u.RawQuery
	}
	return m
}

// forResource returns a copy of the server's verifier for one of its
// resources: that audience only, and its metadata.
func (v *Verifier) forResource(id string, scopes []string) *Verifier {
	c := v.withAudiences(id)
	c.resource = metadataFor(id, scopes, v.issuer)
	return c
}

// ProtectedResourceMetadata returns the handler of the resource's RFC 9728
// metadata document: resource, authorization_servers (the issuer),
// scopes_supported and bearer_methods_supported. It answers GET and HEAD at
// the path of the metadata URL derived from VerifierConfig.Resource (§3.1:
// for https://api.example.com/mcp, /.well-known/oauth-protected-resource/mcp)
// and 404 elsewhere, so it can be mounted at that path or at any prefix of
// it. Any origin may read it (browser-based MCP clients). A verifier without
// a Resource answers 404.
func (v *Verifier) ProtectedResourceMetadata() http.Handler {
	m := v.resource
	doc := map[string]any{
		"resource":                 m.resource,
		"authorization_servers":    m.authServers,
		"bearer_methods_supported": []string{"header"},
	}
	if len(m.scopes) > 0 {
		doc["scopes_supported"] = m.scopes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.path == "" || r.URL.Path != m.path {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		writeJSON(w, http.StatusOK, metadataJSON, doc)
	})
}

// challengeParam is the resource_metadata parameter of the verifier's
// Bearer challenges (RFC 9728 §5.1), or "". The URL comes from the
// configuration, and parseResourceIndicator let no quote or space into it.
func (m resourceMetadata) challengeParam() string {
	if m.url == "" || strings.ContainsAny(m.url, `"\`) {
		return ""
	}
	return `, resource_metadata="` + m.url + `"`
}
