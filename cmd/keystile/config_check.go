package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/check"
)

// Checking a configuration: the checker that collects every problem and
// warning, and the checks of the settings that have no file of their own.

// checker collects problems, one clear line each, and warnings: what
// starts but deserves a look.
type checker struct {
	dir       string // the configuration file's directory
	listenKey string // how problems name the listen setting
	problems  []string
	warnings  []string
}

func (c *checker) addf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) warnf(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

// resolve makes a path from the configuration file relative to its directory.
func (c *checker) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// name returns how a problem refers to a setting: its key in the file, and
// the variable if that is where the value came from.
func name(key, env string, fromEnv map[string]bool) string {
	if fromEnv[env] {
		return key + " (from " + env + ")"
	}
	return key
}

func (c *checker) check(fc fileConfig, envSecret string, fromEnv map[string]bool) *settings {
	s := &settings{
		Issuer:   fc.Issuer,
		Audience: fc.Audience,
		Listen:   fc.Listen,
	}
	if fc.ProductName != "" {
		// Config.ProductName and Branding.ProductName said the same thing
		// twice; only the branding one is left.
		c.addf("%s: moved to branding.product_name (KEYSTILE_BRANDING_PRODUCT_NAME); write it there", name("product_name", "KEYSTILE_PRODUCT_NAME", fromEnv))
	}

	// issuer: keystile.New checks it again; checking here puts the problem
	// in the same list as the others.
	if fc.Issuer == "" {
		c.addf("issuer is required (the https URL of this server, e.g. https://auth.example.com)")
	} else if _, err := check.Issuer(fc.Issuer); err != nil {
		c.addf("%s: %v", name("issuer", "KEYSTILE_ISSUER", fromEnv), err)
	}

	if s.Listen == "" {
		s.Listen = defaultListen
	}
	c.hostPort(c.listenKey, s.Listen)
	if s.MetricsListen = fc.MetricsListen; s.MetricsListen != "" {
		key := name("metrics_listen", "KEYSTILE_METRICS_LISTEN", fromEnv)
		c.hostPort(key, s.MetricsListen)
		if s.MetricsListen == s.Listen {
			c.addf("%s: %s is also listen; metrics are never served on the public listener", key, s.MetricsListen)
		}
	}

	storeRaw := fc.Store
	if storeRaw == "" {
		storeRaw = defaultStore
	}
	if spec, err := parseStoreSpec(storeRaw); err != nil {
		c.addf("%s: %v", name("store", "KEYSTILE_STORE", fromEnv), err)
	} else {
		spec.Path = c.resolve(spec.Path)
		s.Store = spec
	}

	c.checkSigning(s, fc.Signing, envSecret, fromEnv)

	s.AccessTTL = c.duration(name("tokens.access_ttl", "KEYSTILE_TOKENS_ACCESS_TTL", fromEnv), fc.Tokens.AccessTTL, keystile.DefaultAccessTokenTTL, maxAccessTTL)
	s.CodeTTL = c.duration(name("tokens.code_ttl", "KEYSTILE_TOKENS_CODE_TTL", fromEnv), fc.Tokens.CodeTTL, keystile.DefaultCodeTTL, maxCodeTTL)
	s.LoginTTL = c.duration(name("tokens.login_ttl", "KEYSTILE_TOKENS_LOGIN_TTL", fromEnv), fc.Tokens.LoginTTL, 0, maxLoginTTL)
	if fc.Tokens.SessionTTL == "off" {
		s.SessionTTL = -1
	} else {
		s.SessionTTL = c.duration(name("tokens.session_ttl", "KEYSTILE_TOKENS_SESSION_TTL", fromEnv), fc.Tokens.SessionTTL, 0, maxSessionTTL)
	}
	s.RefreshIdleTTL = c.duration(name("tokens.refresh_idle_ttl", "KEYSTILE_TOKENS_REFRESH_IDLE_TTL", fromEnv), fc.Tokens.RefreshIdleTTL, 0, maxRefreshTTL)
	s.RefreshMaxTTL = c.duration(name("tokens.refresh_max_ttl", "KEYSTILE_TOKENS_REFRESH_MAX_TTL", fromEnv), fc.Tokens.RefreshMaxTTL, 0, maxRefreshTTL)
	s.DeviceCodeTTL = c.duration(name("tokens.device_code_ttl", "KEYSTILE_TOKENS_DEVICE_CODE_TTL", fromEnv), fc.Tokens.DeviceCodeTTL, 0, maxLoginTTL)
	if s.RefreshIdleTTL > 0 && s.RefreshMaxTTL > 0 && s.RefreshIdleTTL > s.RefreshMaxTTL {
		c.addf("tokens.refresh_idle_ttl (%s) is longer than tokens.refresh_max_ttl (%s)", s.RefreshIdleTTL, s.RefreshMaxTTL)
	}

	s.DrainDelay = c.duration(name("drain_delay", "KEYSTILE_DRAIN_DELAY", fromEnv), fc.DrainDelay, 0, maxDrainDelay)
	if fc.LogFlush != "off" {
		s.LogFlush = c.duration(name("log_flush", "KEYSTILE_LOG_FLUSH", fromEnv), fc.LogFlush, defaultLogFlush, maxLogFlush)
	}

	s.UsersFile = c.resolve(fc.UsersFile)
	s.PIDFile = c.resolve(fc.PIDFile)
	s.Users = newUserDB()
	if s.UsersFile != "" {
		users, err := loadUsers(s.UsersFile)
		var pl *problemList
		switch {
		case errors.As(err, &pl):
			for _, p := range pl.problems {
				c.addf("%s %s: %s", name("users_file", "KEYSTILE_USERS_FILE", fromEnv), pl.file, p)
			}
		case err != nil:
			c.addf("%s: %v", name("users_file", "KEYSTILE_USERS_FILE", fromEnv), err)
		default:
			s.Users = users
		}
	}

	if fc.LogLevel != "" {
		if err := s.LogLevel.UnmarshalText([]byte(fc.LogLevel)); err != nil {
			c.addf("%s: %q is not one of debug, info, warn, error", name("log_level", "KEYSTILE_LOG_LEVEL", fromEnv), fc.LogLevel)
		}
	}

	s.Clients = c.checkClients(fc.Clients)
	if err := s.Users.checkClientIDs(s.Clients); err != nil {
		c.addf("%v", err)
	}
	c.checkResources(s, fc)
	c.checkIDTokenKeyFile(s, fc.Signing.IDTokenKeyFile, fromEnv)
	c.checkBranding(s, fc, fromEnv)
	s.LoginThrottle = c.checkLoginThrottle(fc.LoginThrottle, fromEnv)
	return s
}

// Bounds on login_throttle: generous, but enough to catch a typo that
// would leave the login form unthrottled in all but name.
const (
	maxLoginAttempts   = 1000
	maxLoginDailyLimit = 100_000
	maxLoginPerAddress = 10_000
	maxLoginDelay      = 24 * time.Hour
	maxKnownDeviceTTL  = 365 * 24 * time.Hour
	// defaultLoginAttempts is keystile.LoginThrottle's default Attempts,
	// for the check against daily_limit (TestLoginThrottleSettings holds
	// the two to the same number).
	defaultLoginAttempts = 5
)

// checkLoginThrottle reads login_throttle:. An empty setting is left zero,
// which the library takes as its default (see the README).
func (c *checker) checkLoginThrottle(lc loginThrottleConfig, fromEnv map[string]bool) keystile.LoginThrottle {
	var t keystile.LoginThrottle
	t.Attempts = c.count(name("login_throttle.attempts", "KEYSTILE_LOGIN_THROTTLE_ATTEMPTS", fromEnv), lc.Attempts, maxLoginAttempts)
	t.MaxDelay = c.duration(name("login_throttle.max_delay", "KEYSTILE_LOGIN_THROTTLE_MAX_DELAY", fromEnv), lc.MaxDelay, 0, maxLoginDelay)
	t.DailyLimit = c.count(name("login_throttle.daily_limit", "KEYSTILE_LOGIN_THROTTLE_DAILY_LIMIT", fromEnv), lc.DailyLimit, maxLoginDailyLimit)
	t.PerAddress = c.count(name("login_throttle.per_address", "KEYSTILE_LOGIN_THROTTLE_PER_ADDRESS", fromEnv), lc.PerAddress, maxLoginPerAddress)
	if lc.KnownDeviceTTL == "off" {
		t.KnownDeviceTTL = -1
	} else {
		t.KnownDeviceTTL = c.duration(name("login_throttle.known_device_ttl", "KEYSTILE_LOGIN_THROTTLE_KNOWN_DEVICE_TTL", fromEnv), lc.KnownDeviceTTL, 0, maxKnownDeviceTTL)
	}
	attempts := t.Attempts
	if attempts == 0 {
		attempts = defaultLoginAttempts
	}
	if t.DailyLimit > 0 && t.DailyLimit < attempts {
		c.addf("login_throttle.daily_limit (%d) is below login_throttle.attempts (%d)", t.DailyLimit, attempts)
	}
	return t
}

// count parses a whole number in [1, limit]; an empty one is 0, the
// library's default.
func (c *checker) count(key, raw string, limit int) int {
	if raw == "" {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < 1 || n > limit {
		c.addf("%s: %q is not a whole number from 1 to %d", key, raw, limit)
		return 0
	}
	return n
}

// hostPort checks a listening address.
func (c *checker) hostPort(key, addr string) {
	if _, port, err := net.SplitHostPort(addr); err != nil {
		c.addf("%s: %q is not HOST:PORT", key, addr)
	} else if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		c.addf("%s: port %q is not a number from 0 to 65535", key, port)
	}
}

// duration parses a Go duration string such as "15m" within (0, limit];
// an empty one is def.
func (c *checker) duration(key, raw string, def, limit time.Duration) time.Duration {
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		c.addf("%s: %q is not a duration (write it like 15m, 90s or 1h30m)", key, raw)
		return def
	}
	if d <= 0 || d > limit {
		c.addf("%s: %s is out of range (more than 0, at most %s)", key, d, limit)
		return def
	}
	return d
}

// checkClients turns the clients into keystile.Client values, checking each
// with keystile.ValidateClient, the same check keystile.New makes.
func (c *checker) checkClients(ccs []clientConfig) []keystile.Client {
	clients := make([]keystile.Client, 0, len(ccs))
	seen := map[string]int{}
	for i, cc := range ccs {
		cl := keystile.Client{
			ID:             cc.ID,
			Name:           cc.Name,
			Public:         cc.Public,
			SecretHash:     cc.SecretHash,
			RedirectURIs:   cc.RedirectURIs,
			AllowedOrigins: cc.AllowedOrigins,
			Scopes:         cc.Scopes,
			GrantTypes:     cc.GrantTypes,
			Claims:         cc.Claims,
			Resources:      cc.Resources,

			PostLogoutRedirectURIs: cc.PostLogoutRedirectURIs,
		}
		if err := keystile.ValidateClient(cl); err != nil {
			c.addf("clients[%d]: %v", i, err)
			continue
		}
		if j, dup := seen[cl.ID]; dup {
			c.addf("clients[%d]: client id %q is also clients[%d]", i, cl.ID, j)
			continue
		}
		seen[cl.ID] = i
		if _, err := json.Marshal(cl.Claims); err != nil {
			c.addf("clients[%d] (%s): claims cannot be put into a token: %v", i, cl.ID, err)
			continue
		}
		// As for users: a claim the server sets itself is refused here rather
		// than silently dropped from every token (docs/security.md §9).
		if name := registeredClaimIn(cl.Claims); name != "" {
			c.addf("clients[%d] (%s): claims: %q is set by the server and cannot be a custom claim", i, cl.ID, name)
			continue
		}
		clients = append(clients, cl)
	}
	return clients
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// registeredClaimIn returns the first (in sorted order) claim name that the
// server sets itself, or "".
func registeredClaimIn(claims map[string]any) string {
	for _, name := range slices.Sorted(maps.Keys(claims)) {
		if keystile.IsRegisteredClaim(name) {
			return name
		}
	}
	return ""
}
