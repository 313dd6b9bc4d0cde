package keystile

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Resource is an API that Keystile mints access tokens for: an RFC 8707
// resource. A client names it in the resource parameter of /authorize and
// /token; the access token then has it as its only aud, carries only the
// granted scopes it lists and only the custom claims it lists (the
// registered claims always). See Config.Resources.
type Resource struct {
	// ID is the resource indicator: an absolute URI without a fragment
	// (RFC 8707 §2), compared by exact string match. It is the aud of the
	// resource's access tokens, and the Resource of its VerifierConfig.
	ID string
	// Scopes are the scopes its access tokens may carry. A client still
	// needs each in its own Client.Scopes to request it.
	Scopes []string
	// Claims are the custom claims its access tokens may carry: the user's
	// (from ValidateUser or LookupUser) or a service client's
	// (Client.Claims), including Capabilities.Claim. Others are left out.
	Claims []string
}

// codeInvalidTarget is RFC 8707 §2's error for a resource that is unknown,
// malformed or not the client's to ask for.
const codeInvalidTarget = "invalid_target"

// maxResourceLen bounds a resource indicator, in a request or a config.
const maxResourceLen = 2000

// parseResourceIndicator checks the syntax of a resource parameter or a
// Resource.ID (RFC 8707 §2): an absolute URI, printable ASCII, without a
// fragment. It normalises nothing: resources are compared as strings.
func parseResourceIndicator(raw string) error {
	if raw == "" || len(raw) > maxResourceLen || !printableASCII(raw) || strings.ContainsAny(raw, " #") {
		return errors.New("must be an absolute URI of at most 2000 printable ASCII characters, without spaces or a fragment")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return errors.New("must be an absolute URI (RFC 8707 §2)")
	}
	return nil
}

// compileResources checks cfg.Resources and indexes them by ID (the
// clients' use of them is checked with the clients, in newClientSet). A resource cannot be the default audience: a token
// without a resource would then pass as the resource's.
func compileResources(cfg Config) (map[string]*Resource, error) {
	out := make(map[string]*Resource, len(cfg.Resources))
	for i, r := range cfg.Resources {
		field := fmt.Sprintf("keystile: Config.Resources[%d]", i)
		if err := parseResourceIndicator(r.ID); err != nil {
			return nil, fmt.Errorf("%s: ID %q %w", field, r.ID, err)
		}
		if r.ID == cfg.Audience {
			return nil, fmt.Errorf("%s: ID %q is the default Audience; give tokens without a resource another one", field, r.ID)
		}
		if _, dup := out[r.ID]; dup {
			return nil, fmt.Errorf("%s: duplicate ID %q", field, r.ID)
		}
		for _, sc := range r.Scopes {
			if !validScopeToken(sc) {
				return nil, fmt.Errorf("%s: scope %q is not a valid scope token (RFC 6749 §3.3)", field, sc)
			}
		}
		for _, c := range r.Claims {
			if c == "" || IsRegisteredClaim(c) {
				return nil, fmt.Errorf("%s: claim %q cannot be listed: registered claims are always set by Keystile", field, c)
			}
		}
		out[r.ID] = &Resource{ID: r.ID, Scopes: slices.Clone(r.Scopes), Claims: slices.Clone(r.Claims)}
	}
	return out, nil
}

// requestedResource reads the resource parameter of a request. ok is false
// when there is none; a malformed one is invalid_target. One resource per
// request: a second one is refused with every repeated parameter
// (singleValues).
func requestedResource(p params) (id string, ok bool, e *oauthErr) {
	raw, ok := p["resource"]
	if !ok {
		return "", false, nil
	}
	if err := parseResourceIndicator(raw); err != nil {
		return "", true, oauthError(codeInvalidTarget, "the resource parameter must be an absolute URI without a fragment")
	}
	return raw, true, nil
}

var errNotTarget = oauthError(codeInvalidTarget, "the resource is unknown or not available to this client")

// mayUse reports whether c may get tokens for the resource id now: it is
// configured and the client lists it.
func (s *Server) mayUse(c *Client, id string) bool {
	return s.resources[id] != nil && slices.Contains(c.Resources, id)
}

// authorizeResources returns the resources an /authorize request grants:
// the one it names, or, when it names none, every resource the client may
// use, from which /token then picks (a refresh may narrow, never widen).
// Naming the default Audience grants no resource.
func (s *Server) authorizeResources(c *Client, p params) ([]string, *oauthErr) {
	id, ok, e := requestedResource(p)
	switch {
	case e != nil:
		return nil, e
	case !ok:
		return slices.Clone(c.Resources), nil
	case id == s.cfg.Audience:
		return nil, nil
	case !s.mayUse(c, id):
		return nil, errNotTarget
	}
	return []string{id}, nil
}

// tokenResource picks the resource of an access token at /token from the
// granted ones: the one the request names, which must be granted and still
// allowed; or, when it names none, the only one granted. Otherwise, and when
// the request names the default Audience, it returns "": the token is for
// the default Audience.
func (s *Server) tokenResource(c *Client, granted []string, p params) (string, *oauthErr) {
	id, ok, e := requestedResource(p)
	switch {
	case e != nil:
		return "", e
	case ok && id == s.cfg.Audience:
		return "", nil
	case ok:
		if !slices.Contains(granted, id) || !s.mayUse(c, id) {
			return "", errNotTarget
		}
		return id, nil
	}
	var live []string
	for _, g := range granted {
		if s.mayUse(c, g) {
			live = append(live, g)
		}
	}
	if len(live) == 1 {
		return live[0], nil
	}
	return "", nil
}

// audience is the aud of g's access token.
func (s *Server) audience(g grant) string {
	if g.resource != "" {
		return g.resource
	}
	return s.cfg.Audience
}

// accessScope is the scope of g's access token. Without Config.Resources it
// is the granted scope. With them, a token for a resource carries the
// granted scopes the resource lists, and a token for the default audience
// those that no resource lists (openid, profile, offline_access…): an API's
// scope never travels in another audience's token.
func (s *Server) accessScope(g grant) []string {
	if len(s.resources) == 0 {
		return g.scope
	}
	var out []string
	for _, sc := range g.scope {
		if r := s.resources[g.resource]; r != nil {
			if slices.Contains(r.Scopes, sc) {
				out = append(out, sc)
			}
		} else if !s.resourceScopes[sc] {
			out = append(out, sc)
		}
	}
	return out
}

// accessClaims are the custom claims of g's access token, capabilities
// expanded. Without Config.Resources, all of them (the behaviour from before
// resources: any API that accepts the one audience sees every claim). With
// them, a token for a resource carries the claims it lists, and a token for
// the default audience none.
func (s *Server) accessClaims(g grant) map[string]any {
	claims := s.capabilities.expand(g.claims)
	if len(s.resources) == 0 {
		return claims
	}
	out := map[string]any{}
	if r := s.resources[g.resource]; r != nil {
		for _, name := range r.Claims {
			if v, ok := claims[name]; ok {
				out[name] = v
			}
		}
	}
	return out
}
