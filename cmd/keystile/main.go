// Command keystile runs a Keystile OAuth 2 authorization server.
//
//	keystile                        a quickstart on http://127.0.0.1:9000, not for production
//	keystile serve --config FILE    the server, configured by a YAML file and KEYSTILE_* variables
//	keystile check --config FILE    everything serve checks, without starting
//	keystile reload --config FILE   makes the server of that configuration reload its clients, key and users files
//	keystile hash-password          an argon2id hash for the users file, password read from stdin
//	keystile client-secret          a new client secret and the hash the config file stores
//	keystile dev                    a development server: no passwords, any client, loopback only
//	keystile rotate-key             a new signing key in the key file; reload makes servers use it
//	keystile version                the module version and VCS revision
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
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed: bad configuration, a port in use…
	exitUsage = 2 // the command line itself is wrong
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a sub-command and returns the process's exit code. ctx
// is cancelled by SIGINT or SIGTERM; long-running commands shut down then.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name, rest := "quickstart", args
	if len(args) > 0 && !isFlag(args[0]) {
		name, rest = args[0], args[1:]
	}
	switch {
	case len(args) == 0:
	case args[0] == "--version" || args[0] == "-version":
		name, rest = "version", args[1:]
	case args[0] == "--help" || args[0] == "-h" || args[0] == "-help":
		fmt.Fprint(stdout, overview())
		return exitOK
	case name == "help":
		return runHelp(ctx, rest, stdout, stderr)
	}
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "keystile: unknown command %q%s\nRun 'keystile help' for the list of commands.\n", name, didYouMean(name, commandNames(), ""))
		return exitUsage
	}
	err := cmd.run(ctx, rest, stdin, stdout, stderr)
	var ue usageError
	var hr helpRequest
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &hr):
		fmt.Fprint(stdout, commandHelp(cmd, hr.fs))
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "keystile %s: %v\n\nRun 'keystile help %s' for its flags and examples.\n", cmd.name, err, cmd.name)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "keystile %s: %v\n", cmd.name, err)
		return exitError
	}
}

// runHelp is `keystile help [COMMAND]`. A command's help is what its own
// --help prints: the command parses its flags first, so it stops there.
func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		fmt.Fprint(stdout, overview())
		return exitOK
	case 1:
		if _, ok := lookup(args[0]); ok {
			return run(ctx, []string{args[0], "--help"}, strings.NewReader(""), stdout, stderr)
		}
		fmt.Fprintf(stderr, "keystile help: unknown command %q%s\nRun 'keystile help' for the list of commands.\n", args[0], didYouMean(args[0], commandNames(), ""))
	default:
		fmt.Fprint(stderr, "keystile help: give one command, e.g. keystile help serve\n")
	}
	return exitUsage
}

func isFlag(arg string) bool { return len(arg) > 1 && arg[0] == '-' }

// usageError is a mistake on the command line (exit code 2), as opposed to a
// failure of the command itself (exit code 1).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// helpRequest is -h or --help: run prints the command's help, with the
// flags of fs.
type helpRequest struct{ fs *flag.FlagSet }

func (helpRequest) Error() string { return "help requested" }

// parseFlags parses a sub-command's flags. Go's flag package takes both -name
// and --name. Flag errors become usage errors, with the closest flag the
// command has; -h and --help become a helpRequest. Positional arguments are
// refused without being echoed: no sub-command takes any, and the one
// someone types by mistake may well be a password.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard) // run prints the command's help
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpRequest{fs}
		}
		msg := err.Error()
		if bad, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
			var names []string
			fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
			msg = fmt.Sprintf("unknown flag --%s%s", bad, didYouMean(bad, names, "--"))
		}
		return usageError{msg}
	}
	if fs.NArg() > 0 {
		return usageError{"this command takes no arguments, only flags"}
	}
	return nil
}

// parseWithConfig defines --config (default: KEYSTILE_CONFIG) on fs, parses
// args with parseFlags and returns the configuration's path, which the
// commands that take it require.
func parseWithConfig(fs *flag.FlagSet, args []string) (string, error) {
	path := fs.String("config", os.Getenv("KEYSTILE_CONFIG"), "the YAML configuration file")
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if *path == "" {
		return "", usageError{"--config FILE is required (or set KEYSTILE_CONFIG)"}
	}
	return *path, nil
}
