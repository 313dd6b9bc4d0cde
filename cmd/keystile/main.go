// Command keystile runs a Keystile OAuth 2 authorization server.
//
//	keystile                        a quickstart on http://127.0.0.1:9000, not for production
//	keystile serve --config FILE    the server, configured by a YAML file and KEYSTILE_* variables
//	keystile hash-password          an argon2id hash for the users file, password read from stdin
//	keystile client-secret          a new client secret and the hash the config file stores
//	keystile rotate-key             a new signing key in the key file; SIGHUP makes servers use it
//
// Secrets are read from files, the environment or stdin, never from the
// command line, where other users of the machine can read them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed: bad configuration, a port in use…
	exitUsage = 2 // the command line itself is wrong
)

const usage = `Keystile, a minimal OAuth 2 authorization server with PKCE.

Usage:
  keystile [quickstart] [--listen ADDR] [--dir DIR]
      Start a QUICKSTART for trying Keystile out (not for production): a demo
      client, a demo user whose password is printed, and a demo page, on
      http://127.0.0.1:9000 unless --listen or KEYSTILE_LISTEN says otherwise.
      Its files (keystile-quickstart.db, keystile-quickstart-key.pem) go in DIR
      (default: the working directory).

  keystile serve --config FILE [--listen ADDR]
      Run the server from a YAML configuration file (or KEYSTILE_CONFIG).
      SIGINT or SIGTERM stops it gracefully; SIGHUP reloads signing.key_file
      and users_file (each only if all of it is valid; the HS256 secret is
      read at start only).
      Every scalar setting can be overridden from the environment:
        KEYSTILE_ISSUER  KEYSTILE_AUDIENCE  KEYSTILE_LISTEN  KEYSTILE_STORE
        KEYSTILE_SIGNING_ALGORITHM  KEYSTILE_SIGNING_KEY_FILE
        KEYSTILE_SIGNING_SECRET_FILE  KEYSTILE_SIGNING_SECRET (the HS256 secret itself)
        KEYSTILE_TOKENS_ACCESS_TTL  KEYSTILE_TOKENS_CODE_TTL  KEYSTILE_TOKENS_LOGIN_TTL
        KEYSTILE_TOKENS_SESSION_TTL  KEYSTILE_TOKENS_REFRESH_IDLE_TTL
        KEYSTILE_TOKENS_REFRESH_MAX_TTL  KEYSTILE_USERS_FILE
        KEYSTILE_LOG_LEVEL  KEYSTILE_PRODUCT_NAME  KEYSTILE_SIGNING_ID_TOKEN_KEY_FILE
        KEYSTILE_BRANDING_PRODUCT_NAME  KEYSTILE_BRANDING_LOGO_FILE
        KEYSTILE_BRANDING_ACCENT_COLOR  KEYSTILE_TEMPLATES_DIR
        KEYSTILE_TRUSTED_PROXIES (comma-separated addresses or CIDR prefixes)
      Relative paths in the file are relative to the file's directory; relative
      paths in the environment are relative to the working directory.

  keystile hash-password
      Print the argon2id hash of a password, for password_hash in the users
      file. The password is read from stdin, or asked for twice on a terminal.

  keystile client-secret
      Print a new random client secret and the sha256 form that goes into the
      configuration as the client's secret_hash.

  keystile rotate-key --config FILE [--keep DURATION]
      Put a new signing key first in signing.key_file and retire the old one,
      which keeps verifying until its tokens expire. Running servers reload
      the key file on SIGHUP.

  keystile help
      Print this help.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a sub-command and returns the process's exit code. ctx
// is cancelled by SIGINT or SIGTERM; long-running commands shut down then.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd, rest := "quickstart", args
	if len(args) > 0 && !isFlag(args[0]) {
		cmd, rest = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "quickstart":
		err = runQuickstart(ctx, rest, stdout, stderr)
	case "serve":
		err = runServe(ctx, rest, stdout, stderr)
	case "check":
		err = runCheck(ctx, rest, stdout, stderr)
	case "hash-password":
		err = runHashPassword(rest, stdin, stdout, stderr)
	case "client-secret":
		err = runClientSecret(rest, stdout, stderr)
	case "rotate-key":
		err = runRotateKey(rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "keystile: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "keystile %s: %v\n\nRun 'keystile help' for usage.\n", cmd, err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "keystile %s: %v\n", cmd, err)
		return exitError
	}
}

func isFlag(arg string) bool { return len(arg) > 1 && arg[0] == '-' }

// usageError is a mistake on the command line (exit code 2), as opposed to a
// failure of the command itself (exit code 1).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parseFlags parses a sub-command's flags. Go's flag package takes both -name
// and --name. Flag errors become usage errors; -h and --help return
// flag.ErrHelp. Positional arguments are refused without being echoed: no
// sub-command takes any, and the one someone types by mistake may well be a
// password.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard) // run prints the one usage text
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{"this command takes no arguments, only flags"}
	}
	return nil
}
