package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one sub-command: its name, a line for the overview, and its
// help: usage, what it does and examples (its flags are added from its
// flag set).
type command struct {
	name, summary, help string
	run                 func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// commands lists every sub-command, in the order the overview shows them.
// It is filled in init: runHelp refers back to it through run.
var commands []command

func init() {
	commands = []command{
		{"quickstart", "a server for trying Keystile out (the default command)", helpQuickstart,
			func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
				return runQuickstart(ctx, args, stdout, stderr)
			}},
		{"serve", "run the server from a configuration file", helpServe,
			func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
				return runServe(ctx, args, stdout, stderr)
			}},
		{"dev", "a development server: no passwords, any client, loopback only", helpDev,
			func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
				return runDev(ctx, args, stdout, stderr)
			}},
		{"check", "check a configuration as serve would, without starting", helpCheck,
			func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
				return runCheck(ctx, args, stdout, stderr)
			}},
		{"reload", "make the server of a configuration reload its clients, key and users files", helpReload,
			func(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
				return runReload(args, stdout, stderr)
			}},
		{"hash-password", "print an argon2id hash of a password, for the users file", helpHashPassword,
			func(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
				return runHashPassword(args, stdin, stdout, stderr)
			}},
		{"client-secret", "print a new client secret and its hash, for the configuration", helpClientSecret,
			func(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
				return runClientSecret(args, stdout, stderr)
			}},
		{"rotate-key", "put a new signing key first in the key file", helpRotateKey,
			func(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
				return runRotateKey(args, stdout, stderr)
			}},
		{"version", "print the version and VCS revision", helpVersion,
			func(_ context.Context, args []string, _ io.Reader, stdout, _ io.Writer) error {
				return runVersion(args, stdout)
			}},
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func commandNames() []string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return names
}

// overview is `keystile help`: every command in one line.
func overview() string {
	var b strings.Builder
	b.WriteString("Keystile, a minimal OAuth 2 authorization server with PKCE.\n\nUsage:\n  keystile [COMMAND] [FLAGS]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-14s %s\n", c.name, c.summary)
	}
	b.WriteString(`  help           this overview; 'keystile help COMMAND' for a command's flags and examples

With no command, keystile starts the quickstart on http://127.0.0.1:9000.
'keystile --version' prints the version. Secrets are read from files, the
environment or stdin, never from the command line.
`)
	return b.String()
}

// commandHelp is `keystile help COMMAND` and `keystile COMMAND --help`.
func commandHelp(c command, fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString(c.help)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString("\nFlags (-name and --name are the same):\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return b.String()
}

const helpQuickstart = `Usage:
  keystile [quickstart] [--listen ADDR] [--dir DIR] [--log-requests]

Start a QUICKSTART for trying Keystile out (not for production): a demo
client, a demo user whose password is printed, and a demo page, on
http://127.0.0.1:9000 unless --listen or KEYSTILE_LISTEN says otherwise. It
listens on loopback only. Its files (keystile-quickstart.db,
keystile-quickstart-key.pem) go in DIR (default: the working directory).

Examples:
  keystile
  keystile --listen 127.0.0.1:9100 --dir /tmp/keystile-try
`

const helpServe = `Usage:
  keystile serve --config FILE [--listen ADDR]

Run the server from a YAML configuration file (or KEYSTILE_CONFIG); the
README's "Configuration reference" lists every key. SIGINT or SIGTERM stops
it gracefully. 'keystile reload --config FILE' (or SIGHUP) reloads
signing.key_file and users_file, each only if all of it is valid; the HS256
secret is read at start only. With pid_file set, the server writes its
process id there while it runs, which is how reload finds it.

Every scalar setting can be overridden from the environment:
  KEYSTILE_ISSUER  KEYSTILE_AUDIENCE  KEYSTILE_LISTEN  KEYSTILE_STORE
  KEYSTILE_SIGNING_ALGORITHM  KEYSTILE_SIGNING_KEY_FILE
  KEYSTILE_SIGNING_SECRET_FILE  KEYSTILE_SIGNING_SECRET (the HS256 secret itself)
  KEYSTILE_TOKENS_ACCESS_TTL  KEYSTILE_TOKENS_CODE_TTL  KEYSTILE_TOKENS_LOGIN_TTL
  KEYSTILE_TOKENS_SESSION_TTL  KEYSTILE_TOKENS_REFRESH_IDLE_TTL
  KEYSTILE_TOKENS_REFRESH_MAX_TTL  KEYSTILE_TOKENS_DEVICE_CODE_TTL
  KEYSTILE_USERS_FILE  KEYSTILE_PID_FILE
  KEYSTILE_LOG_LEVEL  KEYSTILE_PRODUCT_NAME  KEYSTILE_SIGNING_ID_TOKEN_KEY_FILE
  KEYSTILE_BRANDING_PRODUCT_NAME  KEYSTILE_BRANDING_LOGO_FILE
  KEYSTILE_BRANDING_ACCENT_COLOR  KEYSTILE_TEMPLATES_DIR
  KEYSTILE_TRUSTED_PROXIES (comma-separated addresses or CIDR prefixes)
  KEYSTILE_LOGIN_THROTTLE_ATTEMPTS  KEYSTILE_LOGIN_THROTTLE_MAX_DELAY
  KEYSTILE_LOGIN_THROTTLE_DAILY_LIMIT  KEYSTILE_LOGIN_THROTTLE_PER_ADDRESS
  KEYSTILE_LOGIN_THROTTLE_KNOWN_DEVICE_TTL
Relative paths in the file are relative to the file's directory; relative
paths in the environment are relative to the working directory.

Examples:
  keystile serve --config /etc/keystile/keystile.yaml
  KEYSTILE_LOG_LEVEL=debug keystile serve --config keystile.yaml --listen 127.0.0.1:9001
`

const helpCheck = `Usage:
  keystile check --config FILE

Check a configuration as serve would before it listens: the file (every
problem at once, unknown keys among them), the users file, the signing and
ID-token keys, the store (opened, which brings an existing database's schema
up to date), the clients, the logo and the templates. Nothing is created: a
key file or SQLite database that serve would create is reported as such.
Prints a one-screen summary and any warnings, and exits 1 on a problem.

Examples:
  keystile check --config keystile.yaml
  KEYSTILE_STORE=postgres://keystile@db/keystile keystile check --config keystile.yaml
`

const helpReload = `Usage:
  keystile reload --config FILE

Make the server running with this configuration reload its clients, its
signing key file and its users file (the same as sending it SIGHUP), after
checking the configuration. It finds the server through the configuration's
pid_file,
which serve locks while it runs: a server of another configuration, or a
process that reused a stale pid, is never signalled. Whether the reload
worked is in the server's log.

Examples:
  keystile rotate-key --config keystile.yaml && keystile reload --config keystile.yaml
  keystile reload --config /etc/keystile/keystile.yaml
`

const helpHashPassword = `Usage:
  keystile hash-password < FILE

Print the argon2id hash of a password, for password_hash in the users file.
The password is read from stdin (one line), or asked for twice on a terminal.

Examples:
  keystile hash-password
  keystile hash-password < alice-password.txt
`

const helpClientSecret = `Usage:
  keystile client-secret

Print a new random client secret (give it to the client) and the sha256 form
that goes into the configuration as the client's secret_hash.

Example:
  keystile client-secret
`

const helpRotateKey = `Usage:
  keystile rotate-key --config FILE [--keep DURATION]

Put a new signing key first in signing.key_file and retire the old one,
which keeps verifying until its tokens expire. Running servers use the new
key after 'keystile reload --config FILE' (or SIGHUP), or a restart.

With the keys in the store (no signing.key_file), it adds the next key
there instead: every server publishes it within signing.refresh_every and
signs with it after signing.prepublish, with no reload. --keep applies to
key files only.

Examples:
  keystile rotate-key --config keystile.yaml && keystile reload --config keystile.yaml
  keystile rotate-key --config keystile.yaml --keep 1h
`

const helpVersion = `Usage:
  keystile version
  keystile --version

Print the module version, the VCS revision the binary was built from (and
whether the tree had local changes), and the Go version.
`
