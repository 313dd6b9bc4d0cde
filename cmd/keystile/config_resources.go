package main

import (
	"maps"
	"slices"

	"github.com/keystile/keystile"
)

// resourceConfig is one entry of resources: an API that gets its own
// access tokens (keystile.Resource, RFC 8707).
type resourceConfig struct {
	ID     string   `yaml:"id"`
	Scopes []string `yaml:"scopes"`
	Claims []string `yaml:"claims"`
}

// capabilitiesConfig is the capabilities section (keystile.Capabilities).
type capabilitiesConfig struct {
	Claim string              `yaml:"claim"`
	Graph map[string][]string `yaml:"graph"`
}

// checkResources carries resources and capabilities into the settings.
// keystile.New checks them (syntax, duplicates, the clients' resources, a
// cycle or an unknown name in the graph) and names the bad entry; what only
// the binary can check is here: that no user holds a capability the graph
// does not define, which would otherwise imply nothing without a word.
func (c *checker) checkResources(s *settings, fc fileConfig) {
	for _, r := range fc.Resources {
		s.Resources = append(s.Resources, keystile.Resource{ID: r.ID, Scopes: r.Scopes, Claims: r.Claims})
	}
	s.Capabilities = keystile.Capabilities{Claim: fc.Capabilities.Claim, Graph: fc.Capabilities.Graph}
	if fc.Capabilities.Claim == "" || s.Users == nil {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(s.Users.byName)) {
		u := s.Users.byName[name]
		for _, cp := range capabilityNames(u.Claims[fc.Capabilities.Claim]) {
			if _, ok := fc.Capabilities.Graph[cp]; !ok {
				c.addf("users_file: user %q holds capability %q, which capabilities.graph does not define", name, cp)
			}
		}
	}
}

// capabilityNames reads a capability claim from YAML: one name or a list.
func capabilityNames(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
