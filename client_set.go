package keystile

import (
	"fmt"
	"slices"

	"github.com/keystile/keystile/password"
)

// clientSet is the registered clients of a running server, indexed by id.
// It is never changed once built: SetClients builds a new one and swaps it
// in, so a request sees either the old clients or the new ones, never a mix.
type clientSet struct {
	byID map[string]*registered
	// origins are the browser origins some client registered (cors.go).
	origins map[string]bool
}

// newClientSet checks cfg.Clients against every rule New applies to them and
// builds the set: each client valid (ValidateClient), ids unique, a browser
// origin owned by one client, every resource and capability a client names
// configured, and an ID token key for HS256 servers whose clients may ask
// for openid. Defaults are filled in (Name, GrantTypes).
func newClientSet(cfg Config, resources map[string]*Resource, capabilities capabilityClosure) (*clientSet, error) {
	if err := checkIDTokenKey(cfg); err != nil {
		return nil, err
	}
	set := &clientSet{byID: make(map[string]*registered, len(cfg.Clients)), origins: map[string]bool{}}
	originOwner := map[string]string{} // a browser origin belongs to one client (cors.go)
	for i := range cfg.Clients {
		c := cfg.Clients[i]
		field := fmt.Sprintf("keystile: Config.Clients[%d]", i)
		if err := ValidateClient(c); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		if _, dup := set.byID[c.ID]; dup {
			return nil, fmt.Errorf("%s: duplicate client id %q", field, c.ID)
		}
		for _, o := range c.AllowedOrigins {
			if owner, taken := originOwner[o]; taken && owner != c.ID {
				return nil, fmt.Errorf("%s: allowed origin %q is already client %q's", field, o, owner)
			}
			originOwner[o] = c.ID
			set.origins[o] = true
		}
		for _, id := range c.Resources {
			if resources[id] == nil {
				return nil, fmt.Errorf("%s: resource %q is not in Config.Resources", field, id)
			}
		}
		if unknown := capabilities.unknown(c.Claims[capabilities.claim]); len(unknown) > 0 {
			return nil, fmt.Errorf("%s: capabilities %q are not in Config.Capabilities.Graph", field, unknown)
		}
		if c.Name == "" {
			c.Name = c.ID
		}
		if len(c.GrantTypes) == 0 {
			c.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
		}
		c.Resources = slices.Clone(c.Resources)
		// ValidateClient has checked the form of a confidential client's
		// hash; a public client has none, and its zero hash matches nothing.
		secret, _ := password.ParseClientSecretHash(c.SecretHash)
		set.byID[c.ID] = &registered{Client: c, secret: secret}
	}
	return set, nil
}

// registered is a client as the running server keeps it: the Client and
// its secret hash decoded once, not at every authentication.
type registered struct {
	Client
	secret password.ClientSecretHash
}

// client returns the registered client id, if there is one now.
func (s *Server) client(id string) (*Client, bool) {
	if c, ok := s.registered(id); ok {
		return &c.Client, true
	}
	return nil, false
}

// registered returns the registered client id with its decoded secret hash.
func (s *Server) registered(id string) (*registered, bool) {
	c, ok := s.clients.Load().byID[id]
	return c, ok
}

// SetClients replaces the registered clients of a running server, as a
// restart with Config.Clients set to clients would: they are checked by the
// same rules as in New, and a list that fails them returns an error naming
// the bad client and leaves the clients unchanged. A request sees either
// the old clients or the new ones. Codes, sessions and refresh tokens of a
// client that is no longer registered stop working at their next use.
func (s *Server) SetClients(clients []Client) error {
	cfg := s.cfg
	cfg.Clients = clients
	set, err := newClientSet(cfg, s.resources, s.capabilities)
	if err != nil {
		return err
	}
	s.clients.Store(set)
	return nil
}
