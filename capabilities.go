package keystile

import (
	"fmt"
	"maps"
	"slices"
)

// Capabilities is a graph of capabilities that imply others, such as
//
//	read: [], write: [read], moderate: [read, write], admin: [moderate]
//
// A user or service client whose custom claim Claim holds capabilities (a
// string or a list of strings) gets an access token whose Claim holds their
// closure, sorted: holding admin, the token says [admin, moderate, read,
// write], so that RequireClaim(Claim, "read"), or any JWT library, checks a
// capability without knowing the graph. Every capability a list names must
// be a key of Graph (leaves map to an empty list), so that a typo is refused
// at New rather than granting nothing; a cycle is refused too. Capabilities
// the graph does not know, returned by ValidateUser or LookupUser, pass
// through unchanged and imply nothing. The zero value expands nothing.
type Capabilities struct {
	// Claim is the custom claim that holds capabilities, in users' claims,
	// Client.Claims and access tokens. Required when Graph is set.
	Claim string
	// Graph maps each capability to those it implies directly.
	Graph map[string][]string
}

// capabilityClosure is a compiled Capabilities: each capability with its
// closure, itself included.
type capabilityClosure struct {
	claim   string
	closure map[string][]string
}

// compileCapabilities checks the graph (every name known, no cycle) and
// computes every closure once.
func compileCapabilities(c Capabilities) (capabilityClosure, error) {
	if len(c.Graph) == 0 {
		if c.Claim != "" {
			return capabilityClosure{}, fmt.Errorf("keystile: Config.Capabilities.Claim %q needs a Graph", c.Claim)
		}
		return capabilityClosure{}, nil
	}
	if c.Claim == "" || IsRegisteredClaim(c.Claim) {
		return capabilityClosure{}, fmt.Errorf("keystile: Config.Capabilities.Claim %q must name a custom claim", c.Claim)
	}
	for name, implied := range c.Graph {
		if name == "" {
			return capabilityClosure{}, fmt.Errorf("keystile: Config.Capabilities.Graph has an empty capability")
		}
		for _, i := range implied {
			if _, ok := c.Graph[i]; !ok {
				return capabilityClosure{}, fmt.Errorf("keystile: Config.Capabilities.Graph: %q implies %q, which is not a capability of the graph", name, i)
			}
		}
	}
	out := capabilityClosure{claim: c.Claim, closure: make(map[string][]string, len(c.Graph))}
	// Depth-first, in sorted order so that the error names the same cycle
	// every time: a capability met again while it is on the path is a cycle.
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("keystile: Config.Capabilities.Graph has a cycle: %v", append(path, name))
		}
		state[name] = visiting
		set := map[string]bool{name: true}
		for _, i := range c.Graph[name] {
			if err := visit(i, append(path, name)); err != nil {
				return err
			}
			for _, x := range out.closure[i] {
				set[x] = true
			}
		}
		state[name] = done
		out.closure[name] = slices.Sorted(maps.Keys(set))
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(c.Graph)) {
		if err := visit(name, nil); err != nil {
			return capabilityClosure{}, err
		}
	}
	return out, nil
}

// unknown returns the capabilities of held (a claim value) that the graph
// does not know, for checking a service client's claims at New.
func (cc capabilityClosure) unknown(held any) []string {
	var out []string
	for _, h := range capabilityList(held) {
		if _, ok := cc.closure[h]; !ok {
			out = append(out, h)
		}
	}
	return out
}

// expand returns claims with the capability claim replaced by the sorted
// closure of what it holds. claims is not modified. A claim value that is
// neither a string nor a list of strings is left as it is.
func (cc capabilityClosure) expand(claims map[string]any) map[string]any {
	held, ok := claims[cc.claim]
	if cc.closure == nil || !ok {
		return claims
	}
	list := capabilityList(held)
	if list == nil {
		return claims
	}
	set := map[string]bool{}
	for _, h := range list {
		set[h] = true
		for _, x := range cc.closure[h] {
			set[x] = true
		}
	}
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		out[k] = v
	}
	out[cc.claim] = slices.Sorted(maps.Keys(set))
	return out
}

// capabilityList reads a claim value as a list of capabilities: a string is
// one, a list of strings many; anything else is none (nil).
func capabilityList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []string:
		return slices.Clone(x)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	return nil
}
